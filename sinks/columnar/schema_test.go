package columnar

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseSchema(t *testing.T) {
	s, err := ParseSchema("click.yaml", []byte(`
# schemas/click.yaml
columns:
  - { name: user_id,  type: string }
  - { name: ts,       type: timestamp, from: .timestamp }
  - { name: amount,   type: "decimal(10,2)" }
  - { name: quantity, type: int32 }
  - { name: tags,     type: "list<string>" }
  - { name: device,   type: "struct<os:string,version:int32>" }
  - { name: attrs,    type: "map<string,string>" }
case_insensitive: true
`))
	require.NoError(t, err)
	require.True(t, s.CaseInsensitive)
	var got []string
	for _, c := range s.Columns {
		got = append(got, c.Name+" "+c.Type.String()+" "+c.From)
	}
	require.Equal(t, []string{
		"user_id string ", "ts timestamp .timestamp", "amount decimal(10,2) ", "quantity int32 ",
		"tags list<string> ", "device struct<os:string,version:int32> ", "attrs map<string,string> ",
	}, got)
}

func TestParseSchema_Errors(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"unknown type", "columns:\n  - {name: a, type: int}\n  - {name: b, type: strin}\n",
			[]string{`s.yaml:2:21: columns[0].type: type "int"`, `s.yaml:3:21: columns[1].type: type "strin"`}},
		{"missing columns", "case_insensitive: true\n", []string{"s.yaml:1:1: columns: missing"}},
		{"unknown field", "columns:\n  - {name: a, type: string, kind: x}\n", []string{"s.yaml:2:29: columns[0].kind: unknown field"}},
		{"top unknown", "columns: [{name: a, type: string}]\nextra: 1\n", []string{"s.yaml:2:1: extra: unknown field"}},
		{"duplicate", "columns:\n  - {name: a, type: string}\n  - {name: a, type: int64}\n", []string{"s.yaml:3:5: columns[1].name: duplicate column"}},
		{"bad jq", "columns:\n  - {name: a, type: string, from: '.a |'}\n", []string{"s.yaml:2:35: columns[0].from: jq:"}},
		{"no name", "columns:\n  - {type: string}\n", []string{"s.yaml:2:5: columns[0].name: missing"}},
		{"bad decimal", "columns:\n  - {name: a, type: 'decimal(40,2)'}\n", []string{"columns[0].type", "precision 40"}},
		{"binary map key", "columns:\n  - {name: a, type: 'map<binary,int32>'}\n", []string{"map key type binary"}},
		{"not yaml", "columns: [", []string{"s.yaml: yaml:"}},
		{"empty", "", []string{"empty schema"}},
		{"bool", "columns: [{name: a, type: string}]\ncase_insensitive: maybe\n", []string{"s.yaml:2:19: case_insensitive: want true or false"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSchema("s.yaml", []byte(tc.doc))
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestLoadSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.yaml")
	require.NoError(t, os.WriteFile(path, []byte("columns: [{name: a, type: 'list<int64>'}]\n"), 0o600))
	s, err := LoadSchema(path)
	require.NoError(t, err)
	require.Equal(t, path, s.Name)
	_, err = LoadSchema(filepath.Join(t.TempDir(), "missing.yaml"))
	require.ErrorContains(t, err, "schema:")
}

func TestParseType(t *testing.T) {
	tests := []struct{ in, want string }{
		{"string", "string"},
		{" DECIMAL( 38 , 0 ) ", "decimal(38,0)"},
		{"array<int32>", "list<int32>"},
		{"map<date, list<struct<a:binary>>>", "map<date,list<struct<a:binary>>>"},
		{"struct<`user-agent`:string,`a``b`:boolean>", "struct<`user-agent`:string,`a``b`:boolean>"},
	}
	for _, tc := range tests {
		typ, err := ParseType(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, typ.String())
	}
	for _, bad := range []string{"", "list<", "list<string", "struct<>", "struct<a string>", "struct<a:int32,a:int32>",
		"decimal(3,4)", "decimal(0,0)", "map<string>", "string extra", "struct<``:int32>", "struct<`a:int32>"} {
		_, err := ParseType(bad)
		require.Error(t, err, bad)
	}
}

func FuzzParseType(f *testing.F) {
	for _, s := range []string{"string", "decimal(10,2)", "list<map<string,struct<a:int32,`b c`:date>>>", "struct<a:", "map<,>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, err := ParseType(s)
		if err != nil {
			return
		}
		// what parses prints back to an equivalent type
		again, err := ParseType(typ.String())
		require.NoError(t, err, typ.String())
		require.Equal(t, typ.String(), again.String())
	})
}

func FuzzParseSchema(f *testing.F) {
	f.Add([]byte("columns:\n  - {name: a, type: string, from: .x}\ncase_insensitive: true\n"))
	f.Add([]byte("columns: [{name: a, type: 'struct<b:list<int32>>'}, {name: b}]"))
	f.Add([]byte("columns: 3"))
	f.Add([]byte("- a\n- b"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := ParseSchema("f.yaml", doc)
		if err != nil {
			return
		}
		require.NotEmpty(t, s.Columns)
		_, err = NewEncoder(Parquet, "snappy", s)
		require.NoError(t, err)
		_, err = NewEncoder(ORC, "snappy", s)
		require.NoError(t, err)
	})
}

package configs

import (
	"testing"

	"github.com/stretchr/testify/require"
)

const pgHead = `stores:
  wh: { type: postgres, dsn: "postgres://u@127.0.0.1/db" }
pipelines:
  - name: p
    destinations:
      - name: d
        type: postgres
        store: wh
`

// Columns are {column: jq} or {column: {query, type}}, in file order, with
// create_table; bad tables, types and empty mappings name their line.
func TestColumns_FormsAndErrors(t *testing.T) {
	c := mustParse(t, pgHead+`        table: app.events
        create_table: true
        columns:
          id: .id
          ts: { query: .ts, type: timestamptz }
          amount: { query: .amount, type: "numeric(12, 2)" }
`, nil)
	d := c.Pipelines[0].Destinations[0]
	require.True(t, d.CreateTable)
	require.Equal(t, Columns{
		{Name: "id", Query: ".id"},
		{Name: "ts", Query: ".ts", Type: "timestamptz"},
		{Name: "amount", Query: ".amount", Type: "numeric(12, 2)"},
	}, d.Columns)

	// No columns: the whole record into a jsonb column "data".
	c = mustParse(t, pgHead+"        table: t\n", nil)
	require.Equal(t, Columns{DefaultPostgresColumn}, c.Pipelines[0].Destinations[0].Columns)

	tests := []struct{ name, src, want string }{
		{"bad table", "        table: a.b.c\n        columns: { id: .id }\n", `p.yaml:9:16: pipelines[0].destinations[0].table: invalid table "a.b.c"`},
		{"type with SQL in it", "        table: t\n        columns: { id: { query: .id, type: \"text); DROP TABLE x; --\" } }\n",
			`pipelines[0].destinations[0].columns.id.type: invalid SQL type`},
		{"unknown column key", "        table: t\n        columns: { id: { query: .id, tpye: text } }\n", `unknown key "tpye"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := parseErrs(t, pgHead+tc.src, nil)
			require.NotEmpty(t, errs)
			require.Contains(t, errs[0], tc.want)
		})
	}
}

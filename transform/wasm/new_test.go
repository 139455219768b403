package wasm

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero/api"
)

// tinyFunc is one function of a hand-assembled test module.
type tinyFunc struct {
	export          string
	params, results []api.ValueType
	body            []byte // instructions, without the final end
}

// tinyModule assembles a minimal WebAssembly binary: the given functions,
// an optional memory of one page exported as "memory", and imports of
// functions of type () -> () given as "module.name".
func tinyModule(funcs []tinyFunc, memory bool, imports ...string) []byte {
	uleb := func(b []byte, v uint32) []byte {
		for {
			c := byte(v & 0x7f)
			v >>= 7
			if v != 0 {
				b = append(b, c|0x80)
				continue
			}
			return append(b, c)
		}
	}
	name := func(b []byte, s string) []byte { return append(uleb(b, uint32(len(s))), s...) }
	section := func(b []byte, id byte, n int, body []byte) []byte {
		content := append(uleb(nil, uint32(n)), body...)
		return append(uleb(append(b, id), uint32(len(content))), content...)
	}
	out := []byte("\x00asm\x01\x00\x00\x00")
	var types []byte // type 0 is () -> (), then one per function
	types = append(types, 0x60, 0, 0)
	for _, f := range funcs {
		types = append(types, 0x60)
		types = uleb(types, uint32(len(f.params)))
		types = append(types, f.params...)
		types = uleb(types, uint32(len(f.results)))
		types = append(types, f.results...)
	}
	out = section(out, 1, len(funcs)+1, types)
	if len(imports) > 0 {
		var imp []byte
		for _, i := range imports {
			mod, fn, _ := cut(i)
			imp = name(name(imp, mod), fn)
			imp = append(imp, 0x00, 0x00) // a function of type 0
		}
		out = section(out, 2, len(imports), imp)
	}
	var fidx []byte
	for i := range funcs {
		fidx = uleb(fidx, uint32(i+1))
	}
	out = section(out, 3, len(funcs), fidx)
	nexports := len(funcs)
	if memory {
		out = section(out, 5, 1, []byte{0x00, 0x01})
		nexports++
	}
	var exp []byte
	for i, f := range funcs {
		exp = name(exp, f.export)
		exp = uleb(append(exp, 0x00), uint32(len(imports)+i))
	}
	if memory {
		exp = append(name(exp, "memory"), 0x02, 0x00)
	}
	out = section(out, 7, nexports, exp)
	var code []byte
	for _, f := range funcs {
		body := append(append([]byte{0x00}, f.body...), 0x0b) // no locals
		code = append(uleb(code, uint32(len(body))), body...)
	}
	return section(out, 10, len(funcs), code)
}

func cut(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// abiFuncs are the three exports, answering with abi version v.
func abiFuncs(v byte) []tinyFunc {
	return []tinyFunc{
		{"hydrant_abi_version", nil, []api.ValueType{i32}, []byte{0x41, v}},
		{"hydrant_alloc", []api.ValueType{i32}, []api.ValueType{i32}, []byte{0x41, 0x10}},
		{"hydrant_process", []api.ValueType{i32, i32}, []api.ValueType{i64}, []byte{0x42, 0x00}},
	}
}

func TestNewRejects(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	wrongType := abiFuncs(1)
	wrongType[2].results = []api.ValueType{i32}
	wrongType[2].body = []byte{0x41, 0x00}
	command := append(abiFuncs(1), tinyFunc{"_start", nil, nil, nil})
	tests := []struct {
		name   string
		path   string
		memory int64
		msg    string
	}{
		{"missing file", filepath.Join(dir, "nope.wasm"), 0, "no such file"},
		{"not wasm", write("text.wasm", []byte("hello")), 0, "text.wasm"},
		{"no exports", write("empty.wasm", tinyModule(nil, true)), 0, "missing export hydrant_abi_version"},
		{"wrong signature", write("sig.wasm", tinyModule(wrongType, true)), 0, "export hydrant_process has type (i32, i32) -> (i32), want (i32, i32) -> (i64)"},
		{"no memory", write("nomem.wasm", tinyModule(abiFuncs(1), false)), 0, `missing exported memory "memory"`},
		{"abi version", write("v2.wasm", tinyModule(abiFuncs(2), true)), 0, "ABI version 2, the host speaks 1"},
		{"command module", write("cmd.wasm", tinyModule(command, true)), 0, "a command module"},
		{"foreign import", write("env.wasm", tinyModule(abiFuncs(1), true, "env.lookup")), 0, "imports env.lookup"},
		{"memory below a page", write("ok.wasm", tinyModule(abiFuncs(1), true)), 1000, "below one 64 KiB page"},
		{"go module above the limit", modules["sdkmod"], 1 << 20, "sdkmod.wasm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(t.Context(), Config{Module: tt.path, MemoryLimit: tt.memory, Cache: cache})
			require.ErrorIs(t, err, ErrModule)
			require.ErrorContains(t, err, tt.msg)
			require.Nil(t, p)
		})
	}
}

func TestNewAcceptsTinyModule(t *testing.T) {
	// The hand-assembled module is valid: the test of the rejections
	// above is not vacuous. Its empty answer is then a malformed frame.
	path := filepath.Join(t.TempDir(), "ok.wasm")
	require.NoError(t, os.WriteFile(path, tinyModule(abiFuncs(1), true), 0o600))
	p, err := New(t.Context(), Config{Module: path})
	require.NoError(t, err)
	defer p.Close(t.Context())
	_, err = p.Process(t.Context(), testRecords(1, 10))
	require.ErrorIs(t, err, ErrMalformed)
}

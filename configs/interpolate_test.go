package configs

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestInterpolate_Substitutes(t *testing.T) {
	env := map[string]string{"KEY": "secret", "EMPTY": "", "PORT": "9000"}
	tests := []struct {
		name, in, want string
	}{
		{"set", "a: ${KEY}", "a: secret"},
		{"default unused", "a: ${KEY:-x}", "a: secret"},
		{"default used when unset", "a: ${NOPE:-fallback value}", "a: fallback value"},
		{"default used when empty", "a: ${EMPTY:-d}", "a: d"},
		{"empty without default stays empty", "a: '${EMPTY}'", "a: ''"},
		{"empty default", "a: ${NOPE:-}", "a: "},
		{"escape", "a: $${KEY}", "a: ${KEY}"},
		{"lone dollar", "a: $5 and $$", "a: $5 and $$"},
		{"inside a word", "a: host:${PORT}/x", "a: host:9000/x"},
		{"comment line untouched", "# uses ${NOPE}\na: 1", "# uses ${NOPE}\na: 1"},
		{"trailing comment untouched", "a: 1 # ${NOPE}", "a: 1 # ${NOPE}"},
		{"hash inside quotes is not a comment", "a: \"x #${KEY}\"", "a: \"x #secret\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := &errorList{file: "f"}
			ip := interpolate([]byte(tt.in), func(k string) (string, bool) { v, ok := env[k]; return v, ok }, errs)
			require.Empty(t, errs.errs)
			require.Equal(t, tt.want, string(ip.out))
		})
	}
}

func TestInterpolate_Errors(t *testing.T) {
	src := "a: ${MISSING}\nb: [${ALSO_MISSING}, ${OK}]\nc: ${1BAD}\nd: ${OPEN\n"
	_, err := Parse("p.yaml", []byte(src), func(k string) (string, bool) { return "v", k == "OK" })
	require.EqualError(t, err, `p.yaml:1:4: environment variable MISSING is not set (use ${MISSING:-default} to give a default)
p.yaml:2:5: environment variable ALSO_MISSING is not set (use ${ALSO_MISSING:-default} to give a default)
p.yaml:3:4: invalid variable reference ${1BAD}: want ${NAME} or ${NAME:-default}
p.yaml:4:4: unterminated variable reference "${OPEN\n": missing '}'`)
}

// Positions after a substitution on the same line, and on later lines
// after a value with a newline, are those of the original file.
func TestInterpolate_PositionsMapToTheOriginalFile(t *testing.T) {
	src := `server: { listen: "${LONG_NAME_FOR_LISTEN}", data_dir: "${D}", colour: x }
stores:
  local: { type: directory, path: "${MULTI}" }
pipelines: [{ name: p, bogus: 1, destinations: [{ name: d, type: directory, store: local }] }]
`
	env := map[string]string{"LONG_NAME_FOR_LISTEN": "nohost", "D": "./d", "MULTI": "a\nb\nc"}
	require.Equal(t, []string{
		`p.yaml:1:19: server.listen: invalid listen address "nohost": want host:port`,
		`p.yaml:1:64: server.colour: unknown key "colour"`,
		`p.yaml:4:24: pipelines[0].bogus: unknown key "bogus"`,
	}, parseErrs(t, src, env))
}

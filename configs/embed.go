package configs

import (
	_ "embed"
	"fmt"
)

// DefaultFile is the name errors use for the embedded default config.
const DefaultFile = "configs/default.yaml"

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the text of the built-in config that `hydrant serve`
// uses without --config.
func DefaultYAML() []byte {
	return append([]byte(nil), defaultYAML...)
}

// Default returns the built-in config: configs/default.yaml, parsed with
// no environment and no file checks. A test guarantees it is valid.
func Default() *Config {
	c, err := ParseWith(DefaultFile, defaultYAML, Options{
		Env:     func(string) (string, bool) { return "", false },
		Stat:    func(string) error { return nil },
		BaseDir: ".",
	})
	if err != nil {
		panic(fmt.Sprintf("configs: embedded default is invalid: %v", err))
	}
	return c
}

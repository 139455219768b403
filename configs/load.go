package configs

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
)

// Options tune Parse and Load.
type Options struct {
	// Env resolves ${VAR}; nil means os.LookupEnv.
	Env LookupFunc
	// Stat checks that referenced files exist; nil means os.Stat.
	Stat StatFunc
	// BaseDir resolves relative file references; empty means the
	// directory of the file name given to Parse or Load.
	BaseDir string
}

// Load reads, parses, defaults and validates the pipeline file at path.
// env resolves ${VAR} (nil means os.LookupEnv). A file that cannot be read
// is a wrapped *fs.PathError; every problem in the file is reported at once
// as Errors.
func Load(path string, env LookupFunc) (*Config, error) {
	return LoadWith(path, Options{Env: env})
}

// LoadWith is Load with Options.
func LoadWith(path string, opts Options) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseWith(path, data, opts)
}

// Parse interpolates, decodes, defaults and validates data; name is the
// file name used in errors and to resolve relative paths. env resolves
// ${VAR} (nil means os.LookupEnv). It returns either a Config or Errors.
func Parse(name string, data []byte, env LookupFunc) (*Config, error) {
	return ParseWith(name, data, Options{Env: env})
}

// ParseWith is Parse with Options.
func ParseWith(name string, data []byte, opts Options) (*Config, error) {
	env := opts.Env
	if env == nil {
		env = os.LookupEnv
	}
	errs := &errorList{file: name}
	ip := interpolate(data, env, errs)
	if len(errs.errs) > 0 {
		return nil, errs.err() // decoding half-substituted text would only add noise
	}
	c := &Config{
		File:    name,
		BaseDir: opts.BaseDir,
		pos:     map[string]Position{},
		keyPos:  map[string]Position{},
	}
	if c.BaseDir == "" {
		c.BaseDir = filepath.Dir(name)
	}
	d := &decoder{errs: errs, ip: ip, cfg: c}
	root := d.parseYAML()
	if root == nil {
		return nil, errs.err()
	}
	d.decode(root, reflect.ValueOf(c).Elem(), "")
	decodeErrs := errs.errs
	c.applyDefaults()
	var verrs Errors
	if err := c.Validate(opts.Stat); err != nil {
		verrs = err.(Errors)
	}
	if len(decodeErrs) == 0 && len(verrs) == 0 {
		return c, nil
	}
	// Validation still runs after decoding errors so that one run reports
	// everything, but a value that failed to decode is not reported again.
	bad := map[string]bool{}
	for _, e := range decodeErrs {
		bad[e.Path] = true
	}
	for _, e := range verrs {
		if !underBad(e.Path, bad) {
			errs.errs = append(errs.errs, e)
		}
	}
	return nil, errs.err()
}

// underBad reports whether path or one of its ancestors failed to decode.
func underBad(path string, bad map[string]bool) bool {
	for {
		if bad[path] {
			return true
		}
		if path == "" {
			return false
		}
		path = parentPath(path)
	}
}

package wasm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
)

// modules maps a test module's name to its .wasm, built once by TestMain;
// cache is the compilation cache every test processor shares, so each
// module is compiled by wazero once per test binary.
var (
	modules = map[string]string{}
	cache   wazero.CompilationCache
)

// moduleSources are the packages built for the tests, relative to here.
var moduleSources = map[string]string{
	"sdkmod":  "./testdata/sdkmod",
	"hostile": "./testdata/hostile",
	"redact":  "../../examples/wasm/redact",
	"enrich":  "../../examples/wasm/enrich",
	"filter":  "../../examples/wasm/filter",
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hydrant-wasm-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := buildModules(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cache = wazero.NewCompilationCache()
	defer cache.Close(context.Background())
	return m.Run()
}

// buildModules builds every module source into dir with the standard
// toolchain, two at a time (one c-shared main package per go build).
func buildModules(dir string) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, 2)
	)
	for name, src := range moduleSources {
		out := filepath.Join(dir, name+".wasm")
		modules[name] = out
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, src)
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("build %s: %w\n%s", src, err, b))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// Command hydrant is the Hydrant server and its tools: serve, validate,
// version. It is the composition root: the only package that knows every
// concrete stream, processor and sink.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

// Set by the linker (see Makefile).
var (
	version = "dev"
	commit  = "none"
)

// errUsage marks command-line mistakes: exit code 2.
var errUsage = errors.New("usage error")

const usage = `hydrant: a self-hosted, Firehose-compatible delivery service

Usage:
  hydrant serve    [--config FILE] [--listen ADDR] [--log-format text|json] [--log-level LEVEL] [--no-delivery]
  hydrant validate --config FILE [--check-connections]
  hydrant put      --stream NAME [--endpoint URL] [--partition-key-field F] [FILE...]
  hydrant bench    [--records N] [--size B] [--concurrency C] [--door firehose|rest] [--keys K] ...
  hydrant version

Run "hydrant COMMAND --help" for a command's flags.
Environment: HYDRANT_CONFIG, HYDRANT_LISTEN, HYDRANT_LOG_FORMAT, HYDRANT_LOG_LEVEL,
HYDRANT_ENDPOINT, HYDRANT_API_KEY.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr)
	case "validate":
		err = cmdValidate(args[1:], stdout, stderr)
	case "put":
		err = cmdPut(ctx, args[1:], stdin, stdout, stderr)
	case "bench":
		err = cmdBench(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		err = cmdVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "hydrant: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "hydrant:", err)
		return 2
	case errors.Is(err, errReported):
		return 1
	default:
		fmt.Fprintln(stderr, "hydrant:", err)
		return 1
	}
}

// errReported means the command already printed its errors.
var errReported = errors.New("reported")

// newFlags builds a command's flag set; parse errors print usage and map to errUsage.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: hydrant %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; a bad flag is a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

// envOr returns the environment variable's value, or def when unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// newLogger logs text on a terminal and JSON otherwise unless format says.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: %v", errUsage, level, err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("%w: --log-format %q: want text or json", errUsage, format)
	}
}

func cmdVersion(stdout io.Writer) error {
	v, c := version, commit
	if info, ok := debug.ReadBuildInfo(); ok && v == "dev" {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				c = s.Value
			}
		}
	}
	fmt.Fprintf(stdout, "hydrant %s (commit %s, %s %s/%s)\n", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

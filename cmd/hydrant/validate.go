package main

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/hydrant-io/hydrant/configs"
)

func cmdValidate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", "validate --config FILE", stderr)
	cfgPath := fs.String("config", envOr("HYDRANT_CONFIG", ""), "pipeline file to check [HYDRANT_CONFIG]")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return fmt.Errorf("%w: validate needs --config FILE", errUsage)
	}
	cfg, err := configs.Load(*cfgPath, nil)
	if err != nil {
		return reportConfigError(stderr, err)
	}
	errs := append(checkTemplates(cfg), checkFormats(cfg)...)
	if len(errs) == 0 {
		errs = checkProcessors(context.Background(), cfg)
	}
	if len(errs) > 0 {
		return reportConfigError(stderr, errs)
	}
	fmt.Fprintln(stdout, "ok")
	for _, p := range cfg.Pipelines {
		shards := fmt.Sprint(p.Stream.Shards)
		if p.Stream.OnDemand {
			shards = "on-demand"
		}
		dests := ""
		for i, d := range p.Destinations {
			if i > 0 {
				dests += ", "
			}
			dests += d.Name + " (" + d.Type + ")"
		}
		fmt.Fprintf(stdout, "pipeline %s: %s shards, %d processors, destinations: %s\n", p.Name, shards, len(p.Processors), dests)
	}
	return nil
}

// isLoopback reports whether a listen address only accepts local clients.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

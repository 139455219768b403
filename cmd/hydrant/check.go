package main

import (
	"fmt"

	"github.com/hydrant-io/hydrant/configs"
	"github.com/hydrant-io/hydrant/sinks/prefix"
)

// checkTemplates parses every prefix of the file with the parser delivery
// uses (real Java DateTimeFormatter letters), so `validate` reports what
// `serve` would refuse, at the field's position. configs checks only the
// shape of expressions since it imports no project package.
func checkTemplates(cfg *configs.Config) configs.Errors {
	var errs configs.Errors
	check := func(path, tmpl string, errorPrefix bool) {
		if tmpl == "" {
			return
		}
		if _, err := prefix.Parse(tmpl, errorPrefix); err != nil {
			errs = append(errs, cfg.Errorf(path, "%v", err))
		}
	}
	for i, p := range cfg.Pipelines {
		for j, d := range p.Destinations {
			dp := fmt.Sprintf("pipelines[%d].destinations[%d]", i, j)
			check(dp+".prefix", d.Prefix, false)
			check(dp+".error_output_prefix", d.ErrorOutputPrefix, true)
			check(dp+".backup.prefix", d.Backup.Prefix, false)
		}
	}
	return errs
}

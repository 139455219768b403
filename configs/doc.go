// Package configs owns Hydrant's pipeline file: the typed model, strict
// loading with ${VAR} interpolation, documented defaults and validation.
//
// Loading happens in four steps, each reporting every problem it finds at
// once rather than stopping at the first:
//
//  1. ${VAR} and ${VAR:-default} are replaced from the environment
//     ($${ writes a literal "${").
//  2. The text is parsed into a yaml.Node tree.
//  3. The tree is decoded by walking it against the model: unknown keys,
//     duplicate keys, wrong kinds, bad sizes and durations are errors.
//  4. Defaults fill the keys that are absent, then Validate checks ranges,
//     enums, references, templates, jq expressions and referenced files.
//
// Every error is an *Error carrying the file, line, column and field path
// (FILE:LINE:COL: field.path: message); a failed load returns Errors,
// sorted by position. Positions stay those of the original file even when
// interpolation changed the length of a line.
//
// The package imports no other Hydrant package: cmd/hydrant maps the model
// onto the runtime components.
package configs

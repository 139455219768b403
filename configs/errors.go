package configs

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Position is a place in a config file. Line and Col are 1-based; Col
// counts characters, as yaml.v3 does. The zero Position means unknown.
type Position struct {
	Line int
	Col  int
}

// IsValid reports whether p points somewhere in a file.
func (p Position) IsValid() bool { return p.Line > 0 }

// Error is one problem in a config file.
type Error struct {
	File string // the name given to Parse or Load
	Line int    // 1-based; 0 when unknown
	Col  int    // 1-based; 0 when unknown
	Path string // field path, e.g. pipelines[0].destinations[1].buffer.size; may be empty
	Msg  string
}

// Error formats e as FILE:LINE:COL: field.path: message, leaving out the
// parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, max(e.Col, 1))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one load, sorted by position. It is the
// error returned by Parse, Load and Validate; print one per line.
type Errors []*Error

// Error joins the errors with newlines.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sortErrors orders by position, then path and message, and drops exact
// duplicates (an alias decoded twice reports the same spot twice).
func sortErrors(es Errors) Errors {
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Msg, b.Msg),
		)
	})
	return slices.CompactFunc(es, func(a, b *Error) bool { return *a == *b })
}

// maxErrors bounds one report: past it a file is garbage, and aliases
// could otherwise multiply errors quadratically.
const maxErrors = 1000

// errorList accumulates positioned errors for one file.
type errorList struct {
	file    string
	errs    Errors
	dropped int
}

func (l *errorList) add(pos Position, path, format string, args ...any) {
	if len(l.errs) >= maxErrors {
		l.dropped++
		return
	}
	l.errs = append(l.errs, &Error{File: l.file, Line: pos.Line, Col: pos.Col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// err returns the sorted list, or nil when it is empty.
func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	es := sortErrors(l.errs)
	if l.dropped > 0 {
		es = append(es, &Error{File: l.file, Msg: fmt.Sprintf("too many errors: %d more not shown", l.dropped)})
	}
	return es
}

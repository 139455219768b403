package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxNodes bounds the nodes decoded after alias expansion, so that a
// "billion laughs" document fails instead of exhausting memory. Real
// pipeline files have a few hundred.
const maxNodes = 100_000

// decoder walks a yaml.Node tree into the model, collecting every error.
type decoder struct {
	errs   *errorList
	ip     *interpolation
	cfg    *Config
	nodes  int
	depth  int
	budget bool // reported the node budget already
}

// maxDepth bounds nesting, which also stops self-referencing aliases.
const maxDepth = 64

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses the interpolated text into its root node; nil with
// errors recorded when the text is not one valid YAML document.
func (d *decoder) parseYAML() (root *yaml.Node) {
	defer func() {
		if r := recover(); r != nil { // yaml.v3 has panicked on odd input before
			d.errs.add(Position{}, "", "invalid YAML: %v", r)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(d.ip.out))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1, Column: 1}
		}
		d.yamlError(err)
		return nil
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		d.errs.add(d.pos(&next), "", "the file holds more than one YAML document")
		return nil
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(err)
		return nil
	}
	if len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1, Column: 1}
	}
	return doc.Content[0]
}

func (d *decoder) yamlError(err error) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.errs.add(d.ip.origPos(Position{Line: line, Col: 1}), "", "invalid YAML: %s", m[2])
		return
	}
	d.errs.add(Position{}, "", "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

func (d *decoder) pos(n *yaml.Node) Position {
	return d.ip.origPos(Position{Line: n.Line, Col: n.Column})
}

var (
	byteSizeType = reflect.TypeFor[ByteSize]()
	durationType = reflect.TypeFor[Duration]()
	columnsType  = reflect.TypeFor[Columns]()
	streamType   = reflect.TypeFor[Stream]()
)

// decode stores n into v (addressable) and records path's position.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if !d.spend(n, path, 1) {
		return
	}
	at := d.pos(n)
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxDepth {
		d.errs.add(at, path, "nested more than %d levels deep", maxDepth)
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.errs.add(at, path, "unknown alias %q", n.Value)
			return
		}
		n = n.Alias
	}
	if isNull(n) {
		return // null is treated as absent, so the default applies
	}
	d.cfg.pos[path] = at

	switch t := v.Type(); {
	case t == byteSizeType:
		if s, ok := d.scalar(n, path, "a size"); ok {
			b, err := ParseByteSize(s)
			if err != nil {
				d.errs.add(at, path, "%v", err)
			}
			v.SetInt(int64(b))
		}
	case t == durationType:
		if s, ok := d.scalar(n, path, "a duration"); ok {
			dur, err := ParseDuration(s)
			if err != nil {
				d.errs.add(at, path, "%v", err)
			}
			v.SetInt(int64(dur))
		}
	case t == columnsType:
		var cols Columns
		d.mapping(n, path, func(k, val *yaml.Node, kpath string) {
			col := Column{Name: k.Value}
			if val.Kind == yaml.MappingNode {
				// {query: jq, type: sql type}
				var spec struct {
					Query string `yaml:"query"`
					Type  string `yaml:"type"`
				}
				d.decode(val, reflect.ValueOf(&spec).Elem(), kpath)
				col.Query, col.Type = spec.Query, spec.Type
			} else {
				d.decode(val, reflect.ValueOf(&col.Query).Elem(), kpath)
			}
			cols = append(cols, col)
		})
		v.Set(reflect.ValueOf(cols))
	case t.Kind() == reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case t.Kind() == reflect.Bool:
		if s, ok := d.scalar(n, path, "a boolean"); ok {
			switch b, err := strconv.ParseBool(s); {
			case n.Tag != "!!bool" || err != nil:
				d.errs.add(at, path, "expected a boolean (true or false), got %s", describe(n))
			default:
				v.SetBool(b)
			}
		}
	case t.Kind() == reflect.Int:
		if _, ok := d.scalar(n, path, "an integer"); ok {
			i, err := parseInt(n)
			if err != nil {
				d.errs.add(at, path, "%v", err)
			}
			v.SetInt(i)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errs.add(at, path, "expected a sequence, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case t.Kind() == reflect.Map:
		m := reflect.MakeMap(t)
		d.mapping(n, path, func(k, val *yaml.Node, kpath string) {
			e := reflect.New(t.Elem()).Elem()
			d.decode(val, e, kpath)
			m.SetMapIndex(reflect.ValueOf(k.Value), e)
		})
		v.Set(m)
	case t.Kind() == reflect.Struct:
		fields := yamlFields(t)
		d.mapping(n, path, func(k, val *yaml.Node, kpath string) {
			if t == streamType && k.Value == "shards" {
				d.shards(val, v.Addr().Interface().(*Stream), kpath)
				return
			}
			idx, ok := fields[k.Value]
			if !ok {
				d.errs.add(d.pos(k), kpath, "unknown key %q%s", k.Value, suggest(k.Value, fields))
				return
			}
			d.decode(val, v.Field(idx), kpath)
		})
	default:
		panic("configs: no decoder for " + t.String()) // a model change without a decoder
	}
}

// spend charges k nodes to the budget and reports whether any is left.
func (d *decoder) spend(n *yaml.Node, path string, k int) bool {
	d.nodes += k
	if d.nodes <= maxNodes {
		return true
	}
	if !d.budget {
		d.budget = true
		d.errs.add(d.pos(n), path, "document too large after alias expansion (more than %d nodes)", maxNodes)
	}
	return false
}

// mapping calls fn for every key of the mapping n, in order, after
// resolving merge keys (<<) and reporting duplicate and non-scalar keys.
func (d *decoder) mapping(n *yaml.Node, path string, fn func(k, v *yaml.Node, kpath string)) {
	if n.Kind != yaml.MappingNode {
		d.errs.add(d.pos(n), path, "expected a mapping, got %s", describe(n))
		return
	}
	type pair struct{ k, v *yaml.Node }
	var explicit, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			for _, m := range mergeSources(v) {
				if m.Kind != yaml.MappingNode {
					d.errs.add(d.pos(v), path, "merge key << expects a mapping or a sequence of mappings, got %s", describe(m))
					continue
				}
				for j := 0; j+1 < len(m.Content); j += 2 {
					merged = append(merged, pair{m.Content[j], m.Content[j+1]})
				}
			}
			continue
		}
		explicit = append(explicit, pair{k, v})
	}
	// Every pair counts against the node budget, so that an alias of a
	// mapping full of unknown keys cannot multiply work without bound.
	if !d.spend(n, path, len(explicit)+len(merged)) {
		return
	}
	seen := map[string]*yaml.Node{}
	for _, p := range explicit {
		if p.k.Kind != yaml.ScalarNode || isNull(p.k) {
			d.errs.add(d.pos(p.k), path, "keys must be strings, got %s", describe(p.k))
			continue
		}
		kpath := keyPath(path, p.k.Value)
		if first, dup := seen[p.k.Value]; dup {
			d.errs.add(d.pos(p.k), kpath, "duplicate key %q (first at line %d)", p.k.Value, d.pos(first).Line)
			continue
		}
		seen[p.k.Value] = p.k
		d.cfg.keyPos[kpath] = d.pos(p.k)
		fn(p.k, p.v, kpath)
	}
	for _, p := range merged {
		if p.k.Kind != yaml.ScalarNode || isNull(p.k) {
			continue
		}
		if _, dup := seen[p.k.Value]; dup {
			continue // explicit keys and earlier merges win
		}
		seen[p.k.Value] = p.k
		kpath := keyPath(path, p.k.Value)
		d.cfg.keyPos[kpath] = d.pos(p.k)
		fn(p.k, p.v, kpath)
	}
}

func mergeSources(v *yaml.Node) []*yaml.Node {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	if v.Kind != yaml.SequenceNode {
		return []*yaml.Node{v}
	}
	out := make([]*yaml.Node, 0, len(v.Content))
	for _, c := range v.Content {
		if c.Kind == yaml.AliasNode && c.Alias != nil {
			c = c.Alias
		}
		out = append(out, c)
	}
	return out
}

// scalar returns n's text when n is a scalar.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errs.add(d.pos(n), path, "expected %s, got %s", want, describe(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) shards(n *yaml.Node, s *Stream, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if isNull(n) {
		return
	}
	d.cfg.pos[path] = d.pos(n)
	if n.Kind == yaml.ScalarNode && n.Value == "on-demand" {
		s.OnDemand = true
		return
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.errs.add(d.pos(n), path, `expected an integer or "on-demand", got %s`, describe(n))
		return
	}
	i, err := parseInt(n)
	if err != nil {
		d.errs.add(d.pos(n), path, "%v", err)
	}
	s.Shards = int(i)
}

func parseInt(n *yaml.Node) (int64, error) {
	if n.Tag != "!!int" {
		if n.Tag == "!!float" && strings.Trim(n.Value, "0123456789") == "" {
			return 0, fmt.Errorf("integer %s out of range", n.Value) // too big for yaml.v3's int
		}
		return 0, fmt.Errorf("expected an integer, got %s", describe(n))
	}
	s := strings.ReplaceAll(n.Value, "_", "")
	if strings.HasPrefix(s, "0o") || strings.HasPrefix(s, "0O") {
		s = "0" + s[2:]
	}
	i, err := strconv.ParseInt(s, 0, strconv.IntSize)
	if err != nil {
		return 0, fmt.Errorf("integer %s out of range", n.Value)
	}
	return i, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names a node's kind for messages: `string "abc"`, `a mapping`.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		kind := map[string]string{"!!int": "integer", "!!float": "float", "!!bool": "boolean", "!!null": "null", "!!str": "string"}[n.Tag]
		if kind == "" {
			kind = "value"
		}
		if kind == "null" {
			return "null"
		}
		return fmt.Sprintf("%s %q", kind, truncate(n.Value, 40))
	}
	return "a node"
}

// keyPath appends a mapping key: a.b for identifier-like keys, a["x.y"]
// otherwise, so paths stay unambiguous.
func keyPath(path, key string) string {
	simple := key != ""
	for i := 0; i < len(key) && simple; i++ {
		c := key[i]
		simple = c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	switch {
	case !simple:
		return fmt.Sprintf("%s[%q]", path, key)
	case path == "":
		return key
	default:
		return path + "." + key
	}
}

// yamlFields maps the yaml tag names of t's fields to field indexes.
func yamlFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	if t == streamType {
		m["shards"] = -1
	}
	return m
}

// suggest returns ` (did you mean "x"?)` for the closest known key.
func suggest(key string, fields map[string]int) string {
	best, bestD := "", 3
	for f := range fields {
		if dist := editDistance(key, f); dist < bestD || dist == bestD && f < best {
			best, bestD = f, dist
		}
	}
	if best == "" || bestD > len(key)/2 {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

package columnar

import "strings"

// fieldIndex finds a struct's (or the record's) field by JSON key.
type fieldIndex struct {
	id    int // this index's slot in a record's hints
	names []string
	exact map[string]int
	fold  map[string]int // lower-cased names; nil unless case-insensitive
}

func newFieldIndex(id int, names []string, caseInsensitive bool) fieldIndex {
	fi := fieldIndex{id: id, names: names, exact: make(map[string]int, len(names))}
	if caseInsensitive {
		fi.fold = make(map[string]int, len(names))
	}
	for i, n := range names {
		fi.exact[n] = i
		if fi.fold != nil {
			if _, dup := fi.fold[strings.ToLower(n)]; !dup {
				fi.fold[strings.ToLower(n)] = i
			}
		}
	}
	return fi
}

// maxHints bounds the key positions an object's hint remembers.
const maxHints = 256

// lookup fills vals (one per field, cleared first) from obj's keys: the
// last of duplicate keys wins, as in encoding/json, and an exact name
// match beats a case-insensitive one.
//
// hint, if not nil, is the field each key position matched exactly in
// the previous object (-1: none); it is checked before the map and
// updated, as event records mostly repeat one key order. Field names are
// distinct, so a hint that names the key is the map's answer.
func (fi *fieldIndex) lookup(obj jv, vals []jv, hint *[]int32) {
	clear(vals)
	var exact uint64 // bit i: field i matched exactly (first 64 fields)
	pos := 0
	for k, end := obj.members(); k < end; pos++ {
		key, val := obj.d.at(k), obj.d.at(k+1)
		k = obj.d.nodes[k+1].next
		name := key.str()
		i, ok := -1, false
		if hint != nil && pos < len(*hint) {
			if g := (*hint)[pos]; g >= 0 && fi.names[g] == string(name) {
				i, ok = int(g), true
			}
		}
		if !ok {
			i, ok = fi.exact[string(name)]
			if hint != nil {
				h := int32(-1)
				if ok {
					h = int32(i)
				}
				switch {
				case pos < len(*hint):
					(*hint)[pos] = h
				case pos < maxHints:
					*hint = append(*hint, h)
				}
			}
		}
		if ok {
			vals[i] = val
			if i < 64 {
				exact |= 1 << i
			}
			continue
		}
		if fi.fold != nil {
			if i, ok := fi.fold[strings.ToLower(string(name))]; ok && (i >= 64 || exact&(1<<i) == 0) {
				vals[i] = val
			}
		}
	}
}

package ingest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/hydrant-io/hydrant/ingest/api"
	"github.com/hydrant-io/hydrant/streams/record"
)

// This file decodes PutRecord and PutRecordBatch bodies without reflection.
// The decoders accept exactly what encoding/json (into the SDK's input shape)
// accepts and yield the same values, including its quirks: case-insensitive
// member names, last duplicate wins, null leaves a string or struct alone, and
// a repeated Records array decodes over the previous one element by element
// (FuzzDecodePutRecordBatch checks this against encoding/json).
//
// Record data is base64-decoded straight into one arena per request; the
// returned records' Data slices alias it.

// decodeError is a request body the Firehose door cannot decode.
func decodeError(format string, args ...any) *apiError {
	return &apiError{status: 400, code: api.ErrSerialization, msg: fmt.Sprintf(format, args...)}
}

func syntaxErr(err error) *apiError {
	return decodeError("Malformed request body: %v", err)
}

// keyIs reports whether the object key token tok (with quotes) names the
// member name, with encoding/json's case-insensitive matching.
func keyIs(tok []byte, name string) bool {
	inner := tok[1 : len(tok)-1]
	if string(inner) == name {
		return true
	}
	for _, c := range inner {
		if c == '\\' || c >= 0x80 {
			s, ok := unquote(tok)
			return ok && strings.EqualFold(s, name)
		}
	}
	if len(inner) != len(name) {
		return false
	}
	for k := range inner {
		if lowerASCII(inner[k]) != lowerASCII(name[k]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// putDecoder holds the reusable buffers of one request's decoding.
type putDecoder struct {
	arena []byte // decoded record data; never reallocated during a request
	tmp   []byte // unescaped base64 scratch
	recs  []record.Record
	// maxRecords, when > 0, caps the records decodePutRecordBatch stores:
	// past it the rest are only scanned (a syntax error still wins) and the
	// call fails with errTooManyRecords, so a body of tiny elements cannot
	// allocate millions of records first. 0 means no cap (the fuzz oracle).
	maxRecords int
}

// tooManyRecordsError reports a PutRecordBatch over the record cap.
type tooManyRecordsError struct{ max int }

func (e tooManyRecordsError) Error() string {
	return fmt.Sprintf("1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length less than or equal to %d", e.max)
}

// reset prepares the decoder for a body of n bytes.
func (d *putDecoder) reset(n int) {
	need := base64.StdEncoding.DecodedLen(n) + 1
	if cap(d.arena) < need {
		d.arena = make([]byte, 0, need)
	}
	d.arena = d.arena[:0]
	clear(d.recs[:cap(d.recs)])
	d.recs = d.recs[:0]
}

// release drops references into request data so a pooled decoder pins nothing
// but its own buffers.
func (d *putDecoder) release() {
	if cap(d.recs) > maxPooledRecords {
		d.recs = nil
		return
	}
	clear(d.recs[:cap(d.recs)])
	d.recs = d.recs[:0]
}

// maxPooledRecords is the largest record slice a pooled request keeps: a
// batch-door body of small records may hold millions (120 bytes each), and
// one such request must not stay in the pool's memory.
const maxPooledRecords = 4096

// decodeData base64-decodes the JSON string at b[i] (b[i] == '"') into the
// arena and returns the data and the index past the string. path names the
// member in error messages.
func (d *putDecoder) decodeData(b []byte, i int, path func() string) ([]byte, int, error) {
	start := len(d.arena)
	// Fast path: a plain base64 string ends at the next quote. If the span
	// holds escapes or control characters, it is not pure base64 and the
	// decoded length gives it away (Decode skips \r and \n), so fall back.
	if q := bytes.IndexByte(b[i+1:], '"'); q >= 0 && q%4 == 0 {
		span := b[i+1 : i+1+q]
		want := q / 4 * 3
		if q > 0 && span[q-1] == '=' {
			want--
			if span[q-2] == '=' {
				want--
			}
		}
		dst := d.arena[start : start+q/4*3]
		if n, err := base64.StdEncoding.Decode(dst, span); err == nil && n == want {
			d.arena = d.arena[:start+n]
			return d.arena[start : start+n : start+n], i + q + 2, nil
		}
	}
	end, escaped, err := scanString(b, i)
	if err != nil {
		return nil, 0, syntaxErr(err)
	}
	src := b[i+1 : end-1]
	if escaped {
		d.tmp = appendUnescaped(d.tmp[:0], src)
		src = d.tmp
	}
	need := start + base64.StdEncoding.DecodedLen(len(src))
	if need > cap(d.arena) { // cannot happen: unescaping only shrinks
		return nil, 0, decodeError("internal: arena too small")
	}
	n, err := base64.StdEncoding.Decode(d.arena[start:need], src)
	if err != nil {
		return nil, 0, decodeError("Value at '%s' is not valid base64: %v", path(), err)
	}
	d.arena = d.arena[:start+n]
	return d.arena[start : start+n : start+n], end, nil
}

// decodeRecordObject decodes the {"Data": ...} object at b[i] into r.
// depth is the nesting depth of the object itself.
func (d *putDecoder) decodeRecordObject(b []byte, i, depth int, r *record.Record, path func() string) (int, error) {
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, syntaxErr(unexpected(b, i, "looking for beginning of object key string"))
		}
		kEnd, _, err := scanString(b, i)
		if err != nil {
			return 0, syntaxErr(err)
		}
		key := b[i:kEnd]
		i = skipWS(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return 0, syntaxErr(unexpected(b, i, "after object key"))
		}
		i = skipWS(b, i+1)
		if keyIs(key, "Data") {
			switch {
			case i < len(b) && b[i] == '"':
				if r.Data, i, err = d.decodeData(b, i, path); err != nil {
					return 0, err
				}
			case i < len(b) && b[i] == 'n':
				if i, err = scanLiteral(b, i, "null"); err != nil {
					return 0, syntaxErr(err)
				}
				r.Data = nil
			default:
				return 0, typeErr(b, i, path())
			}
		} else if i, err = skipValue(b, i, depth); err != nil {
			return 0, syntaxErr(err)
		}
		i = skipWS(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		return 0, syntaxErr(unexpected(b, i, "after object key:value pair"))
	}
}

// typeErr reports a member of the wrong JSON type. The value is still
// validated first so a syntax error wins, as in encoding/json.
func typeErr(b []byte, i int, path string) error {
	if _, err := skipValue(b, i, 0); err != nil {
		return syntaxErr(err)
	}
	return decodeError("Unexpected JSON type for member '%s'", path)
}

// decodeString decodes the string (or null, which leaves *dst alone) at
// b[i] into *dst: the value of member, named in a type error; malformed
// is the message for a string that does not unquote.
func decodeString(b []byte, i int, dst *string, member, malformed string) (int, error) {
	switch {
	case i < len(b) && b[i] == '"':
		end, _, err := scanString(b, i)
		if err != nil {
			return 0, syntaxErr(err)
		}
		s, ok := unquote(b[i:end])
		if !ok {
			return 0, decodeError("%s", malformed)
		}
		*dst = s
		return end, nil
	case i < len(b) && b[i] == 'n':
		end, err := scanLiteral(b, i, "null")
		if err != nil {
			return 0, syntaxErr(err)
		}
		return end, nil
	default:
		return 0, typeErr(b, i, member)
	}
}

// decodeName decodes the DeliveryStreamName value at b[i] into *name.
func decodeName(b []byte, i int, name *string) (int, error) {
	return decodeString(b, i, name, "deliveryStreamName", "Malformed DeliveryStreamName")
}

// decodeTop walks the top-level object, calling member for each key. It
// handles a top-level null (decodes to nothing) and trailing data.
func decodeTop(b []byte, member func(key []byte, i int) (int, error)) error {
	i := skipWS(b, 0)
	switch {
	case i < len(b) && b[i] == 'n':
		end, err := scanLiteral(b, i, "null")
		if err != nil {
			return syntaxErr(err)
		}
		i = end
	case i < len(b) && b[i] == '{':
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			i++
			break
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return syntaxErr(unexpected(b, i, "looking for beginning of object key string"))
			}
			kEnd, _, err := scanString(b, i)
			if err != nil {
				return syntaxErr(err)
			}
			key := b[i:kEnd]
			i = skipWS(b, kEnd)
			if i >= len(b) || b[i] != ':' {
				return syntaxErr(unexpected(b, i, "after object key"))
			}
			if i, err = member(key, skipWS(b, i+1)); err != nil {
				return err
			}
			i = skipWS(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipWS(b, i+1)
				continue
			}
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			return syntaxErr(unexpected(b, i, "after object key:value pair"))
		}
	default:
		if _, err := skipValue(b, i, 0); err != nil {
			return syntaxErr(err)
		}
		return decodeError("Request body must be a JSON object")
	}
	if i = skipWS(b, i); i != len(b) {
		return syntaxErr(unexpected(b, i, "after top-level value"))
	}
	return nil
}

// decodePutRecordBatch decodes a PutRecordBatch body. It checks syntax and
// types only; limits and required members are checked by the caller.
func (d *putDecoder) decodePutRecordBatch(b []byte) (name string, recs []record.Record, err error) {
	d.reset(len(b))
	recs = d.recs
	var idx int
	tooMany := false
	path := func() string { return fmt.Sprintf("records.%d.member.data", idx+1) }
	err = decodeTop(b, func(key []byte, i int) (int, error) {
		switch {
		case keyIs(key, "DeliveryStreamName"):
			return decodeName(b, i, &name)
		case keyIs(key, "Records"):
			if i < len(b) && b[i] == 'n' {
				end, err := scanLiteral(b, i, "null")
				if err != nil {
					return 0, syntaxErr(err)
				}
				recs = recs[:0:0] // null sets the slice to nil
				return end, nil
			}
			if i >= len(b) || b[i] != '[' {
				return 0, typeErr(b, i, "records")
			}
			i = skipWS(b, i+1)
			if i < len(b) && b[i] == ']' {
				recs = recs[:0:0]
				return i + 1, nil
			}
			over := false
			for idx = 0; ; idx++ {
				over = over || d.maxRecords > 0 && idx >= d.maxRecords
				// Grow exactly like reflect: reuse (stale) capacity first.
				if over {
					// Past the cap: scan only.
				} else if idx >= cap(recs) {
					recs = append(recs[:idx], record.Record{})
				} else if idx >= len(recs) {
					recs = recs[:idx+1]
				}
				var err error
				switch {
				case over:
					i, err = skipValue(b, i, 3)
					if err != nil {
						err = syntaxErr(err)
					}
				case i < len(b) && b[i] == '{':
					i, err = d.decodeRecordObject(b, i, 3, &recs[idx], path)
				case i < len(b) && b[i] == 'n':
					i, err = scanLiteral(b, i, "null")
					if err != nil {
						err = syntaxErr(err)
					}
				default:
					err = typeErr(b, i, fmt.Sprintf("records.%d.member", idx+1))
				}
				if err != nil {
					return 0, err
				}
				i = skipWS(b, i)
				if i < len(b) && b[i] == ',' {
					i = skipWS(b, i+1)
					continue
				}
				if i < len(b) && b[i] == ']' {
					if over {
						tooMany = true
						return i + 1, nil
					}
					recs = recs[:idx+1]
					return i + 1, nil
				}
				return 0, syntaxErr(unexpected(b, i, "after array element"))
			}
		default:
			end, err := skipValue(b, i, 1)
			if err != nil {
				return 0, syntaxErr(err)
			}
			return end, nil
		}
	})
	if cap(recs) > cap(d.recs) {
		d.recs = recs[:0] // keep the grown slice for reuse
	}
	if err == nil && tooMany {
		err = tooManyRecordsError{max: d.maxRecords}
	}
	if err != nil {
		return "", nil, err
	}
	return name, recs, nil
}

// decodePutRecord decodes a PutRecord body: the stream name and the record's
// data (nil when Data is missing or null).
func (d *putDecoder) decodePutRecord(b []byte) (name string, data []byte, err error) {
	d.reset(len(b))
	var r record.Record
	path := func() string { return "record.data" }
	err = decodeTop(b, func(key []byte, i int) (int, error) {
		switch {
		case keyIs(key, "DeliveryStreamName"):
			return decodeName(b, i, &name)
		case keyIs(key, "Record"):
			switch {
			case i < len(b) && b[i] == '{':
				return d.decodeRecordObject(b, i, 2, &r, path)
			case i < len(b) && b[i] == 'n':
				end, err := scanLiteral(b, i, "null")
				if err != nil {
					return 0, syntaxErr(err)
				}
				return end, nil // null leaves a struct alone
			default:
				return 0, typeErr(b, i, "record")
			}
		default:
			end, err := skipValue(b, i, 1)
			if err != nil {
				return 0, syntaxErr(err)
			}
			return end, nil
		}
	})
	if err != nil {
		return "", nil, err
	}
	return name, r.Data, nil
}

package builtin

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

// Deaggregation modes, the values of DeaggregateOptions.Mode.
const (
	// ModeKPL splits KPL aggregated records (magic, protobuf, MD5 trailer).
	ModeKPL = "kpl"
	// ModeJSON splits concatenated JSON objects, as Firehose's
	// RecordDeAggregation with SubRecordType JSON.
	ModeJSON = "json"
	// ModeDelimited splits on a delimiter, as SubRecordType DELIMITED.
	ModeDelimited = "delimited"
)

// DefaultMaxSubRecords bounds the sub-records taken from one record.
// Firehose's own limit for JSON and DELIMITED is 500; KPL aggregates are
// bounded by the 1 MiB record size, so this is a safety net, not a quota.
const DefaultMaxSubRecords = 100_000

// Meta keys set on KPL sub-records.
const (
	// MetaPartitionKey holds the sub-record's partition key.
	MetaPartitionKey = "partitionKey"
	// MetaExplicitHashKey holds the sub-record's explicit hash key, if any.
	MetaExplicitHashKey = "explicitHashKey"
	// MetaSubSequence holds the sub-record's index in its aggregate, the
	// subsequenceNumber of Firehose's error records.
	MetaSubSequence = "subSequenceNumber"
)

// ErrDeaggregate wraps every per-record deaggregation failure.
var ErrDeaggregate = errors.New("deaggregation failed")

// kplMagic starts every KPL aggregated record.
var kplMagic = []byte{0xF3, 0x89, 0x9A, 0xC2}

const kplDigestLen = md5.Size

// DeaggregateOptions configures Deaggregate. The zero value means KPL.
type DeaggregateOptions struct {
	// Mode is ModeKPL (default when empty), ModeJSON or ModeDelimited.
	Mode string
	// Delimiter separates sub-records in ModeDelimited: the raw bytes, not
	// the base64 form of Firehose's API.
	Delimiter string
	// MaxSubRecords fails a record that holds more; 0 means
	// DefaultMaxSubRecords.
	MaxSubRecords int
	// LenientKPL makes a record that carries the KPL magic but a wrong MD5
	// digest pass through unchanged, as the KCL does, instead of failing.
	LenientKPL bool
}

// Deaggregate splits each record into its sub-records, like Firehose's
// RecordDeAggregation processor and the KCL's KPL deaggregation. Sub-records
// share the input's backing array (read-only, capacity-limited slices), so
// splitting copies no payload bytes. It is safe for concurrent use.
type Deaggregate struct {
	opts DeaggregateOptions
	// split appends in's sub-records to outs.
	split func(in *record.Record, outs []record.Record) ([]record.Record, error)
}

var _ transform.Processor = (*Deaggregate)(nil)

// NewDeaggregate validates opts and returns the processor.
func NewDeaggregate(opts DeaggregateOptions) (*Deaggregate, error) {
	if opts.MaxSubRecords < 0 {
		return nil, fmt.Errorf("deaggregate: negative max sub-records %d", opts.MaxSubRecords)
	}
	if opts.MaxSubRecords == 0 {
		opts.MaxSubRecords = DefaultMaxSubRecords
	}
	d := &Deaggregate{opts: opts}
	switch opts.Mode {
	case "", ModeKPL:
		d.opts.Mode = ModeKPL
		d.split = d.splitKPL
	case ModeJSON:
		d.split = d.splitJSON
	case ModeDelimited:
		if opts.Delimiter == "" {
			return nil, errors.New("deaggregate: delimited mode needs a delimiter")
		}
		d.split = d.splitDelimited
	default:
		return nil, fmt.Errorf("deaggregate: unknown mode %q (want %s, %s or %s)", opts.Mode, ModeKPL, ModeJSON, ModeDelimited)
	}
	return d, nil
}

// Process returns each record Ok with its sub-records (possibly none), or
// Failed with an error wrapping ErrDeaggregate when the record is malformed
// or holds more than MaxSubRecords. A cancelled ctx fails the whole call.
func (d *Deaggregate) Process(ctx context.Context, in []record.Record) ([]transform.Result, error) {
	res := make([]transform.Result, len(in))
	var outs []record.Record // shared backing array; each result gets a capped window
	for i := range in {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start := len(outs)
		var err error
		outs, err = d.split(&in[i], outs)
		if err != nil {
			outs = outs[:start]
			res[i] = transform.Result{Status: transform.Failed, Err: fmt.Errorf("%w: %v", ErrDeaggregate, err)}
			continue
		}
		res[i] = transform.Result{Status: transform.Ok}
		if len(outs) > start {
			// Appends may move outs; rebase re-points this window at the end.
			res[i].Out = outs[start:]
		}
	}
	return rebase(res, outs), nil
}

// rebase points every Ok result's Out at the final outs array. While
// splitting, appends may reallocate outs, leaving earlier windows on a stale
// copy; the windows are laid out in order, so their lengths suffice.
func rebase(res []transform.Result, outs []record.Record) []transform.Result {
	pos := 0
	for i := range res {
		n := len(res[i].Out)
		if n == 0 {
			continue
		}
		res[i].Out = outs[pos : pos+n : pos+n]
		pos += n
	}
	return res
}

// reserve makes room for n more records, doubling the capacity so that a
// batch of many split records costs few, amortised copies (append alone
// grows large slices by only 1.25x).
func reserve(outs []record.Record, n int) []record.Record {
	if cap(outs)-len(outs) >= n {
		return outs
	}
	grown := make([]record.Record, len(outs), max(2*cap(outs), len(outs)+n, 16))
	copy(grown, outs)
	return grown
}

// sub returns a read-only window of data: the capacity limit stops a later
// append from writing into the neighbouring sub-record.
func sub(data []byte, from, to int) []byte { return data[from:to:to] }

func (d *Deaggregate) splitDelimited(in *record.Record, outs []record.Record) ([]record.Record, error) {
	data, delim := in.Data, []byte(d.opts.Delimiter)
	if c := bytes.Count(data, delim) + 1; c <= d.opts.MaxSubRecords {
		outs = reserve(outs, c) // exact, or one too many
	}
	n, pos := 0, 0
	for pos < len(data) {
		end := bytes.Index(data[pos:], delim)
		last := end < 0
		if last {
			end = len(data)
		} else {
			end += pos
		}
		if n++; n > d.opts.MaxSubRecords {
			return outs, fmt.Errorf("more than %d sub-records", d.opts.MaxSubRecords)
		}
		r := *in
		r.Data = sub(data, pos, end)
		outs = append(outs, r)
		if last {
			break
		}
		pos = end + len(delim) // a delimiter at the very end leaves no trailing piece
	}
	return outs, nil
}

func (d *Deaggregate) splitJSON(in *record.Record, outs []record.Record) ([]record.Record, error) {
	data := in.Data
	n, pos := 0, 0
	for {
		for pos < len(data) && isJSONSpace(data[pos]) {
			pos++
		}
		if pos == len(data) {
			return outs, nil
		}
		if data[pos] != '{' {
			return outs, fmt.Errorf("sub-record %d at byte %d is not a JSON object", n, pos)
		}
		end, ok := objectEnd(data, pos)
		if !ok {
			return outs, fmt.Errorf("sub-record %d at byte %d: unterminated JSON object", n, pos)
		}
		piece := sub(data, pos, end)
		if !json.Valid(piece) {
			return outs, fmt.Errorf("sub-record %d at byte %d is not valid JSON", n, pos)
		}
		if n++; n > d.opts.MaxSubRecords {
			return outs, fmt.Errorf("more than %d sub-records", d.opts.MaxSubRecords)
		}
		outs = reserve(outs, 1)
		r := *in
		r.Data = piece
		outs = append(outs, r)
		pos = end
	}
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// objectEnd finds the end (exclusive) of the JSON value that starts with a
// bracket at data[start] by counting brackets outside strings; validity is
// checked afterwards by json.Valid. No recursion, so depth cannot overflow.
func objectEnd(data []byte, start int) (int, bool) {
	depth, inStr := 0, false
	for i := start; i < len(data); i++ {
		c := data[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1, true
			}
		}
	}
	return 0, false
}

// splitKPL decodes a KPL aggregated record. Data without the magic (or too
// short to hold one) passes through unchanged, as in the KCL.
func (d *Deaggregate) splitKPL(in *record.Record, outs []record.Record) ([]record.Record, error) {
	data := in.Data
	if len(data) <= len(kplMagic)+kplDigestLen || !bytes.HasPrefix(data, kplMagic) {
		return append(outs, *in), nil
	}
	body := data[len(kplMagic) : len(data)-kplDigestLen]
	digest := data[len(data)-kplDigestLen:]
	if sum := md5.Sum(body); !bytes.Equal(sum[:], digest) {
		if d.opts.LenientKPL {
			return append(outs, *in), nil
		}
		return outs, errors.New("KPL aggregated record: MD5 digest mismatch")
	}
	agg, err := parseAggregate(body, d.opts.MaxSubRecords)
	if err != nil {
		return outs, fmt.Errorf("KPL aggregated record: %w", err)
	}
	outs = reserve(outs, agg.n)
	err = agg.records(body, func(i int, pk, ehk string, hasEHK bool, payload []byte) {
		r := *in
		r.Data = payload
		r.Meta = make(map[string]string, len(in.Meta)+3)
		for k, v := range in.Meta {
			r.Meta[k] = v
		}
		r.Meta[MetaPartitionKey] = pk
		if hasEHK {
			r.Meta[MetaExplicitHashKey] = ehk
		}
		r.Meta[MetaSubSequence] = strconv.Itoa(i)
		outs = append(outs, r)
	})
	if err != nil {
		return outs, fmt.Errorf("KPL aggregated record: %w", err)
	}
	return outs, nil
}

// AggregatedRecord field numbers (kpl.proto).
const (
	aggPartitionKeyTable    protowire.Number = 1
	aggExplicitHashKeyTable protowire.Number = 2
	aggRecords              protowire.Number = 3

	recPartitionKeyIndex    protowire.Number = 1
	recExplicitHashKeyIndex protowire.Number = 2
	recData                 protowire.Number = 3
	recTags                 protowire.Number = 4
)

// aggregate is the first pass over an AggregatedRecord: the key tables and
// the number of records, which may come in any field order on the wire.
type aggregate struct {
	pks, ehks []string
	n         int
}

func parseAggregate(body []byte, maxRecords int) (*aggregate, error) {
	a := &aggregate{}
	err := eachField(body, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch num {
		case aggPartitionKeyTable, aggExplicitHashKeyTable, aggRecords:
			if typ != protowire.BytesType {
				return fmt.Errorf("field %d has wire type %d, want bytes", num, typ)
			}
		default:
			return nil
		}
		switch num {
		case aggPartitionKeyTable:
			a.pks = append(a.pks, string(v))
		case aggExplicitHashKeyTable:
			a.ehks = append(a.ehks, string(v))
		case aggRecords:
			if a.n++; a.n > maxRecords {
				return fmt.Errorf("more than %d sub-records", maxRecords)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// records is the second pass: it resolves and emits every Record in order.
func (a *aggregate) records(body []byte, emit func(i int, pk, ehk string, hasEHK bool, data []byte)) error {
	i := 0
	return eachField(body, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != aggRecords {
			return nil
		}
		var (
			pkIdx, ehkIdx uint64
			hasPK, hasEHK bool
			payload       []byte
			hasData       bool
		)
		err := eachField(v, func(num protowire.Number, typ protowire.Type, fv []byte) error {
			switch num {
			case recPartitionKeyIndex, recExplicitHashKeyIndex:
				if typ != protowire.VarintType {
					return fmt.Errorf("record %d: field %d has wire type %d, want varint", i, num, typ)
				}
				x, n := protowire.ConsumeVarint(fv)
				if n < 0 {
					return fmt.Errorf("record %d: field %d: %w", i, num, protowire.ParseError(n))
				}
				if num == recPartitionKeyIndex {
					pkIdx, hasPK = x, true
				} else {
					ehkIdx, hasEHK = x, true
				}
			case recData:
				if typ != protowire.BytesType {
					return fmt.Errorf("record %d: data has wire type %d, want bytes", i, typ)
				}
				payload, hasData = fv, true
			case recTags:
				if typ != protowire.BytesType {
					return fmt.Errorf("record %d: tag has wire type %d, want bytes", i, typ)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		switch {
		case !hasPK:
			return fmt.Errorf("record %d: missing partition_key_index", i)
		case !hasData:
			return fmt.Errorf("record %d: missing data", i)
		case pkIdx >= uint64(len(a.pks)):
			return fmt.Errorf("record %d: partition_key_index %d outside table of %d", i, pkIdx, len(a.pks))
		case hasEHK && ehkIdx >= uint64(len(a.ehks)):
			return fmt.Errorf("record %d: explicit_hash_key_index %d outside table of %d", i, ehkIdx, len(a.ehks))
		}
		var ehk string
		if hasEHK {
			ehk = a.ehks[ehkIdx]
		}
		emit(i, a.pks[pkIdx], ehk, hasEHK, payload[:len(payload):len(payload)])
		i++
		return nil
	})
}

// eachField walks the fields of one protobuf message. For a varint field
// v holds its encoded bytes; for a length-delimited field, its contents;
// other wire types are skipped over after validation.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("malformed protobuf tag: %w", protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			_, n = protowire.ConsumeVarint(b)
			if n >= 0 {
				v = b[:n]
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("malformed protobuf field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v); err != nil {
			return err
		}
	}
	return nil
}

// Close does nothing.
func (d *Deaggregate) Close(context.Context) error { return nil }

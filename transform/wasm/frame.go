package wasm

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/transform"
)

// ABIVersion is the version of docs/wasm-abi.md the host speaks; a module
// must return it from hydrant_abi_version.
const ABIVersion = 1

// Frame magics (docs/wasm-abi.md, "Frames").
const (
	magicIn    = "HYDI"
	magicOut   = "HYDO"
	magicError = "HYDE"
)

// Wire verdicts.
const (
	statusOk        = 0
	statusDropped   = 1
	statusFailed    = 2
	statusUnchanged = 3
)

var le = binary.LittleEndian

// Fixed sizes: the input header, and the fixed part of an input record
// (id, key, shard and data lengths, arrival, sequence).
const (
	inHeaderSize = 12
	inFixedSize  = 4*4 + 8 + 8
)

// inputSize returns the size of the input frame for in, whose records are
// named ids (unique: transform.RecordIDs).
func inputSize(in []record.Record, ids []string) uint64 {
	n := uint64(inHeaderSize)
	for i := range in {
		r := &in[i]
		n += inFixedSize + uint64(len(ids[i])) + uint64(len(r.Key)) + uint64(len(r.Shard)) + uint64(len(r.Data))
	}
	return n
}

// encodeInput writes the input frame for in into dst, which has exactly
// inputSize(in, ids) bytes (it is a view of the module's memory).
func encodeInput(dst []byte, in []record.Record, ids []string) {
	copy(dst, magicIn)
	le.PutUint32(dst[4:], ABIVersion)
	le.PutUint32(dst[8:], uint32(len(in)))
	p := inHeaderSize
	str := func(s string) {
		le.PutUint32(dst[p:], uint32(len(s)))
		p += 4 + copy(dst[p+4:], s)
	}
	for i := range in {
		r := &in[i]
		str(ids[i])
		le.PutUint64(dst[p:], uint64(r.Arrived.UnixMilli()))
		p += 8
		str(r.Key)
		str(string(r.Shard))
		le.PutUint64(dst[p:], r.Seq)
		p += 8
		le.PutUint32(dst[p:], uint32(len(r.Data)))
		p += 4 + copy(dst[p+4:], r.Data)
	}
}

// reader walks an output frame; the first error sticks.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: at byte %d: %s", ErrMalformed, r.off, fmt.Sprintf(format, args...))
	}
}

func (r *reader) take(n uint32, what string) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(r.b)-r.off) {
		r.fail("%s of %d bytes runs past the end of the frame (%d left)", what, n, len(r.b)-r.off)
		return nil
	}
	v := r.b[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return v
}

func (r *reader) u8(what string) byte {
	if b := r.take(1, what); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u32(what string) uint32 {
	if b := r.take(4, what); b != nil {
		return le.Uint32(b)
	}
	return 0
}

func (r *reader) bytes(what string) []byte { return r.take(r.u32(what), what) }

// decoder turns an output frame into Results for the batch it answers.
// Its maps are reused across the records of one frame.
type decoder struct {
	in  []record.Record
	ids []string // the unique names in was sent with
	// byID maps input ids to indexes; built only if the module answers out
	// of order.
	byID map[string]int
	// metaKeys interns the Meta key of each partition key name.
	metaKeys map[string]string
}

// decodeOutput parses frame (the module's answer to in) into index-aligned
// Results. frame must be a host-owned copy: Ok data aliases it. Every way
// the frame can disagree with docs/wasm-abi.md is an error wrapping
// ErrMalformed, ErrRecordID or ErrBatchFailed.
func decodeOutput(frame []byte, in []record.Record, ids []string) ([]transform.Result, error) {
	r := reader{b: frame}
	magic := string(r.take(4, "magic"))
	if r.err == nil && magic != magicOut && magic != magicError {
		return nil, fmt.Errorf("%w: bad magic %q", ErrMalformed, magic)
	}
	if v := r.u32("version"); r.err == nil && v != ABIVersion {
		return nil, fmt.Errorf("%w: frame version %d, host speaks %d", ErrMalformed, v, ABIVersion)
	}
	if r.err != nil {
		return nil, r.err
	}
	if magic == magicError {
		msg := r.bytes("batch error message")
		if r.err == nil && r.off != len(frame) {
			r.fail("%d trailing bytes", len(frame)-r.off)
		}
		if r.err != nil {
			return nil, r.err
		}
		return nil, fmt.Errorf("%w: %s", ErrBatchFailed, msg)
	}
	n := r.u32("count")
	if r.err != nil {
		return nil, r.err
	}
	if uint64(n) != uint64(len(in)) {
		return nil, fmt.Errorf("%w: %d verdicts for %d records", ErrRecordID, n, len(in))
	}
	d := decoder{in: in, ids: ids}
	res := make([]transform.Result, len(in))
	outs := make([]record.Record, len(in))
	seen := make([]bool, len(in))
	for j := range len(in) {
		status := r.u8("status")
		id := r.bytes("record id")
		payload := r.bytes("payload")
		nkeys := r.u32("key count")
		if r.err != nil {
			return nil, fmt.Errorf("verdict %d: %w", j, r.err)
		}
		i, err := d.index(j, id)
		if err != nil {
			return nil, err
		}
		if seen[i] {
			return nil, fmt.Errorf("%w: record id %q returned twice", ErrRecordID, id)
		}
		seen[i] = true
		switch status {
		case statusOk, statusUnchanged:
			if status == statusUnchanged && len(payload) != 0 {
				return nil, fmt.Errorf("%w: verdict %d: Unchanged with a %d-byte payload", ErrMalformed, j, len(payload))
			}
			outs[i] = in[i]
			if status == statusOk {
				outs[i].Data = payload
			}
			if nkeys > 0 {
				meta, err := d.keys(&r, nkeys, in[i].Meta)
				if err != nil {
					return nil, fmt.Errorf("verdict %d: %w", j, err)
				}
				outs[i].Meta = meta
			}
			res[i] = transform.Result{Status: transform.Ok, Out: outs[i : i+1 : i+1]}
		case statusDropped, statusFailed:
			if nkeys != 0 {
				return nil, fmt.Errorf("%w: verdict %d: partition keys on a %s verdict", ErrMalformed, j, statusName(status))
			}
			if status == statusDropped {
				if len(payload) != 0 {
					return nil, fmt.Errorf("%w: verdict %d: Dropped with a %d-byte payload", ErrMalformed, j, len(payload))
				}
				res[i] = transform.Result{Status: transform.Dropped}
				continue
			}
			res[i] = transform.Result{Status: transform.Failed, Err: &FailedError{Message: string(payload)}}
		default:
			return nil, fmt.Errorf("%w: verdict %d: unknown status %d", ErrMalformed, j, status)
		}
	}
	if r.off != len(frame) {
		return nil, fmt.Errorf("%w: %d trailing bytes after the last verdict", ErrMalformed, len(frame)-r.off)
	}
	// n == len(in), no id repeats and every id is known: all were returned.
	return res, nil
}

// index finds the input record verdict j answers: usually j itself.
func (d *decoder) index(j int, id []byte) (int, error) {
	if j < len(d.ids) && string(id) == d.ids[j] {
		return j, nil
	}
	if d.byID == nil {
		d.byID = make(map[string]int, len(d.ids))
		for i, name := range d.ids {
			d.byID[name] = i
		}
	}
	i, ok := d.byID[string(id)]
	if !ok {
		return 0, fmt.Errorf("%w: unknown record id %q", ErrRecordID, id)
	}
	return i, nil
}

// maxKeys bounds the partition keys of one verdict so that a hostile count
// cannot size a huge map before the frame runs out.
const maxKeys = 1024

// keys reads nkeys partition keys into a copy of base.
func (d *decoder) keys(r *reader, nkeys uint32, base map[string]string) (map[string]string, error) {
	if nkeys > maxKeys {
		return nil, fmt.Errorf("%w: %d partition keys (at most %d)", ErrMalformed, nkeys, maxKeys)
	}
	meta := make(map[string]string, len(base)+int(nkeys))
	for k, v := range base {
		meta[k] = v
	}
	if d.metaKeys == nil {
		d.metaKeys = make(map[string]string)
	}
	for range nkeys {
		k := r.bytes("partition key name")
		v := r.bytes("partition key value")
		if r.err != nil {
			return nil, r.err
		}
		if len(k) == 0 {
			return nil, fmt.Errorf("%w: empty partition key name", ErrMalformed)
		}
		mk, ok := d.metaKeys[string(k)]
		if !ok {
			mk = record.LambdaKey(string(k))
			d.metaKeys[string(k)] = mk
		}
		meta[mk] = string(v)
	}
	return meta, nil
}

func statusName(s byte) string {
	switch s {
	case statusOk:
		return "Ok"
	case statusDropped:
		return "Dropped"
	case statusFailed:
		return "ProcessingFailed"
	case statusUnchanged:
		return "Unchanged"
	}
	return "unknown"
}

// FailedError is the Err of a record the module answered with
// ProcessingFailed; it matches ErrProcessingFailed.
type FailedError struct {
	// Message is what the module said, verbatim.
	Message string
}

func (e *FailedError) Error() string { return "wasm module: ProcessingFailed: " + e.Message }

// Is makes errors.Is(err, ErrProcessingFailed) true.
func (e *FailedError) Is(target error) bool { return target == ErrProcessingFailed }

// maxFrame is the largest frame the 32-bit address space can hold.
const maxFrame = math.MaxUint32

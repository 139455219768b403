package guest

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ABIVersion is the version of docs/wasm-abi.md this SDK implements.
const ABIVersion = 1

// Frame magics: input batch, output results, output batch failure.
const (
	magicIn    = "HYDI"
	magicOut   = "HYDO"
	magicError = "HYDE"
)

var le = binary.LittleEndian

// errShort reports an input frame that ends inside a field.
var errShort = errors.New("input frame truncated")

// run decodes the input frame in, calls h for every record and appends the
// output frame to out[:0]. A frame it cannot read yields a batch-failure
// frame, so that the host reports the problem instead of a trap.
func run(h Handler, in, out []byte) []byte {
	out = out[:0]
	res, err := runRecords(h, in, out)
	if err != nil {
		return appendBatchError(out, err.Error())
	}
	return res
}

func runRecords(h Handler, in, out []byte) ([]byte, error) {
	if h == nil {
		return nil, errors.New("no handler registered: call guest.Handle from an init function")
	}
	if len(in) < 12 || string(in[:4]) != magicIn {
		return nil, errors.New("input frame: bad magic")
	}
	if v := le.Uint32(in[4:]); v != ABIVersion {
		return nil, fmt.Errorf("input frame: ABI version %d, this SDK speaks %d", v, ABIVersion)
	}
	b := batch{in: in, p: 12, n: le.Uint32(in[8:])}
	out = append(out, magicOut...)
	out = le.AppendUint32(out, ABIVersion)
	b.out = le.AppendUint32(out, b.n)
	for b.i < b.n {
		if msg, panicked := b.loop(h); panicked {
			// The record's verdict was not written yet: fail it alone.
			b.out = appendResult(b.out, b.rec.ID, Fail("panic: "+msg))
			b.i++
		}
		if b.err != nil {
			return nil, fmt.Errorf("input frame: record %d: %w", b.i, b.err)
		}
	}
	if b.p != len(in) {
		return nil, fmt.Errorf("input frame: %d trailing bytes", len(in)-b.p)
	}
	return b.out, nil
}

// batch is the state of one run, kept outside loop so that a panic in the
// Handler can be recovered once and the loop resumed after that record.
type batch struct {
	in   []byte
	p    int // read offset in in
	i, n uint32
	rec  Record
	out  []byte
	err  error
}

// loop decodes records and calls h until the batch ends, a field runs
// past the frame (b.err) or h panics. It is one function with as few calls
// per record as possible: a Go module compiled with termination checks
// pays for every function entry, which the host's deadline requires.
func (b *batch) loop(h Handler) (msg string, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			msg, panicked = fmt.Sprint(p), true
		}
	}()
	in := b.in
	for ; b.i < b.n; b.i++ {
		// Unrolled, with inlined helpers: no loop or call per field.
		p := b.p
		id, p, ok1 := field(in, p)
		arrived, p, ok2 := fixed(in, p)
		key, p, ok3 := field(in, p)
		shard, p, ok4 := field(in, p)
		seq, p, ok5 := fixed(in, p)
		data, p, ok6 := field(in, p)
		if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
			b.err = errShort
			return "", false
		}
		b.p = p
		b.rec = Record{ID: id, ArrivedMillis: int64(arrived), PartitionKey: key, Shard: shard, Sequence: seq, Data: data}
		res := h(&b.rec)
		out := b.out
		st := res.status
		if st > StatusUnchanged {
			res = Failf("invalid result status %d", st)
			st = StatusFailed
		}
		out = append(out, byte(st))
		out = le.AppendUint32(out, uint32(len(b.rec.ID)))
		out = append(out, b.rec.ID...)
		if st == StatusOk || st == StatusFailed {
			out = le.AppendUint32(out, uint32(len(res.payload)))
			out = append(out, res.payload...)
		} else {
			out = le.AppendUint32(out, 0)
		}
		if st == StatusOk || st == StatusUnchanged {
			out = le.AppendUint32(out, uint32(len(res.keys)))
			for _, kv := range res.keys {
				out = le.AppendUint32(out, uint32(len(kv.Key)))
				out = append(out, kv.Key...)
				out = le.AppendUint32(out, uint32(len(kv.Value)))
				out = append(out, kv.Value...)
			}
		} else {
			out = le.AppendUint32(out, 0)
		}
		b.out = out
	}
	return "", false
}

// field reads a length-prefixed byte string at in[p:]; small enough to be
// inlined.
func field(in []byte, p int) ([]byte, int, bool) {
	if p < 0 || len(in)-p < 4 {
		return nil, p, false
	}
	l := int(le.Uint32(in[p:]))
	p += 4
	if l < 0 || l > len(in)-p {
		return nil, p, false
	}
	return in[p : p+l : p+l], p + l, true
}

// fixed reads a little-endian uint64 at in[p:].
func fixed(in []byte, p int) (uint64, int, bool) {
	if p < 0 || len(in)-p < 8 {
		return 0, p, false
	}
	return le.Uint64(in[p:]), p + 8, true
}

func appendBytes(out, b []byte) []byte {
	out = le.AppendUint32(out, uint32(len(b)))
	return append(out, b...)
}

func appendString(out []byte, s string) []byte {
	out = le.AppendUint32(out, uint32(len(s)))
	return append(out, s...)
}

func appendResult(out, id []byte, res Result) []byte {
	st := res.status
	if st > StatusUnchanged {
		st = StatusFailed
		res = Failf("invalid result status %d", res.status)
	}
	out = append(out, byte(st))
	out = appendBytes(out, id)
	switch st {
	case StatusOk, StatusFailed:
		out = appendBytes(out, res.payload)
	default:
		out = le.AppendUint32(out, 0)
	}
	if st != StatusOk && st != StatusUnchanged {
		return le.AppendUint32(out, 0)
	}
	out = le.AppendUint32(out, uint32(len(res.keys)))
	for _, kv := range res.keys {
		out = appendString(out, kv.Key)
		out = appendString(out, kv.Value)
	}
	return out
}

func appendBatchError(out []byte, msg string) []byte {
	out = append(out[:0], magicError...)
	out = le.AppendUint32(out, ABIVersion)
	return appendString(out, msg)
}

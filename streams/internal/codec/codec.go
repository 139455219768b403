// Package codec lays out one record's fields (arrival time, partition
// key, metadata, data) as bytes. The local log stores one encoding per
// WAL entry; the JetStream backend frames several in one message.
package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hydrant-io/hydrant/streams/record"
)

// Record codec: how one record is stored in one WAL entry. The WAL already
// frames and checksums entries, so the codec only lays out fields:
//
//	version   1 byte  (codecVersion)
//	flags     1 byte  (flagMeta: a metadata block follows the key)
//	arrived   varint  arrival time, Unix milliseconds
//	keyLen    uvarint, then keyLen bytes of partition key
//	[meta]    uvarint pair count, then per pair uvarint len + key, uvarint len + value
//	data      the rest of the entry
//
// Shard, Seq and ID are not stored: they follow from where the entry lives.
const (
	codecVersion = 1
	flagMeta     = 1 << 0
)

// ErrCorrupt reports an entry the codec cannot decode.
var ErrCorrupt = errors.New("corrupt record entry")

// SizeMax bounds the encoded size of r, for buffer pre-sizing.
func SizeMax(r *record.Record) int {
	n := 2 + binary.MaxVarintLen64*2 + len(r.Key) + len(r.Data)
	if len(r.Meta) > 0 {
		n += binary.MaxVarintLen64
		for k, v := range r.Meta {
			n += 2*binary.MaxVarintLen64 + len(k) + len(v)
		}
	}
	return n
}

// Append appends the encoding of r to dst.
func Append(dst []byte, r *record.Record) []byte {
	var flags byte
	if len(r.Meta) > 0 {
		flags |= flagMeta
	}
	dst = append(dst, codecVersion, flags)
	dst = binary.AppendVarint(dst, r.Arrived.UnixMilli())
	dst = binary.AppendUvarint(dst, uint64(len(r.Key)))
	dst = append(dst, r.Key...)
	if flags&flagMeta != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(r.Meta)))
		for k, v := range r.Meta {
			dst = binary.AppendUvarint(dst, uint64(len(k)))
			dst = append(dst, k...)
			dst = binary.AppendUvarint(dst, uint64(len(v)))
			dst = append(dst, v...)
		}
	}
	return append(dst, r.Data...)
}

// Decoded is a decoded entry whose slices alias the entry bytes.
type Decoded struct {
	ArrivedMs int64
	Key       []byte
	Meta      map[string]string // nil unless the entry has a metadata block
	Data      []byte
}

// Decode decodes one entry without copying key or data.
func Decode(b []byte) (Decoded, error) {
	var d Decoded
	if len(b) < 2 {
		return d, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != codecVersion {
		return d, fmt.Errorf("%w: unknown version %d", ErrCorrupt, b[0])
	}
	flags := b[1]
	if flags&^flagMeta != 0 {
		return d, fmt.Errorf("%w: unknown flags %#x", ErrCorrupt, flags)
	}
	b = b[2:]
	ms, n := binary.Varint(b)
	if n <= 0 {
		return d, fmt.Errorf("%w: bad arrival time", ErrCorrupt)
	}
	d.ArrivedMs = ms
	b = b[n:]
	if d.Key, b = takeBytes(b); b == nil {
		return d, fmt.Errorf("%w: bad key", ErrCorrupt)
	}
	if flags&flagMeta != 0 {
		cnt, n := binary.Uvarint(b)
		// Every pair takes at least two bytes, which bounds cnt before allocating.
		if n <= 0 || cnt > uint64(len(b)-n)/2 {
			return d, fmt.Errorf("%w: bad metadata count", ErrCorrupt)
		}
		b = b[n:]
		d.Meta = make(map[string]string, cnt)
		for range cnt {
			var k, v []byte
			if k, b = takeBytes(b); b == nil {
				return d, fmt.Errorf("%w: bad metadata key", ErrCorrupt)
			}
			if v, b = takeBytes(b); b == nil {
				return d, fmt.Errorf("%w: bad metadata value", ErrCorrupt)
			}
			d.Meta[string(k)] = string(v)
		}
	}
	d.Data = b
	return d, nil
}

// takeBytes reads a uvarint length and that many bytes. The rest is nil
// (not merely empty) on error.
func takeBytes(b []byte) (field, rest []byte) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return nil, nil
	}
	end := n + int(l)
	return b[n:end:end], b[end:]
}

// ArrivedTime converts stored milliseconds back to a time.
func ArrivedTime(ms int64) time.Time { return time.UnixMilli(ms) }

// Records copies decoded entries into records. All Data share one
// allocation and all keys one string, which keeps decoding to a few
// allocations per batch. ID, Shard and Seq are left to the caller: they
// follow from where the entries were stored.
func Records(decs []Decoded) []record.Record {
	out := make([]record.Record, len(decs))
	var dataLen, keyLen int
	for _, d := range decs {
		dataLen += len(d.Data)
		keyLen += len(d.Key)
	}
	data := make([]byte, 0, dataLen)
	keyBuf := make([]byte, 0, keyLen)
	for _, d := range decs {
		keyBuf = append(keyBuf, d.Key...)
	}
	keys := string(keyBuf)
	koff := 0
	for i, d := range decs {
		start := len(data)
		data = append(data, d.Data...)
		out[i] = record.Record{
			Key:     keys[koff : koff+len(d.Key)],
			Data:    data[start:len(data):len(data)],
			Arrived: ArrivedTime(d.ArrivedMs),
			Meta:    d.Meta,
		}
		koff += len(d.Key)
	}
	return out
}

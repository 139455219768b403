package streams

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

// errCorruptRecord reports an entry the codec cannot decode.
var errCorruptRecord = errors.New("corrupt record entry")

// encodedSizeMax bounds the encoded size of r, for buffer pre-sizing.
func encodedSizeMax(r *record.Record) int {
	n := 2 + binary.MaxVarintLen64*2 + len(r.Key) + len(r.Data)
	if len(r.Meta) > 0 {
		n += binary.MaxVarintLen64
		for k, v := range r.Meta {
			n += 2*binary.MaxVarintLen64 + len(k) + len(v)
		}
	}
	return n
}

// appendRecord appends the encoding of r to dst.
func appendRecord(dst []byte, r *record.Record) []byte {
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

// decodedRecord is a decoded entry whose slices alias the entry bytes.
type decodedRecord struct {
	arrivedMs int64
	key       []byte
	meta      map[string]string // nil unless the entry has a metadata block
	data      []byte
}

// decodeRecord decodes one entry without copying key or data.
func decodeRecord(b []byte) (decodedRecord, error) {
	var d decodedRecord
	if len(b) < 2 {
		return d, fmt.Errorf("%w: %d bytes", errCorruptRecord, len(b))
	}
	if b[0] != codecVersion {
		return d, fmt.Errorf("%w: unknown version %d", errCorruptRecord, b[0])
	}
	flags := b[1]
	if flags&^flagMeta != 0 {
		return d, fmt.Errorf("%w: unknown flags %#x", errCorruptRecord, flags)
	}
	b = b[2:]
	ms, n := binary.Varint(b)
	if n <= 0 {
		return d, fmt.Errorf("%w: bad arrival time", errCorruptRecord)
	}
	d.arrivedMs = ms
	b = b[n:]
	if d.key, b = takeBytes(b); b == nil {
		return d, fmt.Errorf("%w: bad key", errCorruptRecord)
	}
	if flags&flagMeta != 0 {
		cnt, n := binary.Uvarint(b)
		// Every pair takes at least two bytes, which bounds cnt before allocating.
		if n <= 0 || cnt > uint64(len(b)-n)/2 {
			return d, fmt.Errorf("%w: bad metadata count", errCorruptRecord)
		}
		b = b[n:]
		d.meta = make(map[string]string, cnt)
		for range cnt {
			var k, v []byte
			if k, b = takeBytes(b); b == nil {
				return d, fmt.Errorf("%w: bad metadata key", errCorruptRecord)
			}
			if v, b = takeBytes(b); b == nil {
				return d, fmt.Errorf("%w: bad metadata value", errCorruptRecord)
			}
			d.meta[string(k)] = string(v)
		}
	}
	d.data = b
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

// arrivedTime converts stored milliseconds back to a time.
func arrivedTime(ms int64) time.Time { return time.UnixMilli(ms) }

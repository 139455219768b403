package jetstream

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/hydrant-io/hydrant/streams/internal/codec"
	"github.com/hydrant-io/hydrant/streams/record"
)

// seqBits is how many low bits of a record's sequence number hold its
// index within its message.
const seqBits = 16

// maxPerMessage is how many records one message may carry.
const maxPerMessage = 1 << seqBits

// frameVersion leads every message body.
const frameVersion = 1

// errCorruptMessage reports a message body that does not decode.
var errCorruptMessage = errors.New("corrupt stream message")

// seqOf is the sequence number of the record at index i of the message
// with stream sequence msgSeq.
func seqOf(msgSeq uint64, i int) uint64 { return msgSeq<<seqBits | uint64(i) }

// splitSeq is seqOf's inverse.
func splitSeq(seq uint64) (msgSeq uint64, i int) {
	return seq >> seqBits, int(seq & (maxPerMessage - 1))
}

// frameSize bounds the framed size of r.
func frameSize(r *record.Record) int { return binary.MaxVarintLen64 + codec.SizeMax(r) }

// appendFrame appends r, framed by its length, to a message body.
func appendFrame(body []byte, r *record.Record) []byte {
	if len(body) == 0 {
		body = append(body, frameVersion)
	}
	var tmp [binary.MaxVarintLen64]byte
	mark := len(body)
	body = append(body, tmp[:]...) // room for the length, fixed below
	body = codec.Append(body, r)
	n := len(body) - mark - len(tmp)
	l := binary.PutUvarint(tmp[:], uint64(n))
	copy(body[mark:], tmp[:l])
	return append(body[:mark+l], body[mark+len(tmp):]...)
}

// decodeMessage splits a message body into its records' encodings,
// without copying.
func decodeMessage(body []byte) ([]codec.Decoded, error) {
	if len(body) == 0 || body[0] != frameVersion {
		return nil, fmt.Errorf("%w: no version byte", errCorruptMessage)
	}
	body = body[1:]
	var out []codec.Decoded
	for len(body) > 0 {
		if len(out) == maxPerMessage {
			return nil, fmt.Errorf("%w: more than %d records", errCorruptMessage, maxPerMessage)
		}
		l, n := binary.Uvarint(body)
		if n <= 0 || l > uint64(len(body)-n) {
			return nil, fmt.Errorf("%w: bad frame length", errCorruptMessage)
		}
		d, err := codec.Decode(body[n : n+int(l)])
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", len(out), err)
		}
		out = append(out, d)
		body = body[n+int(l):]
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no records", errCorruptMessage)
	}
	return out, nil
}

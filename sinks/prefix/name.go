package prefix

import (
	"encoding/binary"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// nameSpace is the UUID name space of Hydrant batch ids:
// uuid.NewSHA1(uuid.NameSpaceURL, "https://github.com/hydrant-io/hydrant/batch").
var nameSpace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/hydrant-io/hydrant/batch"))

// ObjectName returns Firehose's object name suffix
// <pipeline>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid><ext>, with t formatted in
// its own location (sinks pass UTC).
func ObjectName(pipeline string, version int, t time.Time, id uuid.UUID, ext string) string {
	b := make([]byte, 0, len(pipeline)+len(ext)+64)
	b = append(b, pipeline...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(version), 10)
	b = append(b, '-')
	b = appendPadded(b, t.Year(), 4)
	for _, v := range [...]int{int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second()} {
		b = append(b, '-')
		b = appendPadded(b, v, 2)
	}
	b = append(b, '-')
	b = appendUUID(b, id)
	b = append(b, ext...)
	return string(b)
}

// BatchUUID is a name-based (SHA-1) UUID of a batch range, so that a retried
// flush of the same range gets the same object name and overwrites rather
// than duplicates. extra distinguishes several objects of one range, e.g.
// the partition of a dynamically partitioned batch or a backup's error type.
func BatchUUID(pipeline, destination, shard string, first, last uint64, extra ...string) uuid.UUID {
	n := 3*4 + len(pipeline) + len(destination) + len(shard) + 16
	for _, e := range extra {
		n += 4 + len(e)
	}
	b := make([]byte, 0, n)
	// Length-prefix each field so that no two inputs share an encoding.
	field := func(s string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	field(pipeline)
	field(destination)
	field(shard)
	b = binary.BigEndian.AppendUint64(b, first)
	b = binary.BigEndian.AppendUint64(b, last)
	for _, e := range extra {
		field(e)
	}
	return uuid.NewSHA1(nameSpace, b)
}

// appendUUID appends id in its canonical 36-character form without the
// allocation of id.String.
func appendUUID(dst []byte, id uuid.UUID) []byte {
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexLower[c>>4], hexLower[c&15])
	}
	return dst
}

const hexLower = "0123456789abcdef"

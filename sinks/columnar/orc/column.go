package orc

import (
	"encoding/binary"
	"math"
	"math/big"
)

// Stream kinds, as in ORC's Stream.Kind.
const (
	streamPresent   = 0
	streamData      = 1
	streamLength    = 2
	streamSecondary = 5
)

// timestampBase is ORC's timestamp epoch, 2015-01-01 00:00:00 UTC, in
// seconds since 1970.
const timestampBase = 1420070400

// column buffers one column's streams for the current stripe (DIRECT v1
// encoding throughout). Children receive values only for rows where this
// column is present, as ORC requires.
type column struct {
	id       int
	t        *Type
	children []*column

	present   boolRLE
	nulls     bool   // a null was seen in this stripe: PRESENT is written
	data      []byte // raw DATA: floats, strings, binaries, decimals
	dataBool  *boolRLE
	dataInt   *intRLE
	lengthRLE *intRLE
	secondary *intRLE

	// statistics: this stripe and the whole file
	values, fileValues uint64
	fileNulls          bool
}

func newColumn(t *Type, next *int) *column {
	c := &column{id: *next, t: t}
	*next++
	switch t.Kind {
	case Boolean:
		c.dataBool = &boolRLE{}
	case Int, Long, Date:
		c.dataInt = &intRLE{signed: true}
	case String, Binary, List, Map:
		c.lengthRLE = &intRLE{}
	case Timestamp:
		c.dataInt = &intRLE{signed: true}
		c.secondary = &intRLE{}
	case Decimal:
		c.secondary = &intRLE{signed: true}
	}
	for _, ch := range t.Children {
		c.children = append(c.children, newColumn(ch, next))
	}
	return c
}

// write appends one value; the caller has checked its Go type (see Type).
func (c *column) write(v any) {
	c.present.write(v != nil)
	if v == nil {
		c.nulls = true
		return
	}
	c.values++
	switch c.t.Kind {
	case Boolean:
		c.dataBool.write(v.(bool))
	case Int:
		c.dataInt.write(int64(v.(int32)))
	case Long:
		c.dataInt.write(v.(int64))
	case Date:
		c.dataInt.write(int64(v.(int32)))
	case Float:
		c.data = binary.LittleEndian.AppendUint32(c.data, math.Float32bits(v.(float32)))
	case Double:
		c.data = binary.LittleEndian.AppendUint64(c.data, math.Float64bits(v.(float64)))
	case String:
		s := v.(string)
		c.data = append(c.data, s...)
		c.lengthRLE.write(int64(len(s)))
	case Binary:
		b := v.([]byte)
		c.data = append(c.data, b...)
		c.lengthRLE.write(int64(len(b)))
	case Timestamp:
		secs, nanos := splitMicros(v.(int64))
		c.dataInt.write(secs - timestampBase)
		c.secondary.write(encodeNanos(nanos))
	case Decimal:
		c.data = appendBigVarint(c.data, v.(*big.Int))
		c.secondary.write(int64(c.t.Scale))
	case List:
		items := v.([]any)
		c.lengthRLE.write(int64(len(items)))
		for _, x := range items {
			c.children[0].write(x)
		}
	case Map:
		entries := v.([]KeyValue)
		c.lengthRLE.write(int64(len(entries)))
		for _, e := range entries {
			c.children[0].write(e.Key)
			c.children[1].write(e.Value)
		}
	case Struct:
		fields := v.([]any)
		for i, ch := range c.children {
			ch.write(fields[i])
		}
	}
}

// splitMicros splits µs since the epoch into seconds and nanoseconds the
// way ORC readers expect: readers subtract a second from a negative
// seconds value whose nanos exceed 999,999, so such seconds are written
// rounded toward zero.
func splitMicros(us int64) (secs, nanos int64) {
	secs = us / 1e6
	rem := us % 1e6
	if rem < 0 {
		secs--
		rem += 1e6
	}
	nanos = rem * 1000
	if secs < 0 && nanos > 999_999 {
		secs++
	}
	return secs, nanos
}

// encodeNanos is ORC's SECONDARY encoding of a timestamp's nanoseconds:
// trailing decimal zeros are dropped and their count minus one kept in
// the low three bits.
func encodeNanos(n int64) int64 {
	if n == 0 {
		return 0
	}
	if n%100 != 0 {
		return n << 3
	}
	n /= 100
	zeros := int64(1)
	for n%10 == 0 && zeros < 7 {
		n /= 10
		zeros++
	}
	return n<<3 | zeros
}

// stream is one finished stream of a stripe.
type stream struct {
	kind   int
	column int
	data   []byte
}

// streams appends this column's and its children's finished streams in
// column order.
func (c *column) streams(out []stream) []stream {
	add := func(kind int, b []byte) {
		out = append(out, stream{kind: kind, column: c.id, data: b})
	}
	if c.nulls {
		add(streamPresent, c.present.bytes())
	}
	switch c.t.Kind {
	case Boolean:
		add(streamData, c.dataBool.bytes())
	case Int, Long, Date:
		add(streamData, c.dataInt.bytes())
	case Float, Double:
		add(streamData, c.data)
	case String, Binary:
		add(streamData, c.data)
		add(streamLength, c.lengthRLE.bytes())
	case Timestamp:
		add(streamData, c.dataInt.bytes())
		add(streamSecondary, c.secondary.bytes())
	case Decimal:
		add(streamData, c.data)
		add(streamSecondary, c.secondary.bytes())
	case List, Map:
		add(streamLength, c.lengthRLE.bytes())
	}
	for _, ch := range c.children {
		out = ch.streams(out)
	}
	return out
}

// size estimates the bytes buffered for this stripe.
func (c *column) size() int {
	n := len(c.data) + len(c.present.rle.out)
	for _, r := range []*intRLE{c.dataInt, c.lengthRLE, c.secondary} {
		if r != nil {
			n += len(r.out)
		}
	}
	if c.dataBool != nil {
		n += len(c.dataBool.rle.out)
	}
	for _, ch := range c.children {
		n += ch.size()
	}
	return n
}

// stats appends this stripe's column statistics (value counts and nulls)
// for this column and its children, and folds them into the file's.
func (c *column) stats(out []stats) []stats {
	out = append(out, stats{values: c.values, hasNull: c.nulls})
	c.fileValues += c.values
	c.fileNulls = c.fileNulls || c.nulls
	for _, ch := range c.children {
		out = ch.stats(out)
	}
	return out
}

func (c *column) fileStats(out []stats) []stats {
	out = append(out, stats{values: c.fileValues, hasNull: c.fileNulls})
	for _, ch := range c.children {
		out = ch.fileStats(out)
	}
	return out
}

// reset empties the stripe buffers, keeping their memory.
func (c *column) reset() {
	c.present.reset()
	c.nulls = false
	c.data = c.data[:0]
	for _, r := range []*intRLE{c.dataInt, c.lengthRLE, c.secondary} {
		if r != nil {
			r.reset()
		}
	}
	if c.dataBool != nil {
		c.dataBool.reset()
	}
	c.values = 0
	for _, ch := range c.children {
		ch.reset()
	}
}

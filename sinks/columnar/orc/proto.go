package orc

import "google.golang.org/protobuf/encoding/protowire"

// The ORC metadata messages (orc_proto.proto), encoded by hand with
// protowire: the handful of fields this writer sets do not justify
// generated code.

type streamInfo struct {
	kind, column int
	length       uint64
}

// stats is a column's statistics: ColumnStatistics.numberOfValues and
// hasNull only.
type stats struct {
	values  uint64
	hasNull bool
}

// pb builds one protobuf message.
type pb []byte

func (b pb) uint(field protowire.Number, v uint64) pb {
	b = protowire.AppendTag(b, field, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func (b pb) bytes(field protowire.Number, v []byte) pb {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func (b pb) packed(field protowire.Number, vs []uint64) pb {
	var inner []byte
	for _, v := range vs {
		inner = protowire.AppendVarint(inner, v)
	}
	return b.bytes(field, inner)
}

func (b pb) bool(field protowire.Number, v bool) pb {
	return b.uint(field, protowire.EncodeBool(v))
}

func stripeFooter(streams []streamInfo, columns int) []byte {
	var m pb
	for _, s := range streams {
		m = m.bytes(1, pb(nil).uint(1, uint64(s.kind)).uint(2, uint64(s.column)).uint(3, s.length))
	}
	direct := pb(nil).uint(1, 0) // ColumnEncoding{kind: DIRECT}
	for range columns {
		m = m.bytes(2, direct)
	}
	return m.bytes(3, []byte("UTC"))
}

func stripeInformation(offset, dataLen, footerLen, rows uint64) []byte {
	return pb(nil).uint(1, offset).uint(2, 0).uint(3, dataLen).uint(4, footerLen).uint(5, rows)
}

func columnStatistics(s stats) []byte {
	return pb(nil).uint(1, s.values).bool(10, s.hasNull)
}

func stripeStatistics(cols []stats) []byte {
	var m pb
	for _, s := range cols {
		m = m.bytes(1, columnStatistics(s))
	}
	return m
}

func metadata(stripeStats [][]byte) []byte {
	var m pb
	for _, s := range stripeStats {
		m = m.bytes(1, s)
	}
	return m
}

func typeMessage(t *Type, firstChild uint64) []byte {
	m := pb(nil).uint(1, uint64(t.Kind))
	if len(t.Children) > 0 {
		subs := make([]uint64, len(t.Children))
		id := firstChild
		for i, c := range t.Children {
			subs[i] = id
			id += uint64(len(flatten(c, nil)))
		}
		m = m.packed(2, subs)
	}
	for _, n := range t.FieldNames {
		m = m.bytes(3, []byte(n))
	}
	if t.Kind == Decimal {
		m = m.uint(5, uint64(t.Precision)).uint(6, uint64(t.Scale))
	}
	return m
}

// writerVersion 6 is ORC-135: readers trust column names and treat
// timestamp statistics as UTC.
const writerVersion = 6

func footer(content uint64, stripes [][]byte, types []*Type, rows uint64, cols []stats) []byte {
	m := pb(nil).uint(1, uint64(len(magic))).uint(2, content)
	for _, s := range stripes {
		m = m.bytes(3, s)
	}
	for i, t := range types {
		m = m.bytes(4, typeMessage(t, uint64(i+1)))
	}
	m = m.uint(6, rows)
	for _, s := range cols {
		m = m.bytes(7, columnStatistics(s))
	}
	return m.uint(8, 0) // rowIndexStride: no row indexes
}

func postScript(footerLen, metaLen uint64, c Compression, blockSize uint64) []byte {
	m := pb(nil).uint(1, footerLen).uint(2, uint64(c))
	if c != None {
		m = m.uint(3, blockSize)
	}
	m = m.packed(4, []uint64{0, 12}).uint(5, metaLen).uint(6, writerVersion)
	return m.bytes(8000, []byte(magic))
}

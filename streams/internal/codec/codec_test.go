package codec

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
)

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)

func TestCodec_RoundTrip(t *testing.T) {
	cases := []struct {
		name string
		rec  record.Record
	}{
		{"empty", record.Record{Arrived: time.UnixMilli(0)}},
		{"key and data", record.Record{Key: "k", Data: []byte("hello"), Arrived: testTime}},
		{"no key", record.Record{Data: []byte{0, 1, 2, 255}, Arrived: testTime}},
		{"meta", record.Record{Key: "k", Data: []byte("x"), Arrived: testTime, Meta: map[string]string{"a": "1", "": ""}}},
		{"pre-epoch", record.Record{Data: []byte("x"), Arrived: time.UnixMilli(-5)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := Append(nil, &tc.rec)
			require.LessOrEqual(t, len(b), SizeMax(&tc.rec))
			d, err := Decode(b)
			require.NoError(t, err)
			require.Equal(t, tc.rec.Key, string(d.Key))
			require.Equal(t, string(tc.rec.Data), string(d.Data))
			require.Equal(t, tc.rec.Arrived.UnixMilli(), d.ArrivedMs)
			if len(tc.rec.Meta) == 0 {
				require.Nil(t, d.Meta)
			} else {
				require.Equal(t, tc.rec.Meta, d.Meta)
			}
		})
	}
}

func TestCodec_RejectsCorrupt(t *testing.T) {
	for name, b := range map[string][]byte{
		"short":        {1},
		"version":      {2, 0, 0, 0},
		"flags":        {1, 0x80, 0, 0},
		"key overruns": {1, 0, 0, 5, 'a'},
		"meta count":   {1, 1, 0, 0, 100},
		"no arrival":   {1, 0},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(b)
			require.ErrorIs(t, err, ErrCorrupt)
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(Append(nil, &record.Record{Key: "k", Data: []byte("d"), Arrived: testTime}))
	f.Add(Append(nil, &record.Record{Data: []byte("d"), Meta: map[string]string{"a": "b"}}))
	f.Add([]byte{1, 1, 0, 0, 1, 1, 'a'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decode(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to something that decodes the same.
		r := record.Record{Key: string(d.Key), Data: d.Data, Arrived: ArrivedTime(d.ArrivedMs), Meta: d.Meta}
		d2, err := Decode(Append(nil, &r))
		require.NoError(t, err)
		require.Equal(t, d.Key, d2.Key)
		require.Equal(t, d.Data, d2.Data)
		require.Equal(t, d.ArrivedMs, d2.ArrivedMs)
		require.Equal(t, len(d.Meta), len(d2.Meta))
	})
}

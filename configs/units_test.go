package configs

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    ByteSize
		wantErr string
	}{
		{"0", 0, ""},
		{"1024", 1024, ""},
		{"10B", 10, ""},
		{"512KiB", 512 << 10, ""},
		{"64MiB", 64 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"2TiB", 2 << 40, ""},
		{"1000KiB", 1_024_000, ""},
		{"5MB", 5_000_000, ""},
		{"1kb", 1000, ""},
		{"1 GB", 1_000_000_000, ""},
		{"1.5MiB", 1536 << 10, ""},
		{"1_000", 1000, ""},
		{"", 0, `invalid size "": want a number and a unit such as 512KiB, 64MiB, 1GiB, 5MB`},
		{"-1MiB", 0, "size must not be negative"},
		{"5XB", 0, `invalid size "5XB": unknown unit "XB" (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)`},
		{"0.1B", 0, `invalid size "0.1B": not a whole number of bytes`},
		{"9999999TiB", 0, `invalid size "9999999TiB": too large`},
		{"99999999999999999999", 0, `invalid size "99999999999999999999": too large`},
		{"1.2.3MiB", 0, `invalid size "1.2.3MiB"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseByteSize(tt.in)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			again, err := ParseByteSize(got.String())
			require.NoError(t, err)
			require.Equal(t, got, again, "String must round-trip")
		})
	}
}

func TestByteSize_String(t *testing.T) {
	require.Equal(t, "5MiB", (5 * MiB).String())
	require.Equal(t, "1000KiB", DefaultMaxRecordBytes.String())
	require.Equal(t, "10GiB", DefaultMaxBacklogBytes.String())
	require.Equal(t, "1000B", ByteSize(1000).String())
	require.Equal(t, "0B", ByteSize(0).String())
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"0", 0, ""},
		{"500ms", 500 * time.Millisecond, ""},
		{"60s", time.Minute, ""},
		{"24h", 24 * time.Hour, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"300", 0, `invalid duration "300": missing unit (e.g. 300s)`},
		{"-1s", 0, "duration must not be negative"},
		{"soon", 0, `invalid duration "soon": want a Go duration such as 500ms, 60s, 24h`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got.D())
			require.Equal(t, tt.want.String(), got.String())
		})
	}
}

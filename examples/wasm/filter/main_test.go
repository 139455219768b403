package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sdk/wasm/guest"
)

func TestFilter(t *testing.T) {
	tests := []struct {
		in   string
		want guest.Status
	}{
		{"", guest.StatusDropped},
		{" \n", guest.StatusDropped},
		{`{"type":"heartbeat"}`, guest.StatusDropped},
		{`{"level":"DEBUG","msg":"x"}`, guest.StatusDropped},
		{`{"level":"info","type":"click"}`, guest.StatusUnchanged},
		{`not json`, guest.StatusUnchanged},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			require.Equal(t, tt.want, filter(&guest.Record{Data: []byte(tt.in)}).Status())
		})
	}
}

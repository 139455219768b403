package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sdk/wasm/guest"
)

func TestEnrich(t *testing.T) {
	at := time.Date(2024, 3, 9, 17, 4, 5, 0, time.UTC).UnixMilli()
	tests := []struct {
		name, in string
		want     []guest.KeyValue
		fail     bool
	}{
		{"string id", `{"customer_id":"c-1","type":"click"}`, []guest.KeyValue{
			{Key: "customer_id", Value: "c-1"}, {Key: "event_type", Value: "click"},
			{Key: "date", Value: "2024-03-09"}, {Key: "hour", Value: "17"}}, false},
		{"numeric id, no type", `{"customer_id":12345678901234567890}`, []guest.KeyValue{
			{Key: "customer_id", Value: "12345678901234567890"}, {Key: "event_type", Value: "unknown"},
			{Key: "date", Value: "2024-03-09"}, {Key: "hour", Value: "17"}}, false},
		{"no customer", `{"type":"click"}`, nil, true},
		{"not json", `nope`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := enrich(&guest.Record{Data: []byte(tt.in), ArrivedMillis: at})
			if tt.fail {
				require.Equal(t, guest.StatusFailed, res.Status())
				return
			}
			require.Equal(t, guest.StatusUnchanged, res.Status(), res.Message())
			require.Equal(t, tt.want, res.Keys())
		})
	}
}

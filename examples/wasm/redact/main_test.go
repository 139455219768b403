package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sdk/wasm/guest"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in, want string
		fail           bool
	}{
		{"flat", `{"email":"a@b.c","name":"Ann"}`, `{"email":"*****","name":"Ann"}`, false},
		{"nested and spaced", `{"user": {"phone" : "+1 555", "ip":"10.0.0.1"}}`, `{"user": {"phone" : "******", "ip":"********"}}`, false},
		{"number", `{"ssn":123456789,"n":12}`, `{"ssn":100000000,"n":12}`, false},
		{"escapes", `{"password":"p\"w\\","x":"\"email\":\"keep\""}`, `{"password":"******","x":"\"email\":\"keep\""}`, false},
		{"small numbers", `{"phone":[-7, 0.25, 3e+7]}`, `{"phone":[-7, 0.25, 3e+7]}`, false},
		{"scalar numbers", `{"phone":-7,"ip":0.25,"ssn":3e+17}`, `{"phone":-0,"ip":0.00,"ssn":0e+00}`, false},
		{"value named like a field", `{"kind":"email"}`, `{"kind":"email"}`, false},
		{"array of objects", `[{"email":"x"}]`, ``, true},
		{"not json", `hello`, ``, true},
		{"unterminated", `{"email":"abc`, ``, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &guest.Record{Data: []byte(tt.in)}
			res := redact(r)
			if tt.fail {
				require.Equal(t, guest.StatusFailed, res.Status())
				return
			}
			require.Equal(t, guest.StatusOk, res.Status(), res.Message())
			require.Equal(t, tt.want, string(res.Data()))
			require.True(t, json.Valid(res.Data()))
		})
	}
}

func FuzzRedact(f *testing.F) {
	f.Add([]byte(`{"email":"a@b.c","n":{"phone":-1.5e3}}`))
	f.Add([]byte(`{"password":"\\\"","ip":"`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		valid := json.Valid(data)
		n := len(data)
		res := redact(&guest.Record{Data: data})
		if res.Status() == guest.StatusOk {
			require.Len(t, res.Data(), n)
			if valid { // masking keeps valid JSON valid
				require.True(t, json.Valid(res.Data()), "%q", res.Data())
			}
		}
	})
}

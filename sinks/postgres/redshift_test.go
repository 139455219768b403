package postgres

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The COPY text Redshift receives, checked against golden files (go test
// -run TestCopySQL -update rewrites them; review the diff).
func TestCopySQL_Golden(t *testing.T) {
	cases := []struct {
		name                     string
		table                    string
		cols                     []Column
		manifest, creds, options string
	}{
		{"json_auto_gzip", `"public"."clicks"`, nil,
			"s3://staging/redshift/manifests/2026/12/07/10/clicks-1-2026-12-07-10-30-00-6f1c1ad0-6a3e-5b8e-9a43-1c2f0e0e7a11",
			"aws_iam_role=arn:aws:iam::123456789012:role/firehose-load", "FORMAT AS JSON 'auto' GZIP"},
		{"column_list", `"analytics"."Events"`, []Column{{Name: "user_id"}, {Name: "Page"}, {Name: "ts"}},
			"s3://staging/manifests/m", "aws_access_key_id=AKIA;aws_secret_access_key=s3cr3t", "JSON 'auto' GZIP TIMEFORMAT 'auto'"},
		{"quotes_in_literals", `"t"`, []Column{{Name: `we"ird`}},
			"s3://b/it's", "aws_iam_role=arn:aws:iam::1:role/o'brien", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := CopySQL(tc.table, tc.cols, tc.manifest, tc.creds, tc.options) + "\n"
			path := filepath.Join("testdata", "copy_"+tc.name+".sql")
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run with -update to create it")
			require.Equal(t, string(want), got)
		})
	}
}

func TestManifest(t *testing.T) {
	m, err := Manifest("s3://b/k1.gz", "s3://b/k2.gz")
	require.NoError(t, err)
	require.JSONEq(t, `{"entries":[{"url":"s3://b/k1.gz","mandatory":true},{"url":"s3://b/k2.gz","mandatory":true}]}`, string(m))
}

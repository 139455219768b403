// Command benchbody writes the request bodies scripts/bench-ingest.sh sends:
// 500 JSON records of 1 KiB each, as NDJSON and as a PutRecordBatch.
package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func record(i int) string {
	head := fmt.Sprintf(`{"id":%d,"user":"user-%d","page":"/p/%d","pad":"`, i, i%1000, i%97)
	return head + strings.Repeat("x", 1024-len(head)-2) + `"}`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: benchbody DIR")
		os.Exit(2)
	}
	var nd, fh bytes.Buffer
	fh.WriteString(`{"DeliveryStreamName":"events","Records":[`)
	for i := range 500 {
		r := record(i)
		nd.WriteString(r + "\n")
		if i > 0 {
			fh.WriteByte(',')
		}
		fh.WriteString(`{"Data":"` + base64.StdEncoding.EncodeToString([]byte(r)) + `"}`)
	}
	fh.WriteString(`]}`)
	for name, b := range map[string][]byte{"ndjson.body": nd.Bytes(), "firehose.body": fh.Bytes()} {
		if err := os.WriteFile(filepath.Join(os.Args[1], name), b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

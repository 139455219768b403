// Command benchbody writes the request bodies the benchmark scripts send:
// 500 JSON records of 1 KiB each per body, as NDJSON and as PutRecordBatch.
// With -keys K, record i carries "customer":"cK" for K distinct values
// (spread over -bodies files, so K may exceed 500). With -bucket it instead
// creates that bucket on the S3 endpoint given by HYDRANT_S3_* variables.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func record(i, keys int) string {
	head := fmt.Sprintf(`{"id":%d,"customer":"c%d","user":"user-%d","page":"/p/%d","pad":"`, i, i%keys, i%1000, i%97)
	return head + strings.Repeat("x", 1024-len(head)-2) + `"}`
}

func main() {
	keys := flag.Int("keys", 1000, "distinct customer values")
	bodies := flag.Int("bodies", 1, "request bodies to write (body-N.ndjson, body-N.firehose)")
	bucket := flag.String("bucket", "", "create this bucket on HYDRANT_S3_ENDPOINT and exit")
	flag.Parse()
	if *bucket != "" {
		if err := makeBucket(*bucket); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: benchbody [-keys K] [-bodies N] DIR | benchbody -bucket NAME")
		os.Exit(2)
	}
	dir := flag.Arg(0)
	for b := range *bodies {
		var nd, fh bytes.Buffer
		fh.WriteString(`{"DeliveryStreamName":"events","Records":[`)
		for i := range 500 {
			r := record(b*500+i, *keys)
			nd.WriteString(r + "\n")
			if i > 0 {
				fh.WriteByte(',')
			}
			fh.WriteString(`{"Data":"` + base64.StdEncoding.EncodeToString([]byte(r)) + `"}`)
		}
		fh.WriteString(`]}`)
		files := map[string][]byte{fmt.Sprintf("body-%d.ndjson", b): nd.Bytes(), fmt.Sprintf("body-%d.firehose", b): fh.Bytes()}
		if b == 0 { // the names scripts/bench-ingest.sh reads
			files["ndjson.body"], files["firehose.body"] = nd.Bytes(), fh.Bytes()
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	}
}

func makeBucket(name string) error {
	get := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	u, err := url.Parse(get("HYDRANT_S3_ENDPOINT", "http://127.0.0.1:9000"))
	if err != nil {
		return err
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:  credentials.NewStaticV4(get("HYDRANT_S3_ACCESS_KEY", "minioadmin"), get("HYDRANT_S3_SECRET_KEY", "minioadmin"), ""),
		Secure: u.Scheme == "https", BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return err
	}
	ctx := context.Background()
	if ok, err := c.BucketExists(ctx, name); err != nil || ok {
		return err
	}
	return c.MakeBucket(ctx, name, minio.MakeBucketOptions{})
}

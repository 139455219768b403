package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
)

// delivered counts, for one destination, how often each record was
// delivered: counts[w][n] for record n of worker w (saturating at 255).
type delivered struct {
	name     string
	counts   [][]uint8
	objects  int
	other    int        // objects outside dataPrefix (backup / error output)
	badLines int        // lines that are not a soak record
	keys     []string   // object keys, in reading order
	first    [][]uint32 // index in keys of the first object holding record (w, n)
	dupes    []string   // a few duplicates: "id in KEY and KEY"
}

func newDelivered(name string) *delivered {
	return &delivered{name: name}
}

// add counts one delivery of record n of worker w in the object last
// added to keys.
func (d *delivered) add(w, n int) {
	for len(d.counts) <= w {
		d.counts = append(d.counts, nil)
		d.first = append(d.first, nil)
	}
	if n >= len(d.counts[w]) {
		d.counts[w] = append(d.counts[w], make([]uint8, n+1-len(d.counts[w]))...)
		d.first[w] = append(d.first[w], make([]uint32, n+1-len(d.first[w]))...)
	}
	obj := len(d.keys) - 1
	switch c := d.counts[w][n]; {
	case c == 0:
		d.first[w][n] = uint32(obj)
	case c == 1 && len(d.dupes) < 5 && (len(d.dupes) == 0 || !strings.HasSuffix(d.dupes[len(d.dupes)-1], d.keys[obj])):
		d.dupes = append(d.dupes, recordID(w, n)+" in "+d.keys[d.first[w][n]]+" and "+d.keys[obj])
	}
	if d.counts[w][n] < 255 {
		d.counts[w][n]++
	}
}

// count is how often record n of worker w was delivered.
func (d *delivered) count(w, n int) int {
	if w < len(d.counts) && n < len(d.counts[w]) {
		return int(d.counts[w][n])
	}
	return 0
}

// addObject counts the records of one object's (decoded) body.
func (d *delivered) addObject(key string, body io.Reader) error {
	if !strings.HasPrefix(key, dataPrefix) {
		d.other++
		return nil
	}
	d.objects++
	d.keys = append(d.keys, key)
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 1<<20), 8<<20)
	for sc.Scan() {
		var rec struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			d.badLines++
			continue
		}
		w, n, err := parseID(rec.ID)
		if err != nil {
			d.badLines++
			continue
		}
		d.add(w, n)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: read %s: %w", d.name, key, err)
	}
	return nil
}

// readDirectory reads every complete object under root (temporary
// ".tmp-" files excluded).
func readDirectory(name, root string) (*delivered, error) {
	d := newDelivered(name)
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read object: %w", err)
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return fmt.Errorf("object key: %w", err)
		}
		return d.addObject(filepath.ToSlash(rel), bytes.NewReader(b))
	})
	if err != nil {
		return nil, fmt.Errorf("%s: walk %s: %w", name, root, err)
	}
	return d, nil
}

// readBucket reads every object of bucket (gzip objects are decoded).
func readBucket(ctx context.Context, name string, c *minio.Client, bucket string) (*delivered, error) {
	d := newDelivered(name)
	for obj := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("%s: list %s: %w", name, bucket, obj.Err)
		}
		if err := readS3Object(ctx, d, c, bucket, obj.Key); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func readS3Object(ctx context.Context, d *delivered, c *minio.Client, bucket, key string) error {
	r, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return fmt.Errorf("%s: get %s: %w", d.name, key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("%s: read %s: %w", d.name, key, err)
	}
	var body io.Reader = bytes.NewReader(b)
	if strings.HasSuffix(key, ".gz") {
		zr, err := gzip.NewReader(body)
		if err != nil {
			return fmt.Errorf("%s: gunzip %s: %w", d.name, key, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			return fmt.Errorf("%s: gunzip %s: %w", d.name, key, err)
		}
		body = bytes.NewReader(plain)
	}
	return d.addObject(key, body)
}

// tally is one destination's line of the report.
type tally struct {
	name                string
	acked               int64
	deliveredUnique     int64
	deliveredUnacked    int64 // delivered but never acknowledged (allowed)
	missing             int64
	duplicateRecords    int64 // records delivered more than once
	duplicateCopies     int64 // extra copies over all of them
	objects, other, bad int
	missingSample       []string
	duplicateSample     []string // "id: key key"
}

// compare checks d against the ledger.
func compare(d *delivered, led *ledger) tally {
	t := tally{name: d.name, objects: d.objects, other: d.other, bad: d.badLines, duplicateSample: d.dupes}
	for w, ns := range d.counts {
		for k, n := range ns {
			if n == 0 {
				continue
			}
			t.deliveredUnique++
			if !led.isAcked(w, k) {
				t.deliveredUnacked++
			}
			if n > 1 {
				t.duplicateRecords++
				t.duplicateCopies += int64(n - 1)
			}
		}
	}
	led.each(func(w, k int) {
		t.acked++
		if d.count(w, k) == 0 {
			t.missing++
			if len(t.missingSample) < 10 {
				t.missingSample = append(t.missingSample, recordID(w, k))
			}
		}
	})
	return t
}

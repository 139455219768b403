package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// Names in the soak's pipeline file.
const (
	pipelineName = "soak"
	bucketName   = "soak"
	dataPrefix   = "data/"
)

// writeConfig writes the pipeline file: one pipeline of two shards, its
// records delivered to a directory (plain NDJSON) and to MinIO (gzip),
// with small buffers so that delivery never stops.
func writeConfig(dir, addr, dataDir, lake, s3Endpoint string) (string, error) {
	cfg := fmt.Sprintf(`version: 1
server:
  listen: %s
  data_dir: %s
stores:
  local: { type: directory, path: %s }
  minio: { type: s3, endpoint: %q, access_key_id: %q, secret_access_key: %q, path_style: true }
pipelines:
  - name: %s
    stream: { shards: 2 }
    processors:
      - type: append_delimiter
    destinations:
      - name: lake
        type: directory
        store: local
        prefix: %q
        buffer: { size: 1MiB, interval: 1s }
      - name: s3
        type: s3
        store: minio
        bucket: %s
        prefix: %q
        compression: gzip
        buffer: { size: 1MiB, interval: 1s }
`, addr, dataDir, lake, s3Endpoint, minioUser, minioPassword, pipelineName, dataPrefix, bucketName, dataPrefix)
	path := filepath.Join(dir, "hydrant.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return "", fmt.Errorf("write config: %w", err)
	}
	return path, nil
}

package configs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func noEnv(string) (string, bool) { return "", false }

func TestExamples_LoadWithoutErrors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("examples", "*.yaml"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 3)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f, noEnv)
			require.NoError(t, err)
			require.NotEmpty(t, c.Pipelines)
			require.Equal(t, "examples", c.BaseDir)
		})
	}
}

func TestExamples_FullSpecExampleDecodesEveryDestination(t *testing.T) {
	c, err := Load(filepath.Join("examples", "full.yaml"), noEnv)
	require.NoError(t, err)
	p := c.Pipelines[0]
	require.Equal(t, "clickstream", p.Name)
	require.Equal(t, 4, p.Stream.Shards)
	require.Len(t, p.Destinations, 6)
	require.Equal(t, []string{"./bin/mask-pii", "--strict"}, p.Processors[2].Command)
	lake := p.Destinations[0]
	require.Equal(t, 64*MiB, lake.Buffer.Size)
	require.Equal(t, 256*MiB, lake.Buffer.MaxBytes)
	require.Equal(t, "parquet", lake.Format.Type)
	require.Equal(t, "snappy", lake.Format.Compression)
	require.Equal(t, Columns{{Name: "user_id", Query: ".user_id"}, {Name: "page", Query: ".page"}, {Name: "ts", Query: ".timestamp"}}, p.Destinations[2].Columns)
	require.Equal(t, map[string]string{"team": "data"}, p.Destinations[4].CommonAttributes)
	require.Equal(t, "dev-partner-key", p.Destinations[4].AccessKey)
	require.Equal(t, []string{"dev-api-key"}, c.Server.Auth.APIKeys)
	require.True(t, c.Stores["lake"].PathStyle)
	// A non-object destination with no backup store gets the built-in one.
	require.Equal(t, DefaultBackupStore, p.Destinations[4].Backup.Store)
	require.Equal(t, Store{Type: StoreDirectory, Path: "./var/hydrant/backup"}, c.Stores[DefaultBackupStore])
	// Redshift backs up into its staging location.
	require.Equal(t, Backup{Store: "lake", Bucket: "staging", Prefix: DefaultBackupPrefix, Mode: BackupFailedOnly}, p.Destinations[3].Backup)
}

func TestExamples_MissingSchemaIsReported(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("examples", "full.yaml"))
	require.NoError(t, err)
	_, err = ParseWith("full.yaml", data, Options{Env: noEnv, BaseDir: t.TempDir()})
	require.Error(t, err)
	var errs Errors
	require.ErrorAs(t, err, &errs)
	require.Len(t, errs, 2) // lake and table both name schemas/click.yaml
	require.Contains(t, errs[0].Error(), "full.yaml:55:42:")
	require.Contains(t, errs[0].Error(), ": pipelines[0].destinations[0].format.schema: file ")
	require.Contains(t, errs[0].Error(), "does not exist")
}

func TestDefault_IsTheEmbeddedFile(t *testing.T) {
	c := Default()
	require.Equal(t, DefaultFile, c.File)
	require.Equal(t, "127.0.0.1:4575", c.Server.Listen)
	require.Equal(t, "./var/hydrant", c.Server.DataDir)
	require.Equal(t, Store{Type: StoreDirectory, Path: "./var/lake"}, c.Stores["local"])
	require.Len(t, c.Pipelines, 1)
	p := c.Pipelines[0]
	require.Equal(t, "events", p.Name)
	require.Equal(t, 2, p.Stream.Shards)
	require.Equal(t, []Processor{{Type: ProcessorAppendDelimiter, Delimiter: "\n"}}, p.Processors)
	require.Len(t, p.Destinations, 1)
	d := p.Destinations[0]
	require.Equal(t, "lake", d.Name)
	require.Equal(t, DestDirectory, d.Type)
	require.Equal(t, "local", d.Store)
	require.Empty(t, d.Prefix)
	require.Equal(t, Buffer{Size: 5 * MiB, Interval: Duration(10e9), MaxBytes: DefaultBufferMaxBytes}, d.Buffer)

	// The file on disk is the one embedded, and it loads on its own.
	onDisk, err := os.ReadFile("default.yaml")
	require.NoError(t, err)
	require.Equal(t, onDisk, DefaultYAML())
	fromDisk, err := Load("default.yaml", noEnv)
	require.NoError(t, err)
	require.Equal(t, c.Pipelines, fromDisk.Pipelines)
}

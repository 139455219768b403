// Package atomicfile replaces small files so that a crash leaves either the
// old or the new content, never a mix: the shard map and checkpoints use it.
package atomicfile

import (
	"os"
	"path/filepath"
)

// TempMarker is part of the name of a temporary file Write creates; a file
// with it in its name is a leftover of an interrupted Write.
const TempMarker = ".tmp-"

// Write replaces dir/name with data: a temp file in dir, fsync, rename over
// name, then a directory fsync so the rename itself is durable.
func Write(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, name+TempMarker+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

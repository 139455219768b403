// Package fsutil makes directory creation durable: a new directory exists
// after a power loss only once the directory holding its entry is synced.
package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// MkdirAllSync is os.MkdirAll whose result survives a crash: it creates
// the missing components of path one by one, outermost first, and fsyncs
// each one's parent so the new entry is on disk before anything is
// written below it.
func MkdirAllSync(path string, perm os.FileMode) error {
	missing, err := missingDirs(filepath.Clean(path))
	if err != nil {
		return err
	}
	for _, dir := range missing {
		// Another process may create the same directory meanwhile: that is
		// fine, its entry still needs to be durable.
		if err := os.Mkdir(dir, perm); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create dir: %w", err)
		}
		if err := SyncDir(filepath.Dir(dir)); err != nil {
			return err
		}
	}
	return nil
}

// missingDirs returns path and its ancestors that do not exist yet,
// outermost first. A non-directory in the way is an error.
func missingDirs(path string) ([]string, error) {
	var missing []string
	for p := path; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return nil, fmt.Errorf("create dir %s: %s: %w", path, p, syscall.ENOTDIR)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("create dir %s: %w", path, err)
		}
		missing = append(missing, p)
		if filepath.Dir(p) == p { // a root that does not exist: let Mkdir say why
			break
		}
	}
	slices.Reverse(missing)
	return missing, nil
}

// SyncDir fsyncs a directory, making the entries created in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// Package store keeps the state a real BMC keeps in flash: small documents
// written whole, atomically and durably. A write either lands completely or
// not at all, even under kill -9 or power loss, because the new content goes
// to a temporary file that is fsynced before it is renamed over the old one,
// and the directory is fsynced so the rename itself survives.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tempPrefix is how WriteFileAtomic names the temporary file for path:
// hidden, beside it (a rename is atomic only within one file system), and
// recognisable as path's own so RemoveStaleTemps can find it again.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// WriteFileAtomic replaces path with data durably.
//
// A process killed between creating the temporary file and renaming it
// leaves the temporary file behind; whoever owns path calls
// RemoveStaleTemps when it opens path.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tempPrefix(path)+"*")
	if err != nil {
		return fmt.Errorf("store: create temp for %s: %w", path, err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(name)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("store: write %s: %w", name, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("store: chmod %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("store: fsync %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", name, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("store: rename %s -> %s: %w", name, path, err)
	}
	ok = true
	return syncDir(dir)
}

// RemoveStaleTemps deletes the temporary files an interrupted
// WriteFileAtomic of path left in path's directory, and returns their
// names. It never reads them: a leftover is an unacknowledged write at
// best (the rename never happened, so path still holds the last complete
// version) and may hold secrets of something since deleted, such as a
// sealed password of a removed account.
//
// Call it when opening path, before the first write: a WriteFileAtomic of
// the same path running concurrently would lose its temporary file and
// fail. A missing directory is not an error (nothing was ever written).
// Only regular files named exactly as WriteFileAtomic names path's are
// touched, so "a.json" never removes the leftovers of "a.json.key".
func RemoveStaleTemps(path string) ([]string, error) {
	dir, prefix := filepath.Dir(path), tempPrefix(path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("store: list %s for stale temporary files: %w", dir, err)
	}
	var removed []string
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, prefix) || len(name) == len(prefix) || !e.Type().IsRegular() {
			continue
		}
		full := filepath.Join(dir, name)
		if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("store: remove stale temporary file %s: %w", full, err)
		}
		removed = append(removed, full)
	}
	if len(removed) > 0 {
		// The removals must survive a crash as much as the writes do,
		// or a later boot finds the secrets again.
		if err := syncDir(dir); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: fsync dir %s: %w", dir, err)
	}
	return nil
}

// JSON is one JSON document on disk.
type JSON struct {
	Path string
}

// ErrNotExist is returned by Load when nothing was ever saved.
var ErrNotExist = fs.ErrNotExist

// Load decodes the document into v.
func (j JSON) Load(v any) error {
	b, err := os.ReadFile(j.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store: %s: %w", j.Path, ErrNotExist)
		}
		return fmt.Errorf("store: read %s: %w", j.Path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("store: decode %s: %w", j.Path, err)
	}
	return nil
}

// RemoveStaleTemps removes the temporary files a crash left while saving
// this document; see the package function.
func (j JSON) RemoveStaleTemps() ([]string, error) { return RemoveStaleTemps(j.Path) }

// Save writes v atomically.
func (j JSON) Save(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", j.Path, err)
	}
	if err := os.MkdirAll(filepath.Dir(j.Path), 0o700); err != nil {
		return fmt.Errorf("store: mkdir for %s: %w", j.Path, err)
	}
	return WriteFileAtomic(j.Path, append(b, '\n'), 0o600)
}

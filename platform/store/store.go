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
)

// WriteFileAtomic replaces path with data durably.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
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

package mockups

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bmcemu/bmcemu/platform/store"
)

// Write stores t as a mockup under dir: one index.json per resource,
// indented the way DMTF's mockups are and with the server's property order
// kept. dir must be missing or empty: index.json files left from an earlier
// export would otherwise read back as resources the service no longer has,
// and an empty directory cannot hold symlinks that lead writes astray.
//
// Every path is checked before anything is written, so a tree holding a
// path that would escape dir writes nothing.
func Write(dir string, t Tree) error {
	if dir == "" {
		return errors.New("mockups: write: empty directory name")
	}
	files := make(map[string]string, len(t))
	// Case-insensitive file systems (macOS, Windows) would fold two
	// resources differing only in case into one file; Redfish ids are case
	// sensitive, so refuse rather than lose one.
	folded := make(map[string]string, len(t))
	for _, uri := range t.Paths() {
		f, err := fileFor(dir, uri)
		if err != nil {
			return fmt.Errorf("mockups: write %s: %w", dir, err)
		}
		low := strings.ToLower(uri)
		if other, ok := folded[low]; ok {
			return fmt.Errorf("mockups: write %s: %q and %q differ only in case and would share one file", dir, other, uri)
		}
		folded[low] = uri
		files[uri] = f
	}
	if err := emptyDir(dir); err != nil {
		return fmt.Errorf("mockups: write: %w", err)
	}
	for _, uri := range t.Paths() {
		var buf bytes.Buffer
		if err := json.Indent(&buf, t[uri], "", "    "); err != nil {
			return fmt.Errorf("mockups: write %s: invalid JSON: %w", uri, err)
		}
		buf.WriteByte('\n')
		f := files[uri]
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return fmt.Errorf("mockups: write %s: %w", uri, err)
		}
		if err := store.WriteFileAtomic(f, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("mockups: write %s: %w", uri, err)
		}
	}
	return nil
}

// emptyDir creates dir or checks that it holds nothing.
func emptyDir(dir string) error {
	d, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if len(names) > 0 {
		return fmt.Errorf("%s is not empty; choose a new directory or remove its contents", dir)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	return nil
}

// Read loads the mockup under dir, the directory holding redfish/. Every
// index.json becomes the resource named by its directory; headers.json
// and other files are ignored.
func Read(dir string) (Tree, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("mockups: read: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("mockups: read %s: not a directory", dir)
	}
	t := Tree{}
	err = filepath.WalkDir(dir, func(file string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() != indexFile {
			return nil
		}
		uri, err := pathFor(dir, file)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		doc, err := compact(b)
		if err != nil {
			return fmt.Errorf("%s: invalid JSON at %w", file, err)
		}
		t[uri] = doc
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mockups: read: %w", err)
	}
	if len(t) == 0 {
		return nil, fmt.Errorf("mockups: read %s: no %s files found", dir, indexFile)
	}
	for uri := range t {
		if uri == "/redfish" || strings.HasPrefix(uri, "/redfish/") {
			return t, nil
		}
	}
	// Pointing at DIR/redfish instead of DIR yields /v1/... keys that
	// would make every resource differ; say so instead.
	return nil, fmt.Errorf("mockups: read %s: no redfish/ directory; give the directory that contains redfish/", dir)
}

// Package mockups converts between a live Redfish service and a DMTF
// mockup: a directory tree that mirrors the service's URIs, one index.json
// per resource (DIR/redfish/v1/Systems/1/index.json holds
// /redfish/v1/Systems/1). That is the layout DMTF's Redfish-Mockup-Creator
// writes and Redfish-Mockup-Server serves, so a snapshot of the emulator
// can be diffed against a real server's mockup or served by DMTF's tools.
package mockups

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Tree is a set of Redfish resources keyed by URI path, without a trailing
// slash ("/redfish/v1", "/redfish/v1/Systems/1"). Values are compact JSON
// with the server's property order kept, so two trees holding the same
// documents compare byte for byte however they were indented on the wire
// or on disk.
type Tree map[string]json.RawMessage

// Paths returns the keys sorted, for deterministic iteration.
func (t Tree) Paths() []string {
	p := make([]string, 0, len(t))
	for k := range t {
		p = append(p, k)
	}
	slices.Sort(p)
	return p
}

// indexFile is the one file name a mockup keeps per resource. Mockups may
// also carry headers.json beside it; nothing here needs those.
const indexFile = "index.json"

// ErrUnsafePath is wrapped by errors about a resource path that cannot be
// mapped to a file strictly inside the mockup directory.
var ErrUnsafePath = errors.New("unsafe resource path")

// checkPath reports whether uri can become a directory of its own inside a
// mockup. Every rule exists to keep two distinct URIs from landing on the
// same file, or one URI from landing outside the tree: dot segments and
// absolute escapes walk out, empty segments collapse on disk, a backslash
// is a separator on Windows, and a segment named index.json would turn its
// parent's file into a directory.
func checkPath(uri string) error {
	if uri == "/" {
		return nil
	}
	if !strings.HasPrefix(uri, "/") {
		return fmt.Errorf("%q: %w: not absolute", uri, ErrUnsafePath)
	}
	for seg := range strings.SplitSeq(uri[1:], "/") {
		switch {
		case seg == "":
			return fmt.Errorf("%q: %w: empty segment or trailing slash", uri, ErrUnsafePath)
		case seg == "." || seg == "..":
			return fmt.Errorf("%q: %w: dot segment", uri, ErrUnsafePath)
		case strings.ContainsAny(seg, "\\\x00"):
			return fmt.Errorf("%q: %w: backslash or NUL", uri, ErrUnsafePath)
		case seg == indexFile:
			return fmt.Errorf("%q: %w: segment named %s", uri, ErrUnsafePath, indexFile)
		}
	}
	// IsLocal adds the platform's own rules (volume names, reserved
	// device names on Windows) to the ones above.
	if !filepath.IsLocal(filepath.FromSlash(uri[1:])) {
		return fmt.Errorf("%q: %w: not local to the mockup directory", uri, ErrUnsafePath)
	}
	return nil
}

// fileFor maps a resource path to its index.json under dir.
func fileFor(dir, uri string) (string, error) {
	if err := checkPath(uri); err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.FromSlash(uri[1:]), indexFile), nil
}

// pathFor is the inverse of fileFor for a file found under dir.
func pathFor(dir, file string) (string, error) {
	rel, err := filepath.Rel(dir, filepath.Dir(file))
	if err != nil {
		return "", fmt.Errorf("%s: not under %s: %w", file, dir, err)
	}
	if rel == "." {
		return "/", nil
	}
	return "/" + filepath.ToSlash(rel), nil
}

// compact normalises a document to the form a Tree holds. A UTF-8 byte
// order mark is dropped because editors on Windows add one to hand-edited
// mockups and encoding/json refuses it.
func compact(b []byte) (json.RawMessage, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		// Compact reports no offset in its SyntaxError; the validating
		// pass inside Unmarshal does.
		var raw json.RawMessage
		if uerr := json.Unmarshal(b, &raw); uerr != nil {
			err = uerr
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := position(b, se.Offset)
			return nil, fmt.Errorf("line %d column %d: %w", line, col, err)
		}
		return nil, err
	}
	return buf.Bytes(), nil
}

// position turns a byte offset into a 1-based line and column, which is
// what someone fixing a hand-edited file needs.
func position(b []byte, off int64) (line, col int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	if off < 0 {
		off = 0
	}
	before := b[:off]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	if col < 1 {
		col = 1
	}
	return line, col
}

package mockups

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzPathMapping checks that whatever a server calls a resource, Write's
// mapping either refuses it or puts it strictly inside the mockup, and
// Read's inverse gives the same name back.
func FuzzPathMapping(f *testing.F) {
	for _, s := range []string{
		"/", "/redfish", "/redfish/v1", "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1",
		"/redfish/v1/../x", "/redfish//v1", "/redfish/v1/", "redfish", "/a\\b", "/C:", "/NUL",
		"/redfish/v1/%2e%2e", "/redfish/v1/index.json", "/./x", "/\x00",
	} {
		f.Add(s)
	}
	dir := filepath.Join(f.TempDir(), "mockup")
	f.Fuzz(func(t *testing.T, uri string) {
		file, err := fileFor(dir, uri)
		if err != nil {
			return
		}
		rel, err := filepath.Rel(dir, file)
		if err != nil || !filepath.IsLocal(rel) {
			t.Fatalf("%q maps to %s, outside %s", uri, file, dir)
		}
		if filepath.Base(file) != indexFile {
			t.Fatalf("%q maps to %s", uri, file)
		}
		back, err := pathFor(dir, file)
		if err != nil || back != uri {
			t.Fatalf("%q -> %s -> %q (%v)", uri, file, back, err)
		}
	})
}

// FuzzCompact checks the JSON handling Read applies to each file: it
// accepts exactly valid JSON (after an optional byte order mark), keeps
// its meaning, and survives Write's re-indentation unchanged.
func FuzzCompact(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a": [1, 2.5e3, "x", null, true]}`, "\xef\xbb\xbf{\"Id\": \"1\"}",
		`{"a": }`, "{\n  \"Members\": [,]\n}", `"\u00e9"`, `[`, ``, `{"a":1} {"b":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := compact(b)
		valid := json.Valid(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")))
		if (err == nil) != valid {
			t.Fatalf("compact(%q) err = %v, json.Valid = %v", b, err, valid)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "line ") {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		var ind bytes.Buffer
		if err := json.Indent(&ind, doc, "", "    "); err != nil {
			t.Fatalf("Indent(%s): %v", doc, err)
		}
		again, err := compact(ind.Bytes())
		if err != nil || !bytes.Equal(again, doc) {
			t.Fatalf("indent round trip: %s -> %s (%v)", doc, again, err)
		}
		if d := Diff(Tree{"R": doc}, Tree{"R": again}); len(d) != 0 {
			t.Fatalf("self diff: %v", d)
		}
	})
}

// FuzzDiff checks Diff never panics and is symmetric: swapping the trees
// swaps only-in-A with only-in-B and nothing else.
func FuzzDiff(f *testing.F) {
	f.Add([]byte(`{"a":1,"M":[{"@odata.id":"/x"}]}`), []byte(`{"a":2,"M":[{"@odata.id":"/y"},{"@odata.id":"/x"}]}`))
	f.Add([]byte(`[1,2]`), []byte(`[1,2,3]`))
	f.Add([]byte(`1e400`), []byte(`1`))
	f.Add([]byte(`{`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ab := Diff(Tree{"R": a}, Tree{"R": b})
		ba := Diff(Tree{"R": b}, Tree{"R": a})
		if len(ab) != len(ba) {
			t.Fatalf("asymmetric: %v vs %v", ab, ba)
		}
		if json.Valid(a) {
			if d := Diff(Tree{"R": a}, Tree{"R": a}); len(d) != 0 {
				t.Fatalf("self diff of %s: %v", a, d)
			}
		}
		for _, d := range ab {
			_ = d.String()
		}
	})
}

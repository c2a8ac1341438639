package mockups

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func crawlHandBuilt(t *testing.T) Tree {
	t.Helper()
	srv, _ := newHandBuilt(t)
	tree, err := Crawl(context.Background(), testClient(srv.URL), "")
	if err != nil {
		t.Fatalf("Crawl: %v", err)
	}
	return tree
}

func TestWriteReadRoundTrip(t *testing.T) {
	tree := crawlHandBuilt(t)
	dir := filepath.Join(t.TempDir(), "mockup")
	if err := Write(dir, tree); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if !maps.EqualFunc(got, tree, sameJSON) {
		t.Errorf("round trip differs:\n got %v\nwant %v", got.Paths(), tree.Paths())
	}
	if d := Diff(tree, got); len(d) != 0 {
		t.Errorf("Diff after round trip: %v", d)
	}

	// DMTF's layout, indentation, and the server's property order.
	b, err := os.ReadFile(filepath.Join(dir, "redfish", "v1", "Chassis", "1", "Sensors", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n    \"@odata.id\": \"/redfish/v1/Chassis/1/Sensors\",\n    \"Members\": []\n}\n"; string(b) != want {
		t.Errorf("file =\n%s\nwant\n%s", b, want)
	}
	for _, f := range []string{"redfish/index.json", "redfish/v1/index.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
}

func TestWriteRefusesUnsafePaths(t *testing.T) {
	for _, uri := range []string{
		"/redfish/v1/../../escape",
		"/redfish/v1/Systems/..",
		"/redfish/./v1",
		"/redfish/v1//Systems",
		"/redfish/v1/Systems/",
		"redfish/v1",
		"",
		`/redfish/v1/a\..\..\b`,
		"/redfish/v1/index.json/x",
		"/redfish/v1/nul\x00",
	} {
		t.Run(uri, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			tree := Tree{"/redfish/v1": []byte(`{}`), uri: []byte(`{}`)}
			err := Write(dir, tree)
			if !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("Write(%q) = %v, want ErrUnsafePath", uri, err)
			}
			if !strings.Contains(err.Error(), "unsafe resource path") {
				t.Errorf("error %q does not explain itself", err)
			}
			// Nothing is written, not even the safe resource.
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s was created (stat err %v)", dir, err)
			}
		})
	}
}

func TestWriteRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "stale"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := Write(dir, Tree{"/redfish/v1": []byte(`{}`)})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("err = %v, want a not-empty refusal", err)
	}
	// An existing empty directory is fine.
	if err := Write(t.TempDir(), Tree{"/redfish/v1": []byte(`{}`)}); err != nil {
		t.Fatalf("Write into empty dir: %v", err)
	}
}

func TestWriteRefusesCaseCollision(t *testing.T) {
	err := Write(t.TempDir(), Tree{"/redfish/v1/Systems/a": []byte(`{}`), "/redfish/v1/Systems/A": []byte(`{}`)})
	if err == nil || !strings.Contains(err.Error(), "differ only in case") {
		t.Fatalf("err = %v", err)
	}
}

func TestWriteRefusesInvalidJSON(t *testing.T) {
	err := Write(filepath.Join(t.TempDir(), "x"), Tree{"/redfish/v1": []byte(`{`)})
	if err == nil || !strings.Contains(err.Error(), "/redfish/v1") {
		t.Fatalf("err = %v, want an error naming the resource", err)
	}
}

func writeFile(t *testing.T, dir, rel, content string) string {
	t.Helper()
	f := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestReadBadJSONNamesFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "redfish/v1/index.json", `{"Systems": {"@odata.id": "/redfish/v1/Systems"}}`)
	bad := writeFile(t, dir, "redfish/v1/Systems/index.json", "{\n    \"Members\": [,]\n}\n")
	_, err := Read(dir)
	if err == nil {
		t.Fatal("Read accepted bad JSON")
	}
	if !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("err = %v, want it to name %s and the line", err, bad)
	}
}

func TestReadLayout(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "redfish/index.json", `{"v1": "/redfish/v1/"}`)
	// A byte order mark, as Windows editors leave.
	writeFile(t, dir, "redfish/v1/index.json", "\xef\xbb\xbf{ \"Id\" : \"RootService\" }")
	writeFile(t, dir, "redfish/v1/Systems/1/index.json", `{"Id": "1"}`)
	writeFile(t, dir, "redfish/v1/Systems/1/headers.json", `not even JSON`)
	writeFile(t, dir, "README.md", `# notes`)
	got, err := Read(dir)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	want := Tree{
		"/redfish":              []byte(`{"v1":"/redfish/v1/"}`),
		"/redfish/v1":           []byte(`{"Id":"RootService"}`),
		"/redfish/v1/Systems/1": []byte(`{"Id":"1"}`),
	}
	if !maps.EqualFunc(got, want, sameJSON) {
		t.Errorf("Read = %s, want %s", got, want)
	}

	// Pointing one level too deep is a common slip; say so.
	if _, err := Read(filepath.Join(dir, "redfish")); err == nil || !strings.Contains(err.Error(), "contains redfish/") {
		t.Errorf("Read(DIR/redfish) err = %v", err)
	}
	if _, err := Read(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no index.json") {
		t.Errorf("Read(empty) err = %v", err)
	}
	if _, err := Read(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Read(missing) err = %v", err)
	}
}

func sameJSON(a, b json.RawMessage) bool { return bytes.Equal(a, b) }

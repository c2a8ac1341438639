package schemacheck

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSchemaFor(t *testing.T) {
	for typ, want := range map[string]string{
		"#Memory.v1_23_0.Memory":                URLPrefix + "Memory.v1_23_0.json#/definitions/Memory",
		"#MemoryCollection.MemoryCollection":    URLPrefix + "MemoryCollection.json#/definitions/MemoryCollection",
		"#MemoryMetrics.v1_7_3.MemoryMetrics":   URLPrefix + "MemoryMetrics.v1_7_3.json#/definitions/MemoryMetrics",
		"#ServiceRoot.v1_19_0.ServiceRoot":      URLPrefix + "ServiceRoot.v1_19_0.json#/definitions/ServiceRoot",
		"#SessionService.v1_2_0.SessionService": URLPrefix + "SessionService.v1_2_0.json#/definitions/SessionService",
	} {
		if got, err := SchemaFor(typ); err != nil || got != want {
			t.Errorf("SchemaFor(%q) = %q, %v; want %q", typ, got, err, want)
		}
	}
	for _, bad := range []string{"", "Memory", "#Memory", "Memory.v1_0_0.Memory"} {
		if got, err := SchemaFor(bad); err == nil {
			t.Errorf("SchemaFor(%q) = %q, want an error", bad, got)
		}
	}
}

func TestLinksAndWalk(t *testing.T) {
	site := map[string]map[string]any{
		"/r": {"@odata.id": "/r", "Systems": map[string]any{"@odata.id": "/r/s"}},
		"/r/s": {"@odata.id": "/r/s", "Members": []any{
			map[string]any{"@odata.id": "/r/s/1"},
			map[string]any{"@odata.id": "/r/s/1#/Status"}, // a fragment: part of a resource
		}},
		"/r/s/1": {"@odata.id": "/r/s/1", "Links": map[string]any{"Up": []any{map[string]any{"@odata.id": "/r"}}}},
	}
	if got := Links(site["/r/s"]); !slices.Equal(got, []string{"/r/s/1"}) {
		t.Errorf("Links = %v", got)
	}
	var order []string
	n := Walk([]string{"/r"}, func(uri string) []string {
		order = append(order, uri)
		return Links(site[uri])
	})
	if n != 3 || !slices.Equal(order, []string{"/r", "/r/s", "/r/s/1"}) {
		t.Errorf("Walk visited %d: %v", n, order)
	}
}

func TestDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("REDFISH_SCHEMA_DIR", dir)
	if _, err := Dir(); err == nil || !strings.Contains(err.Error(), "REDFISH_SCHEMA_DIR") {
		t.Errorf("Dir on an empty folder: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ServiceRoot.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := Dir(); err != nil || got != dir {
		t.Errorf("Dir = %q, %v; want %q", got, err, dir)
	}
}

// The validator must bite on the real schemas: a Memory link with extra
// properties inside a collection fails, the plain link passes.
func TestTree(t *testing.T) {
	v := NewForTest(t)
	coll := func(member map[string]any) map[string]any {
		return map[string]any{
			"@odata.id": "/redfish/v1/Systems/1/Memory", "@odata.type": "#MemoryCollection.MemoryCollection",
			"Name": "Memory", "Members@odata.count": 1, "Members": []any{member},
		}
	}
	if n, errs := v.Tree(coll(map[string]any{"@odata.id": "/redfish/v1/Systems/1/Memory/A"})); n != 1 || len(errs) != 0 {
		t.Errorf("plain collection: %d validated, %v", n, errs)
	}
	if _, errs := v.Tree(coll(map[string]any{"@odata.id": "/redfish/v1/Systems/1/Memory/A", "Name": "x"})); len(errs) == 0 {
		t.Error("a link with extra properties validated")
	}
	// An embedded resource is checked on its own: this one lacks Id.
	embedded := map[string]any{"@odata.id": "/redfish/v1/Systems/1/Memory/A", "@odata.type": "#Memory.v1_20_0.Memory", "Name": "A"}
	n, errs := v.Tree(coll(embedded))
	if n != 2 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "embedded /redfish/v1/Systems/1/Memory/A") {
		t.Errorf("embedded member without Id: %d validated, %v", n, errs)
	}
}

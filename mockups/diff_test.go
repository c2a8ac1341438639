package mockups

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/spd"
	"github.com/bmcemu/bmcemu/redfish"
)

func strs(ds []Difference) []string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	return s
}

func TestDiff(t *testing.T) {
	a := Tree{
		"/redfish/v1":              []byte(`{"Id":"RootService"}`),
		"/redfish/v1/Managers/bmc": []byte(`{"DateTime":"2025-01-01T00:00:00Z","@odata.etag":"\"1\"","Status":{"State":"Enabled","Created":"x"},"FirmwareVersion":"1.0"}`),
		"/redfish/v1/Systems/1":    []byte(`{"MemorySummary":{"TotalSystemMemoryGiB":512},"Serial":18446744073709551615,"Ratio":0.5,"a/b~c":1,"Tags":["x","y"],"Old":true}`),
		"/redfish/v1/Gone":         []byte(`{}`),
	}
	b := Tree{
		"/redfish/v1":              []byte(`{"Id":"RootService"}`),
		"/redfish/v1/Managers/bmc": []byte(`{"DateTime":"2026-06-06T12:00:00Z","@odata.etag":"\"2\"","Status":{"State":"Enabled","Created":"y"},"FirmwareVersion":"1.0"}`),
		"/redfish/v1/Systems/1":    []byte(`{"MemorySummary":{"TotalSystemMemoryGiB":576},"Serial":18446744073709551614,"Ratio":5e-1,"a/b~c":2,"Tags":["x"],"New":null}`),
		"/redfish/v1/New":          []byte(`{}`),
	}
	want := []string{
		`/redfish/v1/Gone: only in A`,
		`/redfish/v1/New: only in B`,
		`/redfish/v1/Systems/1: /MemorySummary/TotalSystemMemoryGiB: 512 != 576`,
		`/redfish/v1/Systems/1: /New: (absent) != null`,
		`/redfish/v1/Systems/1: /Old: true != (absent)`,
		`/redfish/v1/Systems/1: /Serial: 18446744073709551615 != 18446744073709551614`,
		`/redfish/v1/Systems/1: /Tags/1: "y" != (absent)`,
		`/redfish/v1/Systems/1: /a~1b~0c: 1 != 2`,
	}
	if got := strs(Diff(a, b)); !slices.Equal(got, want) {
		t.Errorf("Diff:\n got %q\nwant %q", got, want)
	}
	if d := Diff(a, a); len(d) != 0 {
		t.Errorf("Diff(a, a) = %v", d)
	}

	// Ignoring nothing shows the volatile properties; pointers ignore a
	// subtree in every resource.
	got := strs(DiffWith(a, b, DiffOptions{Ignore: []string{"/MemorySummary", "Tags", "/Serial"}}))
	for _, s := range []string{
		`/redfish/v1/Managers/bmc: /DateTime: "2025-01-01T00:00:00Z" != "2026-06-06T12:00:00Z"`,
		`/redfish/v1/Managers/bmc: /Status/Created: "x" != "y"`,
		`/redfish/v1/Managers/bmc: /@odata.etag: "\"1\"" != "\"2\""`,
	} {
		if !slices.Contains(got, s) {
			t.Errorf("DiffWith without defaults lacks %s; got %q", s, got)
		}
	}
	for _, s := range got {
		if strings.Contains(s, "/MemorySummary") || strings.Contains(s, "/Tags") || strings.Contains(s, "/Serial") {
			t.Errorf("ignored property reported: %s", s)
		}
	}
}

func TestDiffDetails(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want []string
	}{
		{"numbers by value", `{"x":512}`, `{"x":512.0}`, nil},
		{"type change", `{"x":1}`, `{"x":"1"}`, []string{`R: /x: 1 != "1"`}},
		{"whole document", `[1]`, `{"x":1}`, []string{`R: [1] != {"x":1}`}},
		{"invalid JSON compared as bytes", `{`, `{"x":1}`, []string{`R: { != {"x":1}`}},
		{
			// A member added mid-collection is one addition, not a shift.
			"links matched by id",
			`{"Members":[{"@odata.id":"/m/A1"},{"@odata.id":"/m/B1"}]}`,
			`{"Members":[{"@odata.id":"/m/A1"},{"@odata.id":"/m/A2"},{"@odata.id":"/m/B1"}]}`,
			[]string{`R: /Members/1: (absent) != {"@odata.id":"/m/A2"}`},
		},
		{
			"links reordered",
			`{"Members":[{"@odata.id":"/m/A"},{"@odata.id":"/m/B"}]}`,
			`{"Members":[{"@odata.id":"/m/B"},{"@odata.id":"/m/A"}]}`,
			nil,
		},
		{
			"matched links compared",
			`{"Fans":[{"@odata.id":"/f#/0","Reading":1},{"@odata.id":"/f#/1","Reading":2}]}`,
			`{"Fans":[{"@odata.id":"/f#/1","Reading":2},{"@odata.id":"/f#/0","Reading":3}]}`,
			[]string{`R: /Fans/0/Reading: 1 != 3`},
		},
		{"long values shortened", `{"x":"` + strings.Repeat("é", 80) + `"}`, `{"x":0}`, []string{`R: /x: "` + strings.Repeat("é", 49) + `… != 0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strs(Diff(Tree{"R": json.RawMessage(tt.a)}, Tree{"R": json.RawMessage(tt.b)}))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestDiffJSON(t *testing.T) {
	d := Diff(Tree{"R": []byte(`{"x":1}`)}, Tree{"R": []byte(`{"x":2}`), "S": []byte(`{}`)})
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"kind":"changed","resource":"R","pointer":"/x","a":1,"b":2},{"kind":"only-in-b","resource":"S"}]`
	if string(b) != want {
		t.Errorf("JSON = %s\nwant %s", b, want)
	}
}

// TestEmulator crawls the real Redfish service, writes it out, reads it
// back, and checks that a hot-added module shows up in the diff.
func TestEmulator(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	plat, err := platform.New(profile.Default(), platform.Options{Clock: clk})
	if err != nil {
		t.Fatalf("platform.New: %v", err)
	}
	h, err := redfish.New(redfish.Config{Accounts: []redfish.Account{{UserName: "admin", Password: "password", Role: "Administrator"}}}, plat)
	if err != nil {
		t.Fatalf("redfish.New: %v", err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := testClient(srv.URL)

	before, err := Crawl(context.Background(), c, "")
	if err != nil {
		t.Fatalf("Crawl: %v", err)
	}
	for _, p := range []string{"/redfish", "/redfish/v1", "/redfish/v1/Systems/1", "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1", "/redfish/v1/Managers/bmc"} {
		if _, ok := before[p]; !ok {
			t.Errorf("crawl missed %s; got %q", p, before.Paths())
		}
	}

	dirA := filepath.Join(t.TempDir(), "a")
	if err := Write(dirA, before); err != nil {
		t.Fatalf("Write: %v", err)
	}
	readA, err := Read(dirA)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if d := Diff(before, readA); len(d) != 0 {
		t.Errorf("round trip differs: %v", d)
	}

	img, err := spd.Encode(plat.NewModuleSpec("CPU0_DIMM_A2", spd.Spec{CapacityGiB: 64}))
	if err != nil {
		t.Fatalf("spd.Encode: %v", err)
	}
	// A careful hot-add: attention isolates the slot (no bus noise on
	// CPU0_DIMM_A1), then the SMC, firmware and OS steps run to completion.
	if err := plat.PressAttention("CPU0_DIMM_A2"); err != nil {
		t.Fatalf("PressAttention: %v", err)
	}
	clk.RunUntilIdle(time.Minute)
	if _, err := plat.Insert("CPU0_DIMM_A2", img); err != nil {
		t.Fatalf("Insert: %v", err)
	}
	clk.RunUntilIdle(time.Minute)
	after, err := Crawl(context.Background(), c, "")
	if err != nil {
		t.Fatalf("Crawl after insert: %v", err)
	}
	dirB := filepath.Join(t.TempDir(), "b")
	if err := Write(dirB, after); err != nil {
		t.Fatalf("Write: %v", err)
	}
	readB, err := Read(dirB)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}

	got := strs(Diff(readA, readB))
	t.Logf("diff:\n%s", strings.Join(got, "\n"))
	for _, want := range []string{
		"/redfish/v1/Systems/1: /MemorySummary/TotalSystemMemoryGiB: 512 != 576",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("diff lacks %q", want)
		}
	}
	// The module's own resource, whether the service lists empty slots
	// (then it changes) or not (then it appears).
	found := false
	for _, s := range got {
		if strings.HasPrefix(s, "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2:") {
			found = true
		}
		if strings.HasPrefix(s, "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1:") {
			t.Errorf("untouched module differs: %s", s)
		}
	}
	if !found {
		t.Error("diff does not mention CPU0_DIMM_A2")
	}
}

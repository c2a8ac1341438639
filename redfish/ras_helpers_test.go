package redfish

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/conformance/schemacheck"
	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// operatorAccounts adds an Operator to the test accounts: the role the
// RAS actions are meant for.
var operatorAccounts = slices.Concat(testAccounts, []Account{{UserName: "operator", Password: "operator-pw", Role: RoleOperator}})

// newProfilePlatform boots a built-in profile (mirror, sparing, raid5,
// default) on a manual clock, like newPlatform.
func newProfilePlatform(t testing.TB, name string, mut func(*profile.Profile)) *platform.Platform {
	t.Helper()
	prof, err := profile.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	if mut != nil {
		mut(prof)
	}
	clk := clock.NewManual(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	p, err := platform.New(prof, platform.Options{Clock: clk})
	if err != nil {
		t.Fatalf("platform.New(%s): %v", name, err)
	}
	clocks.Store(p, clk)
	t.Cleanup(func() { clocks.Delete(p) })
	return p
}

// clockOf is the manual clock of a test platform.
func clockOf(t testing.TB, p *platform.Platform) *clock.Manual {
	t.Helper()
	c, ok := clocks.Load(p)
	if !ok {
		t.Fatal("platform was not made by newPlatform")
	}
	return c.(*clock.Manual)
}

// crawlMemory GETs every resource reachable from the memory domains and
// the Memory collection (staying below them), validates each against its
// schema, and returns the bodies by URI.
func crawlMemory(t *testing.T, v *schemacheck.Validator, h http.Handler) map[string]map[string]any {
	t.Helper()
	roots := []string{memoryDomainsPath(), memoryCollectionPath()}
	within := func(u string) bool {
		for _, r := range roots {
			if u == r || strings.HasPrefix(u, r+"/") {
				return true
			}
		}
		return false
	}
	out := map[string]map[string]any{}
	queue := slices.Clone(roots)
	for len(queue) > 0 {
		uri := queue[0]
		queue = queue[1:]
		if _, ok := out[uri]; ok {
			continue
		}
		m := getJSON(t, h, uri)
		out[uri] = m
		validateTree(t, v, "GET "+uri, getJSON(t, h, uri))
		for _, l := range schemacheck.Links(m) {
			if _, ok := out[l]; !ok && within(l) {
				queue = append(queue, l)
			}
		}
	}
	return out
}

// eventWant is an expected event: its full MessageId and origin.
type eventWant struct{ id, origin string }

func (w eventWant) String() string { return w.id + "@" + w.origin }

// sseRecorder keeps what an SSE stream delivered.
type sseRecorder struct {
	c   <-chan sseEvent
	got []eventWant
}

func newSSERecorder(t *testing.T, h http.Handler) *sseRecorder {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close) // after the stream's cleanup
	c, _ := openSSE(t, srv.URL+pathSSE, "")
	return &sseRecorder{c: c}
}

// expect reads the stream until want has been seen in order (other
// events may come between), failing on a timeout.
func (r *sseRecorder) expect(t *testing.T, want ...eventWant) {
	t.Helper()
	i := 0
	timeout := time.After(20 * time.Second)
	for i < len(want) {
		var ev sseEvent
		select {
		case e, ok := <-r.c:
			if !ok {
				t.Fatalf("SSE stream ended waiting for %v; got %v", want[i:], r.got)
			}
			ev = e
		case <-timeout:
			t.Fatalf("no SSE event %v; got %v", want[i:], r.got)
		}
		got := eventWant{path(t, ev.data, "Events", 0, "MessageId").(string), ""}
		if o, ok := path(t, ev.data, "Events", 0).(map[string]any)["OriginOfCondition"].(map[string]any); ok {
			got.origin, _ = o["@odata.id"].(string)
		}
		r.got = append(r.got, got)
		if got == want[i] {
			i++
		}
	}
}

// ordered reports whether want appears in got in order.
func ordered(got []eventWant, want ...eventWant) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

func oemID(name string) string      { return oemRegistry + "." + name }
func resEventID(name string) string { return resourceEventRegistry + "." + name }
func platformID(name string) string { return platformRegistry + "." + name }
func pushed(c *collector) []eventWant {
	var out []eventWant
	for _, r := range c.records() {
		w := eventWant{id: r["MessageId"].(string)}
		if o, ok := r["OriginOfCondition"].(map[string]any); ok {
			w.origin, _ = o["@odata.id"].(string)
		}
		out = append(out, w)
	}
	return out
}

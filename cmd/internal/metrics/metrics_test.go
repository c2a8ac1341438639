package metrics

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bmcemu/bmcemu/cmd/internal/bmc"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/profile"
)

func newBMC(t *testing.T, id string) *bmc.BMC {
	t.Helper()
	b, err := bmc.New(bmc.Config{ID: id, Profile: profile.Default(), User: "admin", Password: "password",
		Clock: clock.Real{Speed: 1000}, IPMIAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestCollectorFollowsMembers(t *testing.T) {
	a, b := newBMC(t, "a"), newBMC(t, "b")
	members := []*bmc.BMC{a, b}
	m := New(func() []*bmc.BMC { return members })

	obs := m.Observer("a")
	obs("redfish", http.MethodGet, 200, time.Millisecond)
	obs("redfish", "BREW", 400, time.Millisecond) // an unknown method is OTHER
	if n := testutil.ToFloat64(m.requests.WithLabelValues("a", "redfish", "GET", "200")); n != 1 {
		t.Errorf("GET counter %v, want 1", n)
	}
	if n := testutil.ToFloat64(m.requests.WithLabelValues("a", "redfish", "OTHER", "400")); n != 1 {
		t.Errorf("OTHER counter %v, want 1", n)
	}
	// The observer keeps the series it found: a second request lands in
	// the same ones, and a new code or surface in new ones.
	obs("redfish", http.MethodGet, 200, 3*time.Millisecond)
	obs("control", http.MethodGet, 200, time.Millisecond)
	obs("redfish", http.MethodGet, 404, time.Millisecond)
	for _, c := range []struct {
		surface, code string
		want          float64
	}{{"redfish", "200", 2}, {"control", "200", 1}, {"redfish", "404", 1}} {
		if n := testutil.ToFloat64(m.requests.WithLabelValues("a", c.surface, "GET", c.code)); n != c.want {
			t.Errorf("%s GET %s counter %v, want %v", c.surface, c.code, n, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.latency); n != 3 {
		t.Errorf("%d latency series, want 3 (redfish GET, redfish OTHER, control GET)", n)
	}

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		"bmcemu_fleet_members 2",
		`bmcemu_memory_installed_bytes{member="a"} 5.49755813888e+11`,
		`bmcemu_sel_capacity_entries{member="b"} 3639`,
		`bmcemu_sessions{member="b",surface="ipmi"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// A removed member's series go: scrape-time ones with the member list,
	// observed ones through Forget.
	members = members[1:]
	m.Forget("a")
	rec = httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if body := rec.Body.String(); strings.Contains(body, `member="a"`) || !strings.Contains(body, "bmcemu_fleet_members 1") {
		t.Errorf("after removing a, /metrics still has it or miscounts:\n%s", grep(body, "bmcemu_"))
	}
	// A request the removed member was still answering does not bring
	// its series back.
	obs("redfish", http.MethodGet, 200, time.Millisecond)
	rec = httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if body := rec.Body.String(); strings.Contains(body, `member="a"`) {
		t.Errorf("a late request of a removed member brought its series back:\n%s", grep(body, "bmcemu_http"))
	}
}

func TestLabel(t *testing.T) {
	if got := Label(newBMC(t, "")); got != "bmc" {
		t.Errorf("a lone BMC's label is %q, want bmc", got)
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Requests of one member from many goroutines at once, over more status
// codes than the observer keeps: every one is counted once, in its own
// series, kept or not.
func TestObserverConcurrentCodes(t *testing.T) {
	m := New(func() []*bmc.BMC { return nil })
	obs := m.Observer("a")
	const workers, rounds = 8, 50
	codes := maxCodes + 8
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				for c := range codes {
					obs("redfish", http.MethodGet, 200+c, time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	for c := range codes {
		if n := testutil.ToFloat64(m.requests.WithLabelValues("a", "redfish", "GET", strconv.Itoa(200+c))); n != workers*rounds {
			t.Errorf("code %d counted %v times, want %d", 200+c, n, workers*rounds)
		}
	}
	o := &observer{m: m, id: "b"}
	for range 3 {
		o.observe("redfish", http.MethodGet, 200, time.Millisecond)
	}
	if kept := o.kept[0][0].Load(); kept == nil || len(*kept) != 1 {
		t.Errorf("one code kept as %v", kept)
	}
	if n := testutil.CollectAndCount(m.latency); n != 1 {
		t.Errorf("%d latency series, want 1", n)
	}
}

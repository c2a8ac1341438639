package fleet

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/cmd/internal/webui"
	"github.com/bmcemu/bmcemu/redfish/sse"
)

// nextEvent returns the stream's next event, failing the test at its end.
func nextEvent(t *testing.T, r *sse.Reader) (event, data string) {
	t.Helper()
	e, err := r.Next()
	if err != nil {
		t.Fatalf("stream ended: %v", err)
	}
	return e.Type, e.Data
}

// The control listener serves the grid of members: the fleet's
// credentials, every member's health and its own UI's address, live.
func TestFleetGrid(t *testing.T) {
	first := testNet(t, 62)
	f := newFleet(t, first, "")
	addAll(t, f, members(t, first, "  - {name: bmc, count: 3}\n"))
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	c := newClient(t)
	// The grid costs an idle member nothing: reading it leaves no
	// goroutine behind once the connection is gone.
	settled := func() int {
		c.CloseIdleConnections()
		n := runtime.NumGoroutine()
		for i := 0; i < 100; i++ {
			time.Sleep(20 * time.Millisecond)
			m := runtime.NumGoroutine()
			if m == n {
				break
			}
			n = m
		}
		return n
	}
	request(t, c, http.MethodGet, srv.URL+"/ui/", "", "", "") // the server's own connection goroutines
	before := settled()

	code, body, h := request(t, c, http.MethodGet, srv.URL+"/ui/", "", "", "")
	if code != http.StatusOK || !strings.Contains(body, "fleet.js") || !strings.Contains(h.Get("Content-Security-Policy"), "'self'") {
		t.Fatalf("GET /ui/: %d %.200s", code, body)
	}
	for _, cred := range [][2]string{{"", ""}, {fleetUser, "wrong"}, {adminUser, adminPass}} {
		code, body, h := request(t, c, http.MethodGet, srv.URL+"/ui/api/fleet", cred[0], cred[1], "")
		if code != http.StatusUnauthorized || h.Get("WWW-Authenticate") != "" {
			t.Errorf("grid as %q/%q: %d %s (WWW-Authenticate %q), want 401 without a browser dialog", cred[0], cred[1], code, body, h.Get("WWW-Authenticate"))
		}
	}
	code, body, _ = request(t, c, http.MethodGet, srv.URL+"/ui/api/fleet", fleetUser, fleetPass, "")
	var grid []webui.MemberView
	if code != http.StatusOK || json.Unmarshal([]byte(body), &grid) != nil || len(grid) != 3 {
		t.Fatalf("grid: %d %s", code, body)
	}
	for i, m := range grid {
		want := "bmc-00" + string(rune('1'+i))
		if m.ID != want || m.Summary.Health != webui.HealthOK || m.Summary.Slots != 32 || len(m.UI) == 0 ||
			!strings.HasPrefix(m.UI[0], "http://"+m.Address+":") || !strings.HasSuffix(m.UI[0], "/ui/") {
			t.Errorf("member %d: %+v", i, m)
		}
	}
	if n := settled(); n > before {
		t.Errorf("goroutines %d -> %d after serving the grid without a stream", before, n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/ui/api/fleet/stream", nil)
	req.SetBasicAuth(fleetUser, fleetPass)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := sse.NewReader(resp.Body)
	if ev, data := nextEvent(t, br); ev != "members" || !strings.Contains(data, `"bmc-003"`) {
		t.Fatalf("first event %s %.200s, want members", ev, data)
	}
	// By id: BMCs() comes from a map, in no order.
	m2, ok := f.member("bmc-002")
	if !ok || m2.bmc == nil {
		t.Fatal("no member bmc-002")
	}
	if err := m2.bmc.Platform().PressAttention("CPU0_DIMM_A2"); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove("bmc-003", false); err != nil {
		t.Fatal(err)
	}
	var sawMember, sawRemoved bool
	deadline := time.AfterFunc(30*time.Second, cancel) // a hung stream fails, it does not time anything
	defer deadline.Stop()
	for !sawMember || !sawRemoved {
		ev, data := nextEvent(t, br)
		switch ev {
		case "member":
			var m webui.MemberView
			if err := json.Unmarshal([]byte(data), &m); err != nil {
				t.Fatal(err)
			}
			if m.ID != "bmc-002" || m.Summary.Generation <= grid[1].Summary.Generation {
				t.Errorf("member event %+v, want bmc-002 past generation %d", m, grid[1].Summary.Generation)
			}
			sawMember = true
		case "removed":
			if !strings.Contains(data, `"bmc-003"`) {
				t.Errorf("removed %s, want bmc-003", data)
			}
			sawRemoved = true
		}
	}
}

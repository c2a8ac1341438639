package control

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// newAPI serves the control API for the default profile on a manual
// clock, for tests that drive it through the Client as admin/password.
func newAPI(t *testing.T) (*platform.Platform, *clock.Manual, *Client) {
	t.Helper()
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p, err := platform.New(profile.Default(), platform.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Authenticate: func(_ netip.Addr, u, pw string) bool { return u == "admin" && pw == "password" }}, p)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return p, clk, &Client{BaseURL: ts.URL, User: "admin", Password: "password"}
}

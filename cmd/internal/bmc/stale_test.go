package bmc

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// Every durable store a BMC opens removes the temporary files a kill
// mid-save left: one stale ".NAME.tmp-*" for each file a first start
// writes, and for the stores that write only on a change (LAN alerts,
// event subscriptions), is gone after the next start.
func TestNewRemovesEveryStoresStaleTemps(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Profile: profile.Default(), StateDir: dir, User: "admin", Password: "password",
		Clock: clock.Real{Speed: 1000}, IPMIAddr: "127.0.0.1:0"}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	names := []string{"pef.json", "redfish-subscriptions.json"}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		names = append(names, e.Name())
	}
	for _, want := range []string{"inventory.json", "accounts.json", "accounts.json.key", "sel.journal"} {
		if !slices.Contains(names, want) {
			t.Errorf("first start wrote no %s (files: %v): the store list changed, update this test", want, names)
		}
	}
	for _, n := range names {
		p := filepath.Join(dir, "."+n+".tmp-4242")
		if err := os.WriteFile(p, []byte("left by kill -9"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	ents, err = os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("%s left after start", e.Name())
		}
	}
}

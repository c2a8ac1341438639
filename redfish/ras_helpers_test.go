package redfish

import (
	"slices"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// operatorAccounts adds an Operator to the test accounts: the role the
// RAS actions are meant for.
var operatorAccounts = slices.Concat(testAccounts, []Account{{UserName: "operator", Password: "operator-pw", Role: RoleOperator}})

// newProfilePlatform boots a built-in profile (mirror, sparing, raid5,
// default) on a manual clock, like newPlatform.
func newProfilePlatform(t testing.TB, name string) *platform.Platform {
	t.Helper()
	prof, err := profile.Builtin(name)
	if err != nil {
		t.Fatal(err)
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

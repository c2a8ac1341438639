package ipmi

import (
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/accounts"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/ipblock"
)

// lanV15 runs ipmitool over IPMI v1.5 (-I lan) with MD5 authentication.
func (b *liveBMC) lanV15(t *testing.T, user, password string, args ...string) (string, error) {
	t.Helper()
	base := []string{"-I", "lan", "-A", "MD5", "-H", "127.0.0.1", "-p", b.port, "-U", user, "-P", password, "-R", "1", "-N", "3"}
	return run(t, tool(t, "/usr/bin/ipmitool"), append(base, args...)...)
}

func v15Store(t *testing.T, clk *clock.Manual) *accounts.Store {
	t.Helper()
	st, err := accounts.Open(accounts.Options{Clock: clk, Seed: []accounts.New{
		{UserName: "admin", Password: "password", Role: accounts.RoleAdministrator, Enabled: true},
		{UserName: "viewer", Password: "viewer-pw1", Role: accounts.RoleReadOnly, Enabled: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestV15RefusedByDefault: without AllowV15, ipmitool -I lan gets no
// session.
func TestV15RefusedByDefault(t *testing.T) {
	tool(t, "/usr/bin/ipmitool")
	clk := clock.NewManual(fixedNow())
	b := startBMCWith(t, newPlatform(t), Config{Accounts: v15Store(t, clk), Clock: clk})
	if out, err := b.lanV15(t, "admin", "password", "mc", "info"); err == nil {
		t.Fatalf("IPMI v1.5 session opened with AllowV15 off:\n%s", out)
	}
}

// TestV15WithMD5: with AllowV15 the real ipmitool -I lan -A MD5 works
// against the shared accounts, and v1.5 logins obey the same account
// checks and per-address blocking as v2.0 ones.
func TestV15WithMD5(t *testing.T) {
	tool(t, "/usr/bin/ipmitool")
	clk := clock.NewManual(fixedNow())
	st := v15Store(t, clk)
	b := startBMCWith(t, newPlatform(t), Config{Accounts: st, Clock: clk, AllowV15: true})

	out, err := b.lanV15(t, "admin", "password", "mc", "info")
	if err != nil {
		t.Fatalf("ipmitool -I lan -A MD5 mc info: %v\n%s", err, out)
	}
	if kv := keyValues(out); kv["Device Available"] != "yes" {
		t.Errorf("mc info over v1.5:\n%s", out)
	}
	// The same accounts, live: a password changed in the store applies.
	pw := "changed-pw1"
	if _, err := st.Modify(3, accounts.Update{Password: &pw}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.lanV15(t, "viewer", "viewer-pw1", "-L", "USER", "mc", "guid"); err == nil {
		t.Error("old password accepted over v1.5")
	}
	if out, err := b.lanV15(t, "viewer", pw, "-L", "USER", "mc", "guid"); err != nil {
		t.Errorf("new password refused over v1.5: %v\n%s", err, out)
	}
	// Privilege is the account's: a ReadOnly account gets no
	// administrator session.
	if _, err := b.lanV15(t, "viewer", pw, "-L", "ADMINISTRATOR", "mc", "guid"); err == nil {
		t.Error("ReadOnly account got an administrator v1.5 session")
	}

	// Wrong passwords over v1.5 count towards per-address blocking (all
	// from 127.0.0.1 here: ipmitool cannot choose its source address).
	if err := st.SetIPBlocking(ipblock.Settings{Enabled: true, FailCount: 3, FailWindow: time.Minute, Penalty: 5 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := b.lanV15(t, "admin", "wrong-pw", "mc", "guid"); err == nil {
			t.Fatal("wrong password accepted over v1.5")
		}
	}
	out, err = b.lanV15(t, "admin", "password", "mc", "guid")
	if err == nil {
		t.Fatalf("blocked address opened a v1.5 session:\n%s", out)
	}
	// Refused at Get Session Challenge with C0h, whatever the password.
	if !strings.Contains(err.Error(), "Get Session Challenge") || !strings.Contains(strings.ToLower(err.Error()), "busy") {
		t.Errorf("blocked address: %v, want Get Session Challenge refused as busy", err)
	}
	if a, _ := st.Lookup("admin"); a.Locked {
		t.Error("one address locked admin out over v1.5")
	}
	clk.Advance(5 * time.Minute)
	if out, err := b.lanV15(t, "admin", "password", "mc", "guid"); err != nil {
		t.Errorf("after the penalty: %v\n%s", err, out)
	}
}

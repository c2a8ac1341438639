package ipmi

import (
	"context"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform/accounts"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/ipblock"
)

// fixedNow is a frozen clock for lockout: counters never reset on their own.
func fixedNow() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }

func newAccountStore(t *testing.T, threshold int) *accounts.Store {
	t.Helper()
	pol := accounts.DefaultPolicy()
	pol.LockoutThreshold = threshold
	st, err := accounts.Open(accounts.Options{
		Seed: []accounts.New{
			{UserName: "admin", Password: "password", Role: accounts.RoleAdministrator, Enabled: true},
			{UserName: "viewer", Password: "password", Role: accounts.RoleReadOnly, Enabled: true},
		},
		Policy: &pol,
		Now:    fixedNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// as runs ipmitool as user/password.
func (b *liveBMC) as(t *testing.T, user, password string, args ...string) (string, error) {
	t.Helper()
	base := []string{"-I", "lanplus", "-H", "127.0.0.1", "-p", b.port, "-U", user, "-P", password, "-R", "1", "-N", "1"}
	return run(t, tool(t, "/usr/bin/ipmitool"), append(base, args...)...)
}

func TestLiveAccounts(t *testing.T) {
	tool(t, "/usr/bin/ipmitool")
	st := newAccountStore(t, 3)
	clk := clock.NewManual(fixedNow())
	b := startBMCWith(t, newPlatform(t), Config{Accounts: st, Clock: clk})

	if _, err := b.as(t, "viewer", "password", "-L", "USER", "mc", "guid"); err != nil {
		t.Fatalf("seeded account: %v", err)
	}

	t.Run("password changed in the store", func(t *testing.T) {
		pw := "s3cret-pw"
		if _, err := st.Modify(3, accounts.Update{Password: &pw}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.as(t, "viewer", "password", "-L", "USER", "mc", "guid"); err == nil {
			t.Error("old password still accepted")
		}
		if _, err := b.as(t, "viewer", pw, "-L", "USER", "mc", "guid"); err != nil {
			t.Errorf("new password refused: %v", err)
		}
	})

	t.Run("account created and disabled in the store", func(t *testing.T) {
		a, err := st.Create(accounts.New{UserName: "ops", Password: "operator1", Role: accounts.RoleOperator, Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.as(t, "ops", "operator1", "-L", "OPERATOR", "chassis", "status"); err != nil {
			t.Errorf("new account refused: %v", err)
		}
		if _, err := b.as(t, "ops", "operator1", "-L", "ADMINISTRATOR", "chassis", "status"); err == nil {
			t.Error("operator got an administrator session")
		}
		off := false
		if _, err := st.Modify(a.ID, accounts.Update{Enabled: &off}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.as(t, "ops", "operator1", "mc", "guid"); err == nil {
			t.Error("disabled account accepted")
		}
	})

	t.Run("user list reads the store", func(t *testing.T) {
		out := b.mustIpmitool(t, "user", "list", "1")
		rows := map[string]string{}
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			if len(f) >= 6 && f[0] != "ID" {
				rows[f[1]] = f[len(f)-1]
			}
		}
		if rows["admin"] != "ADMINISTRATOR" || rows["viewer"] != "USER" || rows["ops"] != "OPERATOR" {
			t.Errorf("user list:\n%s", out)
		}
	})

	t.Run("user set password writes back", func(t *testing.T) {
		b.mustIpmitool(t, "user", "set", "password", "3", "fromipmi1")
		if _, err := st.Authenticate("viewer", "fromipmi1"); err != nil {
			t.Errorf("store did not take the IPMI password: %v", err)
		}
		if _, err := b.as(t, "viewer", "fromipmi1", "-L", "USER", "mc", "guid"); err != nil {
			t.Errorf("new password refused over IPMI: %v", err)
		}
		// Too short for the policy (8): refused, store unchanged.
		if _, err := b.ipmitool(t, nil, "user", "set", "password", "3", "x"); err == nil {
			t.Error("a password below the policy minimum was accepted")
		}
		// A non-administrator cannot change passwords.
		if _, err := b.as(t, "viewer", "fromipmi1", "-L", "USER", "user", "set", "password", "3", "another12"); err == nil {
			t.Error("a User-privilege session changed a password")
		}
		if _, err := st.Authenticate("viewer", "fromipmi1"); err != nil {
			t.Errorf("refused changes altered the store: %v", err)
		}
	})

	t.Run("user priv and disable write back", func(t *testing.T) {
		b.mustIpmitool(t, "user", "priv", "3", "3", "1")
		if a, _ := st.Get(3); a.Role != accounts.RoleOperator {
			t.Errorf("role after user priv = %q", a.Role)
		}
		b.mustIpmitool(t, "user", "disable", "3")
		if a, _ := st.Get(3); a.Enabled {
			t.Error("user disable did not reach the store")
		}
		if _, err := b.ipmitool(t, nil, "user", "disable", "2"); err == nil {
			t.Error("disabling the last administrator succeeded")
		}
		b.mustIpmitool(t, "user", "enable", "3")
	})

	t.Run("user set name creates an account", func(t *testing.T) {
		b.mustIpmitool(t, "user", "set", "name", "6", "newbie")
		a, ok := st.Get(6)
		if !ok || a.UserName != "newbie" || a.Enabled || a.Role != accounts.RoleReadOnly {
			t.Fatalf("after user set name 6: %+v %v", a, ok)
		}
		// Disabled, and no password anyone knows: not even an empty one.
		for _, pw := range []string{"", "password"} {
			if _, err := b.as(t, "newbie", pw, "-L", "USER", "mc", "guid"); err == nil {
				t.Errorf("a fresh account let %q in", pw)
			}
		}
		b.mustIpmitool(t, "user", "set", "password", "6", "newbie-pw1")
		b.mustIpmitool(t, "channel", "setaccess", "1", "6", "privilege=4")
		b.mustIpmitool(t, "user", "enable", "6")
		if _, err := b.as(t, "newbie", "newbie-pw1", "-L", "ADMINISTRATOR", "mc", "guid"); err != nil {
			t.Errorf("the account ipmitool set up refused it: %v", err)
		}
		if a, err := st.Authenticate("newbie", "newbie-pw1"); err != nil || a.Role != accounts.RoleAdministrator {
			t.Errorf("the store (and so Redfish) sees %+v, %v", a, err)
		}
		if out := b.mustIpmitool(t, "user", "list", "1"); !regexp.MustCompile(`(?m)^6\s+newbie\s.*ADMINISTRATOR$`).MatchString(out) {
			t.Errorf("user list:\n%s", out)
		}
		// A name in use, the reserved user 1 and a name IPMI cannot carry
		// create nothing.
		n := len(st.List())
		for _, args := range [][]string{{"7", "newbie"}, {"1", "anon"}, {"7", "9lives"}} {
			if _, err := b.ipmitool(t, nil, append([]string{"user", "set", "name"}, args...)...); err == nil {
				t.Errorf("user set name %v succeeded", args)
			}
		}
		if len(st.List()) != n {
			t.Errorf("refused names created accounts: %+v", st.List())
		}
	})

	t.Run("failures count towards lockout", func(t *testing.T) {
		// Every failure here comes from 127.0.0.1: with per-address
		// blocking on, one address cannot lock an account (see
		// TestWrongPasswordFromOneAddress), so this checks DMTF lockout
		// over IPMI with blocking off.
		off := ipblock.DefaultSettings()
		off.Enabled = false
		if err := st.SetIPBlocking(off); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = st.SetIPBlocking(ipblock.DefaultSettings()) }()
		for range 3 {
			if _, err := b.as(t, "viewer", "wrong-password", "-L", "USER", "mc", "guid"); err == nil {
				t.Fatal("wrong password accepted")
			}
		}
		// ipmitool abandons the handshake after RAKP2 (it sends no RAKP3
		// when the HMAC does not match): the BMC counts it once the
		// abandonment window has passed.
		if a, _ := st.Lookup("viewer"); a.Locked {
			t.Fatal("locked before the handshakes were abandoned")
		}
		clk.Advance(abandonAfter)
		if a, _ := st.Lookup("viewer"); !a.Locked {
			t.Fatal("three IPMI failures did not lock the account")
		}
		if _, err := b.as(t, "viewer", "fromipmi1", "-L", "USER", "mc", "guid"); err == nil {
			t.Error("locked account accepted with the right password")
		}
		unlock := false
		if _, err := st.Modify(3, accounts.Update{Locked: &unlock}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.as(t, "viewer", "fromipmi1", "-L", "USER", "mc", "guid"); err != nil {
			t.Errorf("unlocked account refused: %v", err)
		}
	})
}

// fuzzAccounts builds a user handler over a fresh store.
func fuzzAccounts(f *testing.F, pick func(*liveUsers, *accounts.Store) handlers.HandlerFunc, seeds ...[]byte) {
	st, err := accounts.Open(accounts.Options{Seed: []accounts.New{
		{UserName: "admin", Password: "password", Role: accounts.RoleAdministrator, Enabled: true},
		{UserName: "viewer", Password: "password", Role: accounts.RoleReadOnly, Enabled: true},
	}})
	if err != nil {
		f.Fatal(err)
	}
	l := newLiveUsers(st, bmc.NewUserStore(bmc.WithMaxUsers(accountUsers)), clock.NewManual(fixedNow()), discardLogger())
	l.sync(true)
	fuzzHandler(f, func(*machine) handlers.HandlerFunc { return pick(l, st) }, nil, seeds...)
}

func FuzzSetUserName(f *testing.F) {
	fuzzAccounts(f, func(l *liveUsers, st *accounts.Store) handlers.HandlerFunc {
		return handleSetUserName(l, st, discardLogger())
	}, nil, append([]byte{3}, "renamed\x00\x00\x00\x00\x00\x00\x00\x00\x00"...), append([]byte{9}, make([]byte, 16)...), []byte{0x3f})
}

func FuzzSetUserPassword(f *testing.F) {
	fuzzAccounts(f, func(l *liveUsers, st *accounts.Store) handlers.HandlerFunc {
		test := func(context.Context, *handlers.HandlerContext, []byte) ([]byte, types.CompletionCode, error) {
			return nil, types.CodeOK, nil
		}
		return handleSetUserPassword(l, st, test, discardLogger())
	}, nil, []byte{3, 2}, append([]byte{3, 2}, "password12\x00\x00\x00\x00\x00\x00"...), []byte{0x83, 2, 1}, []byte{3, 0}, []byte{3, 1}, []byte{2, 0xff})
}

func FuzzSetUserAccess(f *testing.F) {
	fuzzAccounts(f, func(l *liveUsers, st *accounts.Store) handlers.HandlerFunc {
		return handleSetUserAccess(l, st, discardLogger())
	}, nil, []byte{0x91, 3, 3}, []byte{0x01, 3, 4, 0}, []byte{0x01, 3, 0x0f}, []byte{0x0e, 2, 2, 1})
}

// FuzzHandshakeTap feeds arbitrary packets through the handshake watcher
// both ways; it must never panic, whatever the framing claims.
func FuzzHandshakeTap(f *testing.F) {
	st, err := accounts.Open(accounts.Options{Seed: []accounts.New{
		{UserName: "admin", Password: "password", Role: accounts.RoleAdministrator, Enabled: true}}})
	if err != nil {
		f.Fatal(err)
	}
	clk := clock.NewManual(fixedNow())
	l := newLiveUsers(st, bmc.NewUserStore(bmc.WithMaxUsers(accountUsers)), clk, discardLogger())
	hdr := func(typ byte, payload []byte) []byte {
		p := []byte{0x06, 0x00, 0xff, 0x07, 0x06, typ, 0, 0, 0, 0, 0, 0, 0, 0, byte(len(payload)), byte(len(payload) >> 8)}
		return append(p, payload...)
	}
	rakp1 := make([]byte, 28)
	rakp1[27] = 5
	rakp1 = append(rakp1, "admin"...)
	f.Add(hdr(payloadRAKP1, rakp1))
	f.Add(hdr(payloadRAKP3, []byte{0, 2, 0, 0, 0, 0, 0, 0}))
	f.Add(hdr(payloadOpenSessionResp, make([]byte, 12)))
	f.Add(hdr(payloadRAKP2, make([]byte, 40)))
	f.Add(hdr(payloadRAKP4, []byte{0, 0x0d, 0, 0, 0, 0, 0, 0}))
	f.Add([]byte{6, 0, 0xff, 7, 6, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff})
	f.Add(hdr(payloadOpenSessionReq, make([]byte, 32)))
	// Blocked, so that the refusing paths are fuzzed too.
	for range 5 {
		st.RecordFailureFrom(netip.MustParseAddr("127.0.0.3"), "nobody")
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		l.inbound(pkt, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 623})
		if reply, handled := l.inbound(pkt, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 3), Port: 623}); reply != nil && !handled {
			t.Fatalf("a reply that is not sent: % x", reply)
		}
		l.outbound(pkt, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 623})
		clk.Advance(abandonAfter)
	})
}

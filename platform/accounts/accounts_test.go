package accounts

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/ipblock"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func seed() []New {
	return []New{{UserName: "admin", Password: "password", Role: RoleAdministrator, Enabled: true}}
}

func TestPersistAndReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "accounts.json")
	s, err := Open(Options{Path: path, Seed: seed()})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Create(New{UserName: "op", Password: "operator1", Role: RoleOperator, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != 3 {
		t.Errorf("second account id %d, want 3", a.ID)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("operator1")) || bytes.Contains(raw, []byte(`"password"`)) {
		t.Fatalf("clear password on disk: %s", raw)
	}
	if st, err := os.Stat(path + ".key"); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	// Reopening ignores the seed and unseals the secrets.
	s2, err := Open(Options{Path: path, Seed: []New{{UserName: "other", Password: "x", Role: RoleReadOnly}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Authenticate("op", "operator1"); err != nil {
		t.Errorf("reopened: %v", err)
	}
	if _, ok := s2.Lookup("other"); ok {
		t.Error("seed applied to an existing store")
	}
	sec, acct, ok := s2.Secret("admin")
	if !ok || string(sec) != "password" || acct.Role != RoleAdministrator {
		t.Errorf("Secret = %q %v %v", sec, acct, ok)
	}
	// A wrong key file is an error, not an empty store.
	if err := os.WriteFile(path+".key", bytes.Repeat([]byte{1}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Path: path}); err == nil {
		t.Error("opened with the wrong key")
	}
}

func TestPasswordPolicyAndNames(t *testing.T) {
	s, err := Open(Options{Seed: seed()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n    New
		want error
	}{
		{New{UserName: "short", Password: "1234567", Role: RoleReadOnly}, ErrPasswordLength},
		{New{UserName: "long", Password: "123456789012345678901", Role: RoleReadOnly}, ErrPasswordLength},
		{New{UserName: "seventeen-chars-x", Password: "12345678", Role: RoleReadOnly}, ErrUserName},
		{New{UserName: "bad name", Password: "12345678", Role: RoleReadOnly}, ErrUserName},
		{New{UserName: "9lives", Password: "12345678", Role: RoleReadOnly}, ErrUserName},
		{New{UserName: "x", Password: "12345678", Role: "Root"}, ErrRole},
		{New{UserName: "admin", Password: "12345678", Role: RoleReadOnly}, ErrExists},
	} {
		if _, err := s.Create(tc.n); !errors.Is(err, tc.want) {
			t.Errorf("Create(%+v) = %v, want %v", tc.n, err, tc.want)
		}
	}
	if _, err := s.Create(New{UserName: "sixteen-chars-xy", Password: "12345678901234567890", Role: RoleReadOnly}); err != nil {
		t.Errorf("limits themselves refused: %v", err)
	}
	if err := s.SetPolicy(Policy{MinPasswordLength: 4, MaxPasswordLength: 30}); !errors.Is(err, ErrPolicy) {
		t.Errorf("max 30 accepted: %v", err)
	}
}

func TestLockout(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	pol := Policy{MinPasswordLength: 8, MaxPasswordLength: 20, LockoutThreshold: 3,
		LockoutDuration: 10 * time.Minute, LockoutCounterResetAfter: time.Minute}
	s, err := Open(Options{Seed: seed(), Policy: &pol, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	fail := func() {
		t.Helper()
		if _, err := s.Authenticate("admin", "wrong"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("bad password: %v", err)
		}
	}
	// Failures spaced beyond the reset interval never lock.
	for range 5 {
		fail()
		clk.advance(2 * time.Minute)
	}
	if _, err := s.Authenticate("admin", "password"); err != nil {
		t.Fatalf("locked by spaced failures: %v", err)
	}
	fail()
	fail()
	s.RecordFailure("admin") // an IPMI failure counts too
	if _, err := s.Authenticate("admin", "password"); !errors.Is(err, ErrLocked) {
		t.Fatalf("after threshold: %v, want ErrLocked", err)
	}
	if a, _ := s.Lookup("admin"); !a.Locked {
		t.Error("Locked not reported")
	}
	if _, _, ok := s.Secret("admin"); ok {
		t.Error("Secret of a locked account")
	}
	clk.advance(10 * time.Minute)
	if _, err := s.Authenticate("admin", "password"); err != nil {
		t.Fatalf("after the lockout duration: %v", err)
	}
	// Unlock by an administrator.
	fail()
	fail()
	fail()
	a, _ := s.Lookup("admin")
	if _, err := s.Modify(a.ID, Update{Locked: new(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate("admin", "password"); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}

func TestLastAdministratorIsKept(t *testing.T) {
	s, err := Open(Options{Seed: seed()})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Lookup("admin")
	if err := s.Delete(a.ID); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("Delete last admin: %v", err)
	}
	if _, err := s.Modify(a.ID, Update{Role: new(RoleReadOnly)}); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("demote last admin: %v", err)
	}
	if _, err := s.Modify(a.ID, Update{Enabled: new(false)}); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("disable last admin: %v", err)
	}
}

func TestPasswordChangeClearsRequirement(t *testing.T) {
	s, err := Open(Options{Seed: []New{{UserName: "admin", Password: "password", Role: RoleAdministrator, Enabled: true, PasswordChangeRequired: true}}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Authenticate("admin", "password")
	if err != nil || !a.PasswordChangeRequired {
		t.Fatalf("%v %v", a, err)
	}
	if a, err = s.Modify(a.ID, Update{Password: new("new-password")}); err != nil || a.PasswordChangeRequired {
		t.Fatalf("%v %v", a, err)
	}
	if _, err := s.Authenticate("admin", "password"); err == nil {
		t.Error("old password still works")
	}
}

// IPMI names the user ID it creates; the store takes it only when free and
// in range, and the lowest free ID otherwise.
func TestCreateWithID(t *testing.T) {
	s, err := Open(Options{Seed: seed()})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Create(New{ID: 7, UserName: "seven", Password: "password7", Role: RoleReadOnly})
	if err != nil || a.ID != 7 {
		t.Fatalf("Create ID 7: %v %+v", err, a)
	}
	for _, id := range []int{7, 1, MinUserID + MaxUsers, -1} {
		if _, err := s.Create(New{ID: id, UserName: "other", Password: "password7", Role: RoleReadOnly}); !errors.Is(err, ErrIDTaken) {
			t.Errorf("Create ID %d: %v, want ErrIDTaken", id, err)
		}
	}
	if b, err := s.Create(New{UserName: "next", Password: "password7", Role: RoleReadOnly}); err != nil || b.ID != 3 {
		t.Errorf("Create without ID: %v %+v, want ID 3", err, b)
	}
	if len(s.List()) != 3 {
		t.Errorf("refused creations left accounts: %+v", s.List())
	}
}

var (
	attacker = netip.MustParseAddr("127.0.0.2")
	operator = netip.MustParseAddr("127.0.0.3")
)

func openBlocking(t *testing.T, clk *clock.Manual, blocking *ipblock.Settings) *Store {
	t.Helper()
	s, err := Open(Options{Seed: seed(), Clock: clk, IPBlocking: blocking})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOneAddressCannotLockTheAccount: the denial of service the default
// lockout policy invited. Wrong passwords from one address, sent at any
// pace for an hour, never lock admin; they block their own address, which
// is then refused even with the right password, while another address
// logs in throughout.
func TestOneAddressCannotLockTheAccount(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := openBlocking(t, clk, nil)
	blocked := 0
	for i := range 720 { // one attempt every 5 s for an hour
		_, err := s.AuthenticateFrom(attacker, "admin", "wrong-guess")
		switch {
		case errors.Is(err, ErrBlocked):
			blocked++
		case !errors.Is(err, ErrInvalidCredentials):
			t.Fatalf("attempt %d: %v", i, err)
		}
		// No login succeeds meanwhile: a success would reset the
		// account's counter and hide a lockout.
		if a, _ := s.Lookup("admin"); a.Locked {
			t.Fatalf("attempt %d from one address locked the account", i)
		}
		clk.Advance(5 * time.Second)
	}
	if _, err := s.AuthenticateFrom(operator, "admin", "password"); err != nil {
		t.Fatalf("the right password from another address: %v", err)
	}
	if blocked == 0 {
		t.Fatal("the guessing address was never blocked")
	}
	// Five failures in a minute, then refused for the five-minute penalty,
	// even with the right password (which is not even looked at).
	clk.Advance(time.Hour)
	for range 5 {
		if _, err := s.AuthenticateFrom(attacker, "admin", "wrong"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	if _, err := s.AuthenticateFrom(attacker, "admin", "password"); !errors.Is(err, ErrBlocked) {
		t.Fatalf("blocked address with the right password: %v, want ErrBlocked", err)
	}
	clk.Advance(5*time.Minute - time.Second)
	if _, err := s.AuthenticateFrom(attacker, "admin", "password"); !errors.Is(err, ErrBlocked) {
		t.Fatalf("a second before the penalty ends: %v, want ErrBlocked", err)
	}
	clk.Advance(time.Second)
	if _, err := s.AuthenticateFrom(attacker, "admin", "password"); err != nil {
		t.Fatalf("after the penalty: %v", err)
	}
}

// TestDistributedGuessingStillLocks: lockout keeps its DMTF purpose
// against guesses from several addresses.
func TestDistributedGuessingStillLocks(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := openBlocking(t, clk, nil)
	src := netip.MustParseAddr("192.0.2.1")
	for range 5 {
		if _, err := s.AuthenticateFrom(src, "admin", "wrong"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatal(err)
		}
		src = src.Next()
	}
	if _, err := s.AuthenticateFrom(operator, "admin", "password"); !errors.Is(err, ErrLocked) {
		t.Fatalf("five failures from five addresses: %v, want ErrLocked", err)
	}
	// Attempts on the locked account count towards nothing: no oracle,
	// and the trying address is not blocked for them.
	for range 20 {
		if _, err := s.AuthenticateFrom(attacker, "admin", "password"); !errors.Is(err, ErrLocked) {
			t.Fatal(err)
		}
	}
	if _, blocked := s.blk.Blocked(attacker); blocked {
		t.Error("attempts on a locked account blocked the address")
	}
}

// TestLockoutWithoutBlockingIsDMTF: blocking off, every failure counts.
func TestLockoutWithoutBlockingIsDMTF(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	off := ipblock.DefaultSettings()
	off.Enabled = false
	s := openBlocking(t, clk, &off)
	for range 5 {
		if _, err := s.AuthenticateFrom(attacker, "admin", "wrong"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	if _, err := s.AuthenticateFrom(operator, "admin", "password"); !errors.Is(err, ErrLocked) {
		t.Fatalf("blocking off: %v, want ErrLocked", err)
	}
}

// TestUnknownUsersCountTowardsTheAddress: guessing user names is guessing.
func TestUnknownUsersCountTowardsTheAddress(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := openBlocking(t, clk, nil)
	for _, u := range []string{"root", "ADMIN", "Administrator"} {
		_, _ = s.AuthenticateFrom(attacker, u, "calvin")
	}
	s.RecordRefusalFrom(attacker, "USERID") // an IPMI RAKP 2 refusal
	s.RecordFailureFrom(attacker, "admin")  // an IPMI RAKP mismatch
	if _, err := s.AuthenticateFrom(attacker, "admin", "password"); !errors.Is(err, ErrBlocked) {
		t.Fatalf("after five failures of any kind: %v, want ErrBlocked", err)
	}
	if _, blocked := s.RefuseFrom(attacker); !blocked {
		t.Error("RefuseFrom lets the blocked address in")
	}
}

func TestIPBlockingPersisted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.json")
	s, err := Open(Options{Path: path, Seed: seed()})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.IPBlocking(); got != ipblock.DefaultSettings() {
		t.Errorf("fresh store: %+v", got)
	}
	want := ipblock.Settings{Enabled: false, FailCount: 3, FailWindow: 2 * time.Minute, Penalty: time.Hour}
	g := s.Generation()
	if err := s.SetIPBlocking(want); err != nil {
		t.Fatal(err)
	}
	if s.Generation() == g {
		t.Error("generation did not move")
	}
	if err := s.SetIPBlocking(ipblock.Settings{FailCount: 0, FailWindow: time.Minute, Penalty: time.Minute}); err == nil {
		t.Error("invalid settings accepted")
	}
	s2, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.IPBlocking(); got != want {
		t.Errorf("reopened: %+v, want %+v", got, want)
	}
	// A file from before the setting existed loads with the defaults.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc, "ip_blocking")
	raw, _ = json.Marshal(doc)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	s3, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if got := s3.IPBlocking(); got != ipblock.DefaultSettings() {
		t.Errorf("old file: %+v, want the defaults", got)
	}
}

// Principal, read without the lock, must follow every committed change
// and none that was rolled back, in a fresh and a reopened store.
func TestPrincipalFollowsChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.json")
	s, err := Open(Options{Path: path, Seed: seed()})
	if err != nil {
		t.Fatal(err)
	}
	same := func(id int) {
		t.Helper()
		want, wok := s.Get(id)
		want.Locked = false
		if got, ok := s.Principal(id); ok != wok || got != want {
			t.Errorf("Principal(%d) = %+v %v, Get %+v %v", id, got, ok, want, wok)
		}
	}
	same(2)
	a, err := s.Create(New{UserName: "op", Password: "operator1", Role: RoleOperator, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	same(a.ID)
	ro := RoleReadOnly
	if _, err := s.Modify(a.ID, Update{Role: &ro}); err != nil {
		t.Fatal(err)
	}
	same(a.ID)
	// A change whose save fails is rolled back, and Principal never saw
	// it. The state directory turned into a file fails the save, for root
	// too.
	dir := filepath.Dir(path)
	kept := dir + ".kept"
	if err := os.Rename(dir, kept); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	off := false
	if _, err := s.Modify(a.ID, Update{Enabled: &off}); err == nil {
		t.Fatal("Modify saved with no state directory")
	}
	if got, _ := s.Principal(a.ID); !got.Enabled {
		t.Error("Principal shows a change that was rolled back")
	}
	same(a.ID)
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(kept, dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(a.ID); err != nil {
		t.Fatal(err)
	}
	same(a.ID)
	r, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := r.Principal(2); !ok || got.UserName != "admin" || got.Role != RoleAdministrator {
		t.Errorf("reopened: Principal(2) = %+v %v", got, ok)
	}
}

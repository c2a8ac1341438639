package redfish

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/accounts"
	"github.com/bmcemu/bmcemu/platform/clock"
)

// A connection's token memo (ConnContext) must answer exactly as the
// session table does: a session deleted from elsewhere, one that idled
// out, a changed token and another account's deletion all refuse the
// next request on the same keep-alive connection, and a new login on it
// is remembered in its place.
func TestConnectionTokenMemoFollowsTheTable(t *testing.T) {
	clk := clock.NewManual(time.Unix(1_750_000_000, 0))
	h := newHandlerCfg(t, newPlatform(t), Config{Now: clk.Now})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnContext = ConnContext
	srv.Start()
	t.Cleanup(srv.Close)

	// One keep-alive connection for the client under test; others
	// (logins elsewhere, deletions) use their own.
	kept := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
	other := func() *http.Client { return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} }
	req := func(c *http.Client, method, path, token, body string) *http.Response {
		t.Helper()
		r, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if token != "" {
			r.Header.Set("X-Auth-Token", token)
		}
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	loginOn := func(c *http.Client, user, pass string) (token, loc string) {
		t.Helper()
		resp := req(c, http.MethodPost, "/redfish/v1/SessionService/Sessions", "", `{"UserName":"`+user+`","Password":"`+pass+`"}`)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("login %s: %d", user, resp.StatusCode)
		}
		return resp.Header.Get("X-Auth-Token"), resp.Header.Get("Location")
	}
	// Every GET of the kept client must reuse its connection, or the
	// memo would not be what answers.
	get := func(token string) int {
		t.Helper()
		code, reused := getKept(t, kept, srv.URL+dimm, func(r *http.Request) { r.Header.Set("X-Auth-Token", token) })
		if !reused {
			t.Fatal("the kept client opened a new connection")
		}
		return code
	}

	tok, loc := loginOn(kept, adminUser, adminPass)
	for i := range 3 {
		if code := get(tok); code != http.StatusOK {
			t.Fatalf("GET %d on the kept connection: %d", i, code)
		}
	}
	// One character changed: the memo must not take it for the token.
	bad := tok[:63] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", tok[63])+1)%16])
	if code := get(bad); code != http.StatusUnauthorized {
		t.Errorf("a token one digit off: %d, want 401", code)
	}
	if code := get(tok); code != http.StatusOK {
		t.Fatalf("the right token after a wrong one: %d", code)
	}
	// Deleted from another connection.
	if resp := req(other(), http.MethodDelete, loc, tok, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout elsewhere: %d", resp.StatusCode)
	}
	if code := get(tok); code != http.StatusUnauthorized {
		t.Errorf("a session deleted elsewhere still served on the kept connection: %d", code)
	}
	// A new login on the same connection takes the memo's place, and
	// idling out ends it there too.
	tok2, _ := loginOn(kept, "reader", "reader-pw")
	if code := get(tok2); code != http.StatusOK {
		t.Fatalf("second session: %d", code)
	}
	clk.Advance(defaultSessionTimeout - time.Second)
	if code := get(tok2); code != http.StatusOK {
		t.Fatalf("within the idle timeout: %d", code)
	}
	clk.Advance(defaultSessionTimeout)
	if code := get(tok2); code != http.StatusUnauthorized {
		t.Errorf("an idled-out session still served on the kept connection: %d", code)
	}
	// The account behind a remembered session is deleted.
	tok3, _ := loginOn(kept, "reader", "reader-pw")
	if code := get(tok3); code != http.StatusOK {
		t.Fatalf("third session: %d", code)
	}
	admin, _ := loginOn(other(), adminUser, adminPass)
	if resp := req(other(), http.MethodDelete, "/redfish/v1/AccountService/Accounts/3", admin, ""); resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		t.Fatalf("delete reader: %d", resp.StatusCode)
	}
	if code := get(tok3); code != http.StatusUnauthorized {
		t.Errorf("a deleted account's session still served on the kept connection: %d", code)
	}
}

// A connection's Basic memo must answer exactly as the account store
// does: on one keep-alive connection (from 127.0.0.1) the same
// Authorization field is refused once the password changed, the account
// was disabled or locked out from elsewhere, or the connection's address
// was blocked; and a wrong password sent on it counts as a failure.
func TestConnectionBasicMemoFollowsTheStore(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	st, err := accounts.Open(accounts.Options{Clock: clk, Seed: []accounts.New{
		{UserName: adminUser, Password: adminPass, Role: accounts.RoleAdministrator, Enabled: true},
		{UserName: "operator", Password: "operator-pw", Role: accounts.RoleOperator, Enabled: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(newHandlerCfg(t, newPlatform(t), Config{AccountStore: st, Now: clk.Now}))
	var (
		memoMu sync.Mutex
		memos  []*connTokens
	)
	srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		ctx = ConnContext(ctx, c)
		memoMu.Lock()
		memos = append(memos, ctx.Value(connTokensKey{}).(*connTokens))
		memoMu.Unlock()
		return ctx
	}
	srv.Start()
	t.Cleanup(srv.Close)
	op, ok := st.Lookup("operator")
	if !ok {
		t.Fatal("no operator account")
	}

	kept := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
	get := func(user, pass string) int {
		t.Helper()
		code, reused := getKept(t, kept, srv.URL+dimm, func(r *http.Request) { r.SetBasicAuth(user, pass) })
		if !reused && user != "first" {
			t.Fatal("the kept client opened a new connection")
		}
		return code
	}
	modify := func(u accounts.Update) {
		t.Helper()
		if _, err := st.Modify(op.ID, u); err != nil {
			t.Fatal(err)
		}
	}
	// The first request opens the connection.
	if code := get("first", "x"); code != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d", code)
	}
	for i := range 3 {
		if code := get("operator", "operator-pw"); code != http.StatusOK {
			t.Fatalf("GET %d: %d", i, code)
		}
	}
	// The memo is what answers: it holds the field and the connection's
	// address, and a digest planted in it is what the store is shown.
	memoMu.Lock()
	if len(memos) != 1 {
		t.Fatalf("%d connections, want 1", len(memos))
	}
	m := memos[0]
	memoMu.Unlock()
	b := m.basic.Load()
	if b == nil || b.user != "operator" || b.digest != accounts.PasswordDigest("operator-pw") {
		t.Fatalf("memo after the GETs: %+v", b)
	}
	if want := netip.MustParseAddr("127.0.0.1"); m.src != want {
		t.Errorf("memo source %v, want %v", m.src, want)
	}
	m.basic.Store(&basicMemo{field: b.field, user: b.user, digest: accounts.PasswordDigest("planted")})
	if code := get("operator", "operator-pw"); code != http.StatusUnauthorized {
		t.Errorf("with a wrong digest planted in the memo: %d, want 401 (the memo was not used)", code)
	}
	m.basic.Store(b)
	if code := get("operator", "operator-pw"); code != http.StatusOK {
		t.Fatalf("the memo restored: %d", code)
	}
	// The planted digest's failure counted; start the account afresh.
	unlock := false
	if _, err := st.Modify(op.ID, accounts.Update{Locked: &unlock}); err != nil {
		t.Fatal(err)
	}

	// Password changed elsewhere: the remembered field no longer works,
	// the new password does.
	pw := "operator-pw2"
	modify(accounts.Update{Password: &pw})
	if code := get("operator", "operator-pw"); code != http.StatusUnauthorized {
		t.Errorf("the old password after a change: %d, want 401", code)
	}
	if code := get("operator", pw); code != http.StatusOK {
		t.Fatalf("the new password: %d", code)
	}

	// Disabled, then enabled again.
	off, on := false, true
	modify(accounts.Update{Enabled: &off})
	if code := get("operator", pw); code != http.StatusUnauthorized {
		t.Errorf("a disabled account: %d, want 401", code)
	}
	modify(accounts.Update{Enabled: &on})
	if code := get("operator", pw); code != http.StatusOK {
		t.Fatalf("enabled again: %d", code)
	}

	// A wrong password on the connection is a failure like any other:
	// with the threshold's other failures from elsewhere, the account
	// locks, and the remembered right field is refused while it is.
	if code := get("operator", "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("a wrong password: %d", code)
	}
	threshold := st.Policy().LockoutThreshold
	for i := 1; i < threshold; i++ {
		st.RecordFailureFrom(netip.AddrFrom4([4]byte{127, 0, 9, byte(i)}), "operator")
	}
	if code := get("operator", pw); code != http.StatusUnauthorized {
		t.Errorf("a locked-out account: %d, want 401", code)
	}
	locked := false
	modify(accounts.Update{Locked: &locked})
	if code := get("operator", pw); code != http.StatusOK {
		t.Fatalf("unlocked: %d", code)
	}

	// The connection's own address blocked by failures from other
	// connections of it: refused, though the field is remembered.
	self := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	for i := 0; ; i++ {
		if _, blocked := st.BlockedUntil(self); blocked {
			break
		}
		if i == 100 {
			t.Fatal("127.0.0.1 never blocked")
		}
		_, _ = st.AuthenticateFrom(self, "nobody", "wrong")
	}
	if code := get("operator", pw); code != http.StatusServiceUnavailable {
		t.Errorf("from a blocked address: %d, want 503", code)
	}
}

// getKept GETs url on client with auth's credentials, and reports the
// status and whether the request reused a connection: a memo answers
// only on the connection that filled it.
func getKept(t *testing.T, client *http.Client, url string, auth func(*http.Request)) (int, bool) {
	t.Helper()
	reused := false
	r, _ := http.NewRequest(http.MethodGet, url, nil)
	auth(r)
	r = r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
	}))
	resp, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, reused
}

package redfish

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

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
		reused := false
		r, _ := http.NewRequest(http.MethodGet, srv.URL+dimm, nil)
		r.Header.Set("X-Auth-Token", token)
		r = r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		}))
		resp, err := kept.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if !reused {
			t.Fatal("the kept client opened a new connection")
		}
		return resp.StatusCode
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

package redfish

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bmcemu/bmcemu/platform/accounts"
)

// TestNoAccountTakesEverySession: a ReadOnly account logging in again and
// again gets its share of the session table, then 503 SessionLimitExceeded;
// administrators still log in, also when several other accounts together
// have filled everything but the slots kept for them.
func TestNoAccountTakesEverySession(t *testing.T) {
	seed := []accounts.New{{UserName: adminUser, Password: adminPass, Role: accounts.RoleAdministrator, Enabled: true}}
	for i := range 4 {
		seed = append(seed, accounts.New{UserName: fmt.Sprintf("viewer%d", i), Password: "viewer-pw", Role: accounts.RoleReadOnly, Enabled: true})
	}
	st, err := accounts.Open(accounts.Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	h := newHandlerCfg(t, newPlatform(t), Config{AccountStore: st})
	post := func(user, pass string) *httptest.ResponseRecorder {
		return do(t, h, http.MethodPost, pathSessions, noAuth, withBody(`{"UserName":"`+user+`","Password":"`+pass+`"}`))
	}
	for i := range maxSessionsPerAccount {
		if w := post("viewer0", "viewer-pw"); w.Code != http.StatusCreated {
			t.Fatalf("viewer0 session %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	checkError(t, post("viewer0", "viewer-pw"), http.StatusServiceUnavailable, "SessionLimitExceeded")
	if w := post(adminUser, adminPass); w.Code != http.StatusCreated {
		t.Fatalf("administrator after one account's share: %d %s", w.Code, w.Body)
	}
	// Three more ReadOnly accounts fill what non-administrators may open
	// (the table less the reserved slots).
	n := maxSessionsPerAccount + 1
	for _, u := range []string{"viewer1", "viewer2", "viewer3"} {
		for n < maxSessions-sessionsReservedForAdmin {
			w := post(u, "viewer-pw")
			if w.Code == http.StatusServiceUnavailable {
				break
			}
			if w.Code != http.StatusCreated {
				t.Fatalf("%s: %d %s", u, w.Code, w.Body)
			}
			n++
		}
	}
	if got := len(getJSON(t, h, pathSessions)["Members"].([]any)); got != maxSessions-sessionsReservedForAdmin {
		t.Fatalf("%d sessions open, want %d", got, maxSessions-sessionsReservedForAdmin)
	}
	checkError(t, post("viewer3", "viewer-pw"), http.StatusServiceUnavailable, "SessionLimitExceeded")
	for i := range sessionsReservedForAdmin {
		if w := post(adminUser, adminPass); w.Code != http.StatusCreated {
			t.Fatalf("administrator in the reserved slots (%d): %d %s", i, w.Code, w.Body)
		}
	}
	checkError(t, post(adminUser, adminPass), http.StatusServiceUnavailable, "SessionLimitExceeded")
}

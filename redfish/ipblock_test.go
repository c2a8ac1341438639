package redfish

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/accounts"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/ipblock"
)

// countLines counts the lines of buf (the service's log) containing substr.
func countLines(buf *syncBuffer, substr string) int {
	buf.mu.Lock()
	defer buf.mu.Unlock()
	n := 0
	for l := range strings.Lines(buf.b.String()) {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

func logText(buf *syncBuffer) string {
	buf.mu.Lock()
	defer buf.mu.Unlock()
	return buf.b.String()
}

// blockingServer is a Redfish service on a real loopback listener whose
// accounts run on a manual clock, logging to logs.
func blockingServer(t *testing.T) (*httptest.Server, *accounts.Store, *clock.Manual, *syncBuffer) {
	t.Helper()
	clk := clock.NewManual(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	st, err := accounts.Open(accounts.Options{Clock: clk, Logger: log, Seed: []accounts.New{
		{UserName: adminUser, Password: adminPass, Role: accounts.RoleAdministrator, Enabled: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newHandlerCfg(t, newPlatform(t), Config{AccountStore: st, Logger: log, Now: clk.Now}))
	t.Cleanup(srv.Close)
	return srv, st, clk, logs
}

// clientFrom is an HTTP client whose connections leave from src, a
// loopback address of the 127.0.0.0/8 Linux routes to lo without setup.
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

func send(t *testing.T, c *http.Client, method, url, user, pass, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp
}

func loginFrom(t *testing.T, c *http.Client, base, user, pass string) int {
	t.Helper()
	return send(t, c, http.MethodPost, base+pathSessions, "", "",
		`{"UserName":"`+user+`","Password":"`+pass+`"}`).StatusCode
}

// TestWrongPasswordsFromOneAddressDoNotLockOthersOut is the hardening
// issue's denial of service, over Redfish: wrong passwords from 127.0.0.2
// (Basic and session login) block 127.0.0.2 for the penalty, and never
// stop the right password from 127.0.0.3; refusals are logged as
// summaries, not a line each.
func TestWrongPasswordsFromOneAddressDoNotLockOthersOut(t *testing.T) {
	srv, st, clk, logs := blockingServer(t)
	attacker, operator := clientFrom("127.0.0.2"), clientFrom("127.0.0.3")
	systems := srv.URL + "/redfish/v1/Systems"

	for i := range 3 {
		if code := send(t, attacker, http.MethodGet, systems, adminUser, "wrong", "").StatusCode; code != http.StatusUnauthorized {
			t.Fatalf("Basic attempt %d: %d, want 401", i, code)
		}
	}
	for i := range 2 {
		if code := loginFrom(t, attacker, srv.URL, adminUser, "wrong"); code != http.StatusUnauthorized {
			t.Fatalf("session attempt %d: %d, want 401", i, code)
		}
	}
	// Five failures in a minute: 127.0.0.2 is refused, right password or
	// not, with Retry-After the penalty.
	resp := send(t, attacker, http.MethodGet, systems, adminUser, adminPass, "")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "300" {
		t.Fatalf("blocked address, right password: %d Retry-After %q, want 503 and 300", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if code := loginFrom(t, attacker, srv.URL, adminUser, adminPass); code != http.StatusServiceUnavailable {
		t.Fatalf("blocked address, session login: %d, want 503", code)
	}
	// 127.0.0.3 is not affected, and admin is not locked.
	if code := send(t, operator, http.MethodGet, systems, adminUser, adminPass, "").StatusCode; code != http.StatusOK {
		t.Fatalf("other address, Basic: %d", code)
	}
	if code := loginFrom(t, operator, srv.URL, adminUser, adminPass); code != http.StatusCreated {
		t.Fatalf("other address, session login: %d", code)
	}
	if a, _ := st.Lookup(adminUser); a.Locked {
		t.Fatal("admin locked out")
	}

	// An attacker retrying in a loop costs no further log line within the
	// summary interval (before: the failed session logins, the block
	// notice and the first refusal).
	before := countLines(logs, "127.0.0.2")
	const retries = 500
	for i := range retries {
		if code := send(t, attacker, http.MethodGet, systems, adminUser, "wrong", "").StatusCode; code != http.StatusServiceUnavailable {
			t.Fatalf("retry %d: %d, want 503", i, code)
		}
	}
	if n := countLines(logs, "127.0.0.2"); n != before || n > 5 {
		t.Errorf("%d log lines name 127.0.0.2 after %d refused attempts (%d before them):\n%s", n, retries+2, before, logText(logs))
	}

	// The penalty runs on the injected clock: a second short, still
	// refused; then let in.
	clk.Advance(5*time.Minute - time.Second)
	if code := send(t, attacker, http.MethodGet, systems, adminUser, adminPass, "").StatusCode; code != http.StatusServiceUnavailable {
		t.Fatalf("a second before the penalty ends: %d", code)
	}
	clk.Advance(time.Second)
	if code := send(t, attacker, http.MethodGet, systems, adminUser, adminPass, "").StatusCode; code != http.StatusOK {
		t.Fatalf("after the penalty: %d", code)
	}
	// The summaries came out as their intervals ended and count every
	// refused attempt: 2 before the loop, the loop's, 1 after it.
	total := 0
	for _, m := range regexp.MustCompile(`remote=127\.0\.0\.2 address_blocked=(\d+)`).FindAllStringSubmatch(logText(logs), -1) {
		n, _ := strconv.Atoi(m[1])
		total += n
	}
	if want := 2 + retries + 1; total != want {
		t.Errorf("summaries count %d refused attempts, want %d:\n%s", total, want, logText(logs))
	}
	if n := countLines(logs, "127.0.0.2"); n > before+2 {
		t.Errorf("%d log lines name 127.0.0.2 in the end:\n%s", n, logText(logs))
	}
}

// TestCurlFromAnotherInterface: the same with curl --interface, the way
// an operator would check it by hand.
func TestCurlFromAnotherInterface(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("curl not installed (Debian package curl): %v", err)
		}
		t.Skipf("curl not installed: %v", err)
	}
	srv, _, _, _ := blockingServer(t)
	code := func(iface, user string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, curl, "-s", "-o", "/dev/null", "-w", "%{http_code}",
			"--interface", iface, "-u", user, srv.URL+"/redfish/v1/Systems").Output()
		if err != nil {
			t.Fatalf("curl --interface %s: %v", iface, err)
		}
		return string(out)
	}
	for range 5 {
		if got := code("127.0.0.2", adminUser+":wrong"); got != "401" {
			t.Fatalf("wrong password: %s, want 401", got)
		}
	}
	if got := code("127.0.0.2", adminUser+":"+adminPass); got != "503" {
		t.Errorf("right password from the blocked address: %s, want 503", got)
	}
	if got := code("127.0.0.3", adminUser+":"+adminPass); got != "200" {
		t.Errorf("right password from 127.0.0.3: %s, want 200", got)
	}
}

// TestAccountServiceIPBlocking: the settings are AccountService
// Oem.Bmcemu.IPBlocking, readable by anyone who may read the service,
// written by PATCH into the store that saves them.
func TestAccountServiceIPBlocking(t *testing.T) {
	st, err := accounts.Open(accounts.Options{Seed: []accounts.New{
		{UserName: adminUser, Password: adminPass, Role: accounts.RoleAdministrator, Enabled: true},
		{UserName: "reader", Password: "reader-pw", Role: accounts.RoleReadOnly, Enabled: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHandlerCfg(t, newPlatform(t), Config{AccountStore: st})
	const svc = "/redfish/v1/AccountService"
	got := getJSON(t, h, svc, basic("reader", "reader-pw"))
	want := map[string]any{"Enabled": true, "FailCount": 5.0, "FailWindowSeconds": 60.0, "PenaltySeconds": 300.0}
	for k, v := range want {
		if g := path(t, got, "Oem", "Bmcemu", "IPBlocking", k); g != v {
			t.Errorf("IPBlocking.%s = %v, want %v", k, g, v)
		}
	}
	w := do(t, h, http.MethodPatch, svc, withBody(`{"Oem":{"Bmcemu":{"IPBlocking":{"FailCount":3,"PenaltySeconds":900}}}}`))
	if w.Code != http.StatusOK {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body)
	}
	wantSet := ipblock.Settings{Enabled: true, FailCount: 3, FailWindow: time.Minute, Penalty: 15 * time.Minute}
	if s := st.IPBlocking(); s != wantSet {
		t.Errorf("store has %+v, want %+v", s, wantSet)
	}
	if g := path(t, decode(t, w.Body.Bytes()), "Oem", "Bmcemu", "IPBlocking", "PenaltySeconds"); g != 900.0 {
		t.Errorf("PATCH answer PenaltySeconds = %v", g)
	}
	// Refused values change nothing, not even the valid ones beside them.
	checkError(t, do(t, h, http.MethodPatch, svc, withBody(`{"Oem":{"Bmcemu":{"IPBlocking":{"FailCount":0,"Enabled":false}}}}`)),
		http.StatusBadRequest, "PropertyValueOutOfRange", "0", "Oem.Bmcemu.IPBlocking.FailCount")
	checkError(t, do(t, h, http.MethodPatch, svc, withBody(`{"Oem":{"Bmcemu":{"IPBlocking":{"PenaltySeconds":"long"}}}}`)),
		http.StatusBadRequest, "PropertyValueTypeError", "long", "Oem.Bmcemu.IPBlocking.PenaltySeconds")
	checkError(t, do(t, h, http.MethodPatch, svc, withBody(`{"Oem":{"Bmcemu":{"IPBlocking":{"Whitelist":[]}}}}`)),
		http.StatusBadRequest, "PropertyUnknown", "Oem.Bmcemu.IPBlocking.Whitelist")
	checkError(t, do(t, h, http.MethodPatch, svc, withBody(`{"Oem":{"Dell":{}}}`)),
		http.StatusBadRequest, "PropertyUnknown", "Oem.Dell")
	if s := st.IPBlocking(); s != wantSet {
		t.Errorf("refused PATCHes changed the store: %+v", s)
	}
	// Only those who may configure users may write it.
	checkError(t, do(t, h, http.MethodPatch, svc, basic("reader", "reader-pw"),
		withBody(`{"Oem":{"Bmcemu":{"IPBlocking":{"Enabled":false}}}}`)), http.StatusForbidden, "InsufficientPrivilege")
}

package webui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/cmd/internal/bmc"
	"github.com/bmcemu/bmcemu/cmd/internal/webui"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/cxl"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/redfish/sse"
)

// server is one in-process BMC behind an httptest listener: the UI as
// the composition root mounts it, with Redfish's real sessions and
// account store.
type server struct {
	t     testing.TB
	url   string
	b     *bmc.BMC
	close func()
}

func newServer(t testing.TB) *server {
	t.Helper()
	return newServerWith(t, profile.Default())
}

func newServerWith(t testing.TB, prof *profile.Profile) *server {
	t.Helper()
	b, err := bmc.New(bmc.Config{Profile: prof, User: "admin", Password: "password",
		Clock: clock.Real{Speed: 1000}, IPMIAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(b.Handler())
	var once sync.Once
	closeAll := func() {
		once.Do(func() {
			ts.Close()
			if err := b.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(closeAll)
	return &server{t: t, url: ts.URL, b: b, close: closeAll}
}

// do sends a request with auth ("" none, "token:T" a session, "user:pw"
// Basic) and returns the status, headers and body.
func (s *server) do(method, path, auth string, body any) (int, http.Header, []byte) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok, ok := strings.CutPrefix(auth, "token:"); ok {
		req.Header.Set("X-Auth-Token", tok)
	} else if u, pw, ok := strings.Cut(auth, ":"); ok {
		req.SetBasicAuth(u, pw)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// login opens a Redfish session and returns "token:T".
func (s *server) login(user, pw string) string {
	s.t.Helper()
	code, h, body := s.do(http.MethodPost, "/redfish/v1/SessionService/Sessions", "", map[string]string{"UserName": user, "Password": pw})
	if code != http.StatusCreated {
		s.t.Fatalf("login %s: %d %s", user, code, body)
	}
	return "token:" + h.Get("X-Auth-Token")
}

// addAccount makes an account through Redfish's AccountService and
// returns its URI.
func (s *server) addAccount(user, pw, role string) string {
	s.t.Helper()
	code, h, body := s.do(http.MethodPost, "/redfish/v1/AccountService/Accounts", "admin:password",
		map[string]any{"UserName": user, "Password": pw, "RoleId": role, "Enabled": true})
	if code != http.StatusCreated {
		s.t.Fatalf("create %s: %d %s", user, code, body)
	}
	return h.Get("Location")
}

func (s *server) slot(name string) control.Slot {
	s.t.Helper()
	code, _, body := s.do(http.MethodGet, "/ui/api/emulator/v1/slots/"+name, "admin:password", nil)
	if code != http.StatusOK {
		s.t.Fatalf("slot %s: %d %s", name, code, body)
	}
	var sl control.Slot
	if err := json.Unmarshal(body, &sl); err != nil {
		s.t.Fatal(err)
	}
	return sl
}

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e control.Error
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e.Error.Code
}

func TestPageIsServedFromTheBinaryAndNeedsNoOtherOrigin(t *testing.T) {
	s := newServer(t)
	code, h, _ := s.do(http.MethodGet, "/ui", "", nil)
	if code != http.StatusMovedPermanently || h.Get("Location") != "/ui/" {
		t.Errorf("/ui: %d Location %q, want 301 to /ui/", code, h.Get("Location"))
	}
	for path, ctype := range map[string]string{"/ui/": "text/html", "/ui/app.js": "javascript", "/ui/style.css": "text/css",
		"/ui/fleet.html": "text/html", "/ui/fleet.js": "javascript"} {
		code, h, body := s.do(http.MethodGet, path, "", nil)
		if code != http.StatusOK || !strings.Contains(h.Get("Content-Type"), ctype) {
			t.Errorf("%s: %d %q, want 200 %s", path, code, h.Get("Content-Type"), ctype)
			continue
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("%s: Content-Security-Policy %q does not keep the page to its origin", path, csp)
		}
		for _, ext := range []string{"http://", "https://", "//cdn"} {
			if bytes.Contains(body, []byte(ext)) {
				t.Errorf("%s refers to another origin (%q): the UI must work without a network", path, ext)
			}
		}
	}
	if code, _, _ := s.do(http.MethodPost, "/ui/", "admin:password", nil); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /ui/: %d, want 405", code)
	}
}

func TestAPINeedsARedfishLogin(t *testing.T) {
	s := newServer(t)
	for _, auth := range []string{"", "token:0123", "admin:wrong"} {
		code, h, body := s.do(http.MethodGet, "/ui/api/emulator/v1/slots", auth, nil)
		if code != http.StatusUnauthorized || errorCode(t, body) != "NoValidSession" {
			t.Errorf("auth %q: %d %s, want 401 NoValidSession", auth, code, body)
		}
		if h.Get("WWW-Authenticate") != "" {
			t.Errorf("auth %q: WWW-Authenticate %q would make the browser pop its own dialog", auth, h.Get("WWW-Authenticate"))
		}
	}
	tok := s.login("admin", "password")
	code, _, body := s.do(http.MethodGet, "/ui/api/me", tok, nil)
	var me webui.Me
	if code != http.StatusOK || json.Unmarshal(body, &me) != nil {
		t.Fatalf("me: %d %s", code, body)
	}
	if me.UserName != "admin" || me.Role != "Administrator" || !me.CanAct || !strings.HasPrefix(me.Session, "/redfish/v1/SessionService/Sessions/") {
		t.Errorf("me = %+v", me)
	}
	// Logging out of Redfish logs out of the UI.
	if code, _, body := s.do(http.MethodDelete, me.Session, tok, nil); code != http.StatusNoContent {
		t.Fatalf("logout: %d %s", code, body)
	}
	if code, _, _ := s.do(http.MethodGet, "/ui/api/me", tok, nil); code != http.StatusUnauthorized {
		t.Errorf("me after logout: %d, want 401", code)
	}
}

func TestReadOnlySeesTheBoardButCannotAct(t *testing.T) {
	s := newServer(t)
	s.addAccount("viewer", "Viewer-passw0rd", "ReadOnly")
	s.addAccount("oper", "Operator-passw0rd", "Operator")
	for _, user := range []struct{ name, pw string }{{"viewer", "Viewer-passw0rd"}, {"oper", "Operator-passw0rd"}} {
		tok := s.login(user.name, user.pw)
		code, _, body := s.do(http.MethodGet, "/ui/api/me", tok, nil)
		var me webui.Me
		if code != http.StatusOK || json.Unmarshal(body, &me) != nil || me.CanAct {
			t.Errorf("%s: me %d %s, want can_act false", user.name, code, body)
		}
		code, _, body = s.do(http.MethodGet, "/ui/api/emulator/v1/slots", tok, nil)
		var slots []control.Slot
		if code != http.StatusOK || json.Unmarshal(body, &slots) != nil || len(slots) != 32 {
			t.Errorf("%s: slots %d, %d slots, want 200 and 32", user.name, code, len(slots))
		}
		for _, a := range []struct {
			method, path string
			body         any
		}{
			{http.MethodPost, "/ui/api/emulator/v1/slots/CPU0_DIMM_A2/attention", nil},
			{http.MethodPut, "/ui/api/emulator/v1/slots/CPU0_DIMM_A2/module", map[string]int{"capacity_gib": 64}},
			{http.MethodDelete, "/ui/api/emulator/v1/slots/CPU0_DIMM_A1/module", nil},
			{http.MethodPut, "/ui/api/emulator/v1/slots/CPU0_DIMM_A1/faults/calibration", nil},
			{http.MethodPost, "/ui/api/emulator/v1/ras/errors", map[string]any{"slot": "CPU0_DIMM_A1", "rank": 0, "kind": "ue"}},
		} {
			code, _, body := s.do(a.method, a.path, tok, a.body)
			if code != http.StatusForbidden || errorCode(t, body) != "InsufficientPrivilege" {
				t.Errorf("%s: %s %s: %d %s, want 403 InsufficientPrivilege", user.name, a.method, a.path, code, body)
			}
		}
	}
	if a2, a1 := s.slot("CPU0_DIMM_A2"), s.slot("CPU0_DIMM_A1"); a2.AttentionLED != "Off" || a2.Module != nil || a1.Module == nil || len(a1.Faults) != 0 {
		t.Errorf("refused actions changed the board: A2 %+v, A1 %+v", a2, a1)
	}
}

func TestAdministratorActsThroughTheControlAPI(t *testing.T) {
	s := newServer(t)
	tok := s.login("admin", "password")
	code, _, body := s.do(http.MethodPost, "/ui/api/emulator/v1/slots/CPU0_DIMM_A2/attention", tok, nil)
	if code != http.StatusOK {
		t.Fatalf("attention: %d %s", code, body)
	}
	code, _, body = s.do(http.MethodPut, "/ui/api/emulator/v1/slots/CPU0_DIMM_A2/module", tok, map[string]int{"capacity_gib": 64})
	if code != http.StatusCreated {
		t.Fatalf("insert: %d %s", code, body)
	}
	if sl := s.slot("CPU0_DIMM_A2"); sl.Module == nil || sl.Module.CapacityMiB != 64<<10 {
		t.Errorf("after insert: %+v", sl)
	}
	// The control API's own validation and errors come through unchanged.
	code, _, body = s.do(http.MethodPut, "/ui/api/emulator/v1/slots/CPU0_DIMM_B2/module", tok, map[string]any{"capacity_gib": "lots"})
	if code != http.StatusBadRequest || errorCode(t, body) != "MalformedRequest" {
		t.Errorf("bad body: %d %s, want 400 MalformedRequest", code, body)
	}
	code, _, body = s.do(http.MethodPost, "/ui/api/emulator/v1/slots/CPU9_DIMM_Z9/attention", tok, nil)
	if code != http.StatusNotFound || errorCode(t, body) != "UnknownSlot" {
		t.Errorf("unknown slot: %d %s, want 404 UnknownSlot", code, body)
	}
	code, _, body = s.do(http.MethodGet, "/ui/api/nothing", tok, nil)
	if code != http.StatusNotFound {
		t.Errorf("/ui/api/nothing: %d %s, want 404", code, body)
	}
	code, _, body = s.do(http.MethodGet, "/ui/api/summary", tok, nil)
	var sum webui.Summary
	if code != http.StatusOK || json.Unmarshal(body, &sum) != nil || sum.Slots != 32 || sum.Populated != 17 || sum.Health != webui.HealthOK || sum.CXLSlots != 0 {
		t.Errorf("summary: %d %s", code, body)
	}
}

func TestPerAddressBlockingCoversTheUI(t *testing.T) {
	s := newServer(t)
	tok := s.login("admin", "password")
	for range 5 {
		s.do(http.MethodGet, "/ui/api/me", "admin:wrong", nil)
	}
	code, h, body := s.do(http.MethodGet, "/ui/api/me", "admin:password", nil)
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || errorCode(t, body) != "AddressBlocked" {
		t.Errorf("right password from a blocked address: %d Retry-After %q %s, want 503 AddressBlocked", code, h.Get("Retry-After"), body)
	}
	// As in Redfish, a session opened before the block keeps working.
	if code, _, body := s.do(http.MethodGet, "/ui/api/me", tok, nil); code != http.StatusOK {
		t.Errorf("session from a blocked address: %d %s", code, body)
	}
}

func TestPasswordChangeRequiredCannotUseTheUI(t *testing.T) {
	s := newServer(t)
	uri := s.addAccount("fresh", "Fresh-passw0rd", "Administrator")
	code, _, body := s.do(http.MethodPatch, uri, "admin:password", map[string]bool{"PasswordChangeRequired": true})
	if code != http.StatusOK {
		t.Fatalf("PATCH %s PasswordChangeRequired: %d %s", uri, code, body)
	}
	code, _, body = s.do(http.MethodGet, "/ui/api/emulator/v1/slots", "fresh:Fresh-passw0rd", nil)
	if code != http.StatusForbidden || errorCode(t, body) != "PasswordChangeRequired" {
		t.Errorf("%d %s, want 403 PasswordChangeRequired", code, body)
	}
}

// stream is an open /ui/api/stream.
type stream struct {
	r    *sse.Reader
	body io.Closer
}

func (s *server) openStream(auth, query string) (*stream, *http.Response) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+"/ui/api/stream"+query, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", strings.TrimPrefix(auth, "token:"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { resp.Body.Close() })
	return &stream{r: sse.NewReader(resp.Body), body: resp.Body}, resp
}

// next returns the stream's next event, failing the test at its end.
func (e *stream) next(t *testing.T) (event, data string) {
	t.Helper()
	ev, err := e.r.Next()
	if err != nil {
		t.Fatalf("stream ended: %v", err)
	}
	return ev.Type, ev.Data
}

// until reads events until want arrives or the stream goes quiet for
// long (a failure, not a timing assertion: the events are expected).
func (e *stream) until(t *testing.T, want func(event, data string) bool) {
	t.Helper()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			e.body.Close()
		}
	}()
	for {
		if ev, data := e.next(t); want(ev, data) {
			return
		}
	}
}

func TestStreamCarriesPlatformEventsAndSELChanges(t *testing.T) {
	s := newServer(t)
	tok := s.login("admin", "password")
	st, resp := s.openStream(tok, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ev, data := st.next(t)
	var hello webui.Hello
	if ev != "hello" || json.Unmarshal([]byte(data), &hello) != nil {
		t.Fatalf("first event %s %s, want hello", ev, data)
	}
	// A hot-add without the attention step puts noise on the channel and
	// logs SEL records; the stream shows the platform's records and then
	// the SEL change.
	if code, _, body := s.do(http.MethodPut, "/ui/api/emulator/v1/slots/CPU0_DIMM_A2/module", tok, map[string]int{"capacity_gib": 32}); code != http.StatusCreated {
		t.Fatalf("insert: %d %s", code, body)
	}
	st.until(t, func(ev, data string) bool {
		if ev != "platform" {
			return false
		}
		var rec control.EventRecord
		if err := json.Unmarshal([]byte(data), &rec); err != nil {
			t.Fatalf("platform event %s: %v", data, err)
		}
		return rec.Kind == "ModuleInserted" && rec.Slot == "CPU0_DIMM_A2" && rec.Seq > hello.LastSeq
	})
	st.until(t, func(ev, data string) bool {
		var sel webui.SELState
		return ev == "sel" && json.Unmarshal([]byte(data), &sel) == nil && sel.Entries > hello.SEL.Entries
	})
}

func TestStreamRefusesBadCursorAndReadOnlyMayWatch(t *testing.T) {
	s := newServer(t)
	s.addAccount("viewer", "Viewer-passw0rd", "ReadOnly")
	tok := s.login("viewer", "Viewer-passw0rd")
	for _, q := range []string{"?since=yesterday", "?recent=-1", "?recent=1000000"} {
		if _, resp := s.openStream(tok, q); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, resp.StatusCode)
		}
	}
	// recent=1 starts with the newest record the ring holds.
	st, resp := s.openStream(tok, "?recent=1")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("recent=1: %d", resp.StatusCode)
	}
	ev, data := st.next(t)
	var hello webui.Hello
	if ev != "hello" || json.Unmarshal([]byte(data), &hello) != nil {
		t.Fatalf("first event %s %s", ev, data)
	}
	ev, data = st.next(t)
	var rec control.EventRecord
	if ev != "platform" || json.Unmarshal([]byte(data), &rec) != nil || rec.Seq != hello.LastSeq+1 {
		t.Errorf("after hello at %d: %s %s, want the newest record", hello.LastSeq, ev, data)
	}
	st, resp = s.openStream(tok, "?since=0")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ReadOnly stream: %d", resp.StatusCode)
	}
	if ev, _ := st.next(t); ev != "hello" {
		t.Fatalf("first event %q, want hello", ev)
	}
	// since=0 replays what the ring holds: the boot's records.
	if ev, _ := st.next(t); ev != "platform" {
		t.Errorf("after hello with since=0: %q, want the boot's platform records", ev)
	}
}

// waitOS waits until the in-band OS answers (the CXL buttons need its
// drivers). The limit only turns a host that never boots into a failure.
func (s *server) waitOS(auth string) {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, _, body := s.do(http.MethodGet, "/ui/api/emulator/v1/os/nodes", auth, nil)
		if code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the OS never came up: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) cxl(auth string) cxl.Status {
	s.t.Helper()
	code, _, body := s.do(http.MethodGet, "/ui/api/emulator/v1/cxl", auth, nil)
	var st cxl.Status
	if code != http.StatusOK || json.Unmarshal(body, &st) != nil {
		s.t.Fatalf("cxl: %d %s", code, body)
	}
	return st
}

// The CXL panel's data and buttons: the summary tells the page the board
// has CXL slots, the slots' buttons are the control API's under the UI's
// role check, a refusal comes back with its code for the card, and the
// stream reports IOMMU counters that DMA moved without a platform event.
func TestCXLThroughTheUI(t *testing.T) {
	prof, err := profile.Builtin("cxl")
	if err != nil {
		t.Fatal(err)
	}
	s := newServerWith(t, prof)
	s.addAccount("oper", "Operator-passw0rd", "Operator")
	tok := s.login("admin", "password")
	slots := len(s.cxl(tok).Slots)
	code, _, body := s.do(http.MethodGet, "/ui/api/summary", tok, nil)
	var sum webui.Summary
	if code != http.StatusOK || json.Unmarshal(body, &sum) != nil || slots == 0 || sum.CXLSlots != slots {
		t.Fatalf("summary: %d %s, want cxl_slots %d", code, body, slots)
	}

	oper := s.login("oper", "Operator-passw0rd")
	for _, a := range []struct{ method, path string }{
		{http.MethodPost, "/ui/api/emulator/v1/cxl/slots/CXL1/attention"},
		{http.MethodPut, "/ui/api/emulator/v1/cxl/slots/CXL1/card"},
		{http.MethodDelete, "/ui/api/emulator/v1/cxl/slots/CXL1/card"},
	} {
		code, _, body := s.do(a.method, a.path, oper, map[string]string{"capacity": "64G"})
		if code != http.StatusForbidden || errorCode(t, body) != "InsufficientPrivilege" {
			t.Errorf("Operator %s %s: %d %s, want 403 InsufficientPrivilege", a.method, a.path, code, body)
		}
	}
	if sl := s.cxl(tok).Slots[0]; sl.Device != nil {
		t.Fatalf("refused actions seated a card: %+v", sl)
	}

	s.waitOS(tok)
	if code, _, body := s.do(http.MethodPut, "/ui/api/emulator/v1/cxl/slots/CXL1/card", tok, map[string]string{"capacity": "64G"}); code != http.StatusCreated {
		t.Fatalf("seat CXL1: %d %s", code, body)
	}
	es, resp := s.openStream(tok, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	ev, data := es.next(t)
	var hello webui.Hello
	if ev != "hello" || json.Unmarshal([]byte(data), &hello) != nil || hello.CXL == nil {
		t.Fatalf("first event %s %s, want hello with the CXL side", ev, data)
	}
	if code, _, body := s.do(http.MethodPost, "/ui/api/emulator/v1/cxl/slots/CXL1/attention", tok, nil); code != http.StatusOK {
		t.Fatalf("attention CXL1: %d %s", code, body)
	}
	if sl := s.cxl(tok).Slots[0]; sl.State != cxl.StateEnabled || sl.Device == nil || sl.Device.Region == nil {
		t.Fatalf("CXL1 after attention: %+v", sl)
	}
	before := s.cxl(tok).IOMMU.Maps
	if code, _, body := s.do(http.MethodPost, "/ui/api/emulator/v1/cxl/slots/CXL1/dma/transfer", tok, map[string]any{"size": 512}); code != http.StatusOK {
		t.Fatalf("dma transfer: %d %s", code, body)
	}
	es.until(t, func(ev, data string) bool {
		var c webui.CXLState
		return ev == "cxl" && json.Unmarshal([]byte(data), &c) == nil && c.IOMMU.Maps > before
	})

	if code, _, body := s.do(http.MethodPut, "/ui/api/emulator/v1/cxl/slots/CXL2/card", tok, map[string]string{"capacity": "64G"}); code != http.StatusCreated {
		t.Fatalf("seat CXL2: %d %s", code, body)
	}
	code, _, body = s.do(http.MethodPost, "/ui/api/emulator/v1/cxl/slots/CXL2/attention", tok, nil)
	if code != http.StatusConflict || errorCode(t, body) != "NoMemoryWindow" {
		t.Errorf("attention CXL2 (no CFMWS): %d %s, want 409 NoMemoryWindow", code, body)
	}
}

package redfish

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/redfish/sse"
)

// collector is a test event destination: it records every Event POSTed
// and answers with the status fail() gives for the attempt number.
type collector struct {
	mu       sync.Mutex
	attempts int
	events   []map[string]any
	headers  http.Header
	fail     func(attempt int) int
	srv      *httptest.Server
}

func newCollector(t *testing.T, fail func(int) int) *collector {
	c := &collector{fail: fail}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.attempts++
		n := c.attempts
		c.headers = r.Header.Clone()
		c.mu.Unlock()
		if c.fail != nil {
			if code := c.fail(n); code != 0 {
				w.WriteHeader(code)
				return
			}
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("subscriber got %q: %v", b, err)
		}
		c.mu.Lock()
		c.events = append(c.events, m)
		c.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) records() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]any
	for _, e := range c.events {
		for _, r := range e["Events"].([]any) {
			out = append(out, r.(map[string]any))
		}
	}
	return out
}

func (c *collector) has(msg string) bool {
	for _, r := range c.records() {
		if r["Message"] == msg {
			return true
		}
	}
	return false
}

func subscribe(t *testing.T, h http.Handler, body string) string {
	t.Helper()
	w := do(t, h, http.MethodPost, "/redfish/v1/EventService/Subscriptions", withBody(body))
	if w.Code != http.StatusCreated {
		t.Fatalf("subscribe %s: %d %s", body, w.Code, w.Body)
	}
	return w.Header().Get("Location")
}

func fastRetries() Config {
	return Config{DeliveryRetryAttempts: 3, DeliveryRetryInterval: time.Millisecond}
}

// The subscriber sees an insert and a removal in order, after refusing the
// first two deliveries with 500.
func TestSubscriptionDeliveryWithRetries(t *testing.T) {
	p := newPlatform(t)
	h := newHandlerCfg(t, p, fastRetries())
	c := newCollector(t, func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return 0
	})
	loc := subscribe(t, h, `{"Destination":"`+c.srv.URL+`/events","Protocol":"Redfish","Context":"ctx-1",
		"HttpHeaders":[{"X-Token":"secret"}],"RegistryPrefixes":["ResourceEvent","BmcemuMemory"],"ResourceTypes":["Memory"]}`)
	sub := getJSON(t, h, loc)
	if sub["Destination"] != c.srv.URL+"/events" || sub["Context"] != "ctx-1" || len(sub["HttpHeaders"].([]any)) != 0 ||
		sub["DeliveryRetryPolicy"] != "TerminateAfterRetries" || path(t, sub, "Status", "State") != "Enabled" {
		t.Errorf("subscription = %v", sub)
	}
	insert(t, p, "CPU0_DIMM_A2", 64)
	if err := p.SetLocationIndicator("CPU0_DIMM_A2", true); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Remove("CPU0_DIMM_A2"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the removal event", func() bool { return c.has(wantRemoved) })
	want := []string{
		"The state of resource '/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2' has changed to Enabled.",
		"The location indicator of memory slot CPU0_DIMM_A2 is now On.",
		wantRemoved,
	}
	var last uint64
	recs := c.records()
	for _, r := range recs {
		id := r["EventId"].(string)
		n := uint64(0)
		for _, ch := range id {
			n = n*10 + uint64(ch-'0')
		}
		if n <= last {
			t.Errorf("EventId %s after %d: out of order", id, last)
		}
		last = n
		if !strings.HasPrefix(r["MessageId"].(string), "ResourceEvent.") && !strings.HasPrefix(r["MessageId"].(string), "BmcemuMemory.") {
			t.Errorf("filtered registry leaked: %v", r["MessageId"])
		}
		if len(want) > 0 && r["Message"] == want[0] {
			if path(t, r, "OriginOfCondition", "@odata.id") != "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2" {
				t.Errorf("origin of %v", r)
			}
			want = want[1:]
		}
	}
	if len(want) > 0 {
		t.Errorf("missing in order %v; got %v", want, recs)
	}
	c.mu.Lock()
	attempts, delivered, hdr, ctx := c.attempts, len(c.events), c.headers.Get("X-Token"), c.events[0]["Context"]
	c.mu.Unlock()
	if attempts != delivered+2 || hdr != "secret" || ctx != "ctx-1" {
		t.Errorf("attempts %d for %d deliveries, header %q, context %v", attempts, delivered, hdr, ctx)
	}
	if w := do(t, h, http.MethodDelete, loc); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d", w.Code)
	}
	checkError(t, do(t, h, http.MethodGet, loc), http.StatusNotFound, "ResourceNotFound", "EventDestination", loc[strings.LastIndex(loc, "/")+1:])
}

func TestSubscriptionValidation(t *testing.T) {
	cfg := fastRetries()
	cfg.MaxEventSubscriptions = 2
	h := newHandlerCfg(t, newPlatform(t), cfg)
	w := do(t, h, http.MethodPost, "/redfish/v1/EventService/Subscriptions", withBody(`{"Destination":"http://10.1.2.3/x","Protocol":"Redfish"}`))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "EventDestinationAllow") {
		t.Errorf("outside allow-list: %d %s", w.Code, w.Body)
	}
	for _, proto := range []string{"FTP", "SNMPv2c", "SMTP"} {
		w := do(t, h, http.MethodPost, "/redfish/v1/EventService/Subscriptions", withBody(`{"Destination":"http://127.0.0.1:9/x","Protocol":"`+proto+`"}`))
		checkError(t, w, http.StatusBadRequest, "PropertyValueNotInList", proto, "Protocol")
	}
	for _, body := range []string{
		`{"Destination":"ftp://127.0.0.1/x","Protocol":"Redfish"}`,
		`{"Destination":"127.0.0.1","Protocol":"Redfish"}`,
		`{"Protocol":"Redfish"}`,
		`{"Destination":"http://127.0.0.1:9/","Protocol":"Redfish","SubscriptionType":"SNMPTrap"}`,
		`{"Destination":"http://127.0.0.1:9/","Protocol":"Redfish","RegistryPrefixes":["Bogus"]}`,
		`{"Destination":"http://127.0.0.1:9/","Protocol":"Redfish","MessageIds":["Bogus.1.0.X"]}`,
		`{"Destination":"http://127.0.0.1:9/","Protocol":"Redfish","DeliveryRetryPolicy":"Sometimes"}`,
		`{"Destination":"http://127.0.0.1:9/","Protocol":"Redfish","HttpHeaders":[{"X-A":"b\r\nInjected: 1"}]}`,
		`{"Destination":"http://127.0.0.1:9/","Protocol":"Redfish","Bogus":1}`,
	} {
		if w := do(t, h, http.MethodPost, "/redfish/v1/EventService/Subscriptions", withBody(body)); w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", body, w.Code, w.Body)
		}
	}
	subscribe(t, h, `{"Destination":"http://127.0.0.1:9/a","Protocol":"Redfish","MessageIds":["ResourceEvent.ResourceStateChanged"]}`)
	subscribe(t, h, `{"Destination":"http://[::1]:9/b","Protocol":"Redfish"}`)
	checkError(t, do(t, h, http.MethodPost, "/redfish/v1/EventService/Subscriptions", withBody(`{"Destination":"http://127.0.0.1:9/c","Protocol":"Redfish"}`)),
		http.StatusBadRequest, "EventSubscriptionLimitExceeded")
	checkError(t, do(t, h, http.MethodPost, "/redfish/v1/EventService/Subscriptions", basic("reader", "reader-pw"),
		withBody(`{"Destination":"http://127.0.0.1:9/c","Protocol":"Redfish"}`)), http.StatusForbidden, "InsufficientPrivilege")

	// A wider allow-list admits the network.
	cfg.EventDestinationAllow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	h2 := newHandlerCfg(t, newPlatform(t), cfg)
	subscribe(t, h2, `{"Destination":"http://10.1.2.3/x","Protocol":"Redfish"}`)
}

func TestSubscriptionPolicies(t *testing.T) {
	p := newPlatform(t)
	h := newHandlerCfg(t, p, fastRetries())
	var down sync.Mutex
	failing := true
	c := newCollector(t, func(int) int {
		down.Lock()
		defer down.Unlock()
		if failing {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	term := subscribe(t, h, `{"Destination":"`+c.srv.URL+`/t","Protocol":"Redfish"}`)
	susp := subscribe(t, h, `{"Destination":"`+c.srv.URL+`/s","Protocol":"Redfish","DeliveryRetryPolicy":"SuspendRetries"}`)
	forever := subscribe(t, h, `{"Destination":"`+c.srv.URL+`/f","Protocol":"Redfish","DeliveryRetryPolicy":"RetryForever"}`)
	if w := do(t, h, http.MethodPost, "/redfish/v1/EventService/Actions/EventService.SubmitTestEvent", withBody(`{}`)); w.Code != http.StatusNoContent {
		t.Fatalf("SubmitTestEvent: %d %s", w.Code, w.Body)
	}
	waitFor(t, "termination", func() bool { return do(t, h, http.MethodGet, term).Code == http.StatusNotFound })
	// The retry policy's removal is announced like a client's DELETE.
	waitFor(t, "ResourceRemoved for the terminated subscription", func() bool {
		return loggedAbout(t, h, resourceEventRegistry+".ResourceRemoved", term)
	})
	waitFor(t, "suspension", func() bool { return path(t, getJSON(t, h, susp), "Status", "State") == "Disabled" })
	if path(t, getJSON(t, h, forever), "Status", "State") != "Enabled" {
		t.Error("RetryForever subscription changed state")
	}
	down.Lock()
	failing = false
	down.Unlock()
	if w := do(t, h, http.MethodPost, susp+"/Actions/EventDestination.ResumeSubscription", withBody(`{}`)); w.Code != http.StatusNoContent {
		t.Fatalf("Resume: %d %s", w.Code, w.Body)
	}
	if path(t, getJSON(t, h, susp), "Status", "State") != "Enabled" {
		t.Error("not resumed")
	}
	// Both the resumed and the ever-retrying subscriptions deliver the
	// test event they were holding (and the lifecycle events of the
	// others: the later ones' ResourceCreated, the terminated one's
	// ResourceRemoved).
	tests := func() (n int) {
		for _, r := range c.records() {
			switch r["MessageId"] {
			case "ResourceEvent.1.4.3.TestMessage":
				if r["Message"] != "Test message." {
					t.Errorf("record %v", r)
				}
				n++
			case "ResourceEvent.1.4.3.ResourceCreated", "ResourceEvent.1.4.3.ResourceRemoved":
			default:
				t.Errorf("record %v", r)
			}
		}
		return n
	}
	waitFor(t, "two deliveries", func() bool { return tests() == 2 })
}

// A subscriber that never answers delays only itself.
func TestSlowSubscriberBlocksNobody(t *testing.T) {
	p := newPlatform(t)
	h := newHandlerCfg(t, p, fastRetries())
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer hung.Close()
	defer close(release)
	c := newCollector(t, nil)
	subscribe(t, h, `{"Destination":"`+hung.URL+`","Protocol":"Redfish"}`)
	subscribe(t, h, `{"Destination":"`+c.srv.URL+`","Protocol":"Redfish"}`)
	for range 50 {
		if err := p.SetLocationIndicator("CPU0_DIMM_A1", true); err != nil {
			t.Fatal(err)
		}
		if err := p.SetLocationIndicator("CPU0_DIMM_A1", false); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "100 events at the live subscriber", func() bool { return len(c.records()) >= 100 })
}

func TestSubscriptionsPersist(t *testing.T) {
	dir := t.TempDir()
	cfg := fastRetries()
	cfg.StateDir = dir
	h := newHandlerCfg(t, newPlatform(t), cfg)
	loc := subscribe(t, h, `{"Destination":"http://127.0.0.1:9/p","Protocol":"Redfish","Context":"keep","HttpHeaders":[{"Authorization":"Bearer x"}]}`)
	h.(interface{ Close() error }).Close()
	h2 := newHandlerCfg(t, newPlatform(t), cfg)
	sub := getJSON(t, h2, loc)
	if sub["Context"] != "keep" || sub["Destination"] != "http://127.0.0.1:9/p" {
		t.Errorf("after restart: %v", sub)
	}
	loc2 := subscribe(t, h2, `{"Destination":"http://127.0.0.1:9/q","Protocol":"Redfish"}`)
	if loc2 == loc {
		t.Errorf("id %s reused", loc2)
	}
}

func TestEventServiceResource(t *testing.T) {
	h := newHandlerCfg(t, newPlatform(t), fastRetries())
	es := getJSON(t, h, "/redfish/v1/EventService")
	if es["ServerSentEventUri"] != "/redfish/v1/EventService/SSE" || es["DeliveryRetryAttempts"] != 3.0 ||
		es["DeliveryRetryIntervalSeconds"] != 1.0 || path(t, es, "SSEFilterPropertiesSupported", "MessageId") != true ||
		path(t, es, "Actions", "#EventService.SubmitTestEvent", "target") != "/redfish/v1/EventService/Actions/EventService.SubmitTestEvent" {
		t.Errorf("EventService = %v", es)
	}
	if root := getJSON(t, h, "/redfish/v1/"); path(t, root, "EventService", "@odata.id") != "/redfish/v1/EventService" {
		t.Error("service root lacks EventService")
	}
	checkError(t, do(t, h, http.MethodPost, "/redfish/v1/EventService/Actions/EventService.SubmitTestEvent", basic("reader", "reader-pw"), withBody(`{}`)),
		http.StatusForbidden, "InsufficientPrivilege")
}

// sseEvent is an SSE event's id and its data decoded.
type sseEvent struct {
	id   string
	data map[string]any
}

func openSSE(t *testing.T, url, lastID string) (<-chan sseEvent, func()) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	req.SetBasicAuth(adminUser, adminPass)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("SSE: %d %s", resp.StatusCode, b)
	}
	t.Cleanup(func() { resp.Body.Close() })
	out := make(chan sseEvent, 1024)
	go func() {
		defer close(out)
		_ = sse.Read(resp.Body, func(e sse.Event) bool {
			cur := sseEvent{id: e.ID}
			_ = json.Unmarshal([]byte(e.Data), &cur.data)
			out <- cur
			return true
		})
	}()
	return out, func() { resp.Body.Close() }
}

func nextSSE(t *testing.T, c <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-c:
		if !ok {
			t.Fatal("SSE stream ended")
		}
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no SSE event")
	}
	return sseEvent{}
}

func TestSSEStreamAndResume(t *testing.T) {
	p := newPlatform(t)
	h := newHandlerCfg(t, p, fastRetries())
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close) // after the streams' cleanups
	stream, stop := openSSE(t, srv.URL+"/redfish/v1/EventService/SSE?$filter="+
		urlq("ResourceType eq 'Memory' and RegistryPrefix eq 'ResourceEvent' and MessageId eq 'ResourceEvent.ResourceStateChanged'"), "")
	insert(t, p, "CPU0_DIMM_A2", 64)
	first := nextSSE(t, stream)
	if path(t, first.data, "Events", 0, "Message") != "The state of resource '/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2' has changed to Enabled." ||
		path(t, first.data, "Events", 0, "EventId") != first.id {
		t.Fatalf("first SSE event %v", first)
	}
	stop()
	// Missed while disconnected: the removal.
	if _, err := p.Remove("CPU0_DIMM_A2"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the removal in the event log", func() bool {
		return hasMessage(members(t, getJSON(t, srv.Config.Handler, "/redfish/v1/Systems/1/LogServices/EventLog/Entries")), wantRemoved)
	})
	stream2, _ := openSSE(t, srv.URL+"/redfish/v1/EventService/SSE?$filter="+urlq("MessageId eq 'ResourceEvent.1.4.3.ResourceStateChanged'"), first.id)
	// Resuming replays everything after first.id, in order: the rest of the
	// hot-add's state changes, then the removal.
	firstID, _ := strconv.Atoi(first.id)
	prev := firstID
	for {
		again := nextSSE(t, stream2)
		id, err := strconv.Atoi(again.id)
		if err != nil || id <= prev {
			t.Fatalf("resumed stream went from id %d to %q", prev, again.id)
		}
		prev = id
		if path(t, again.data, "Events", 0, "Message") == wantRemoved {
			break
		}
	}

	for _, bad := range []string{"Foo eq 'x'", "MessageId eq x", "MessageId ne 'x'"} {
		w := do(t, h, http.MethodGet, "/redfish/v1/EventService/SSE?$filter="+urlq(bad))
		if w.Code != http.StatusBadRequest {
			t.Errorf("filter %q: %d", bad, w.Code)
		}
	}
	if w := do(t, h, http.MethodGet, "/redfish/v1/EventService/SSE", noAuth); w.Code != http.StatusUnauthorized {
		t.Errorf("anonymous SSE: %d", w.Code)
	}
}

func TestSSEFilterParse(t *testing.T) {
	f, err := parseSSEFilter("MessageId eq 'A.1.0.B' or RegistryPrefix eq 'Platform' and ResourceType eq 'Memory'")
	if err != nil || len(f) != 2 || len(f[1]) != 2 {
		t.Fatalf("%v %v", f, err)
	}
	ev := rfEvent{MessageID: "Platform.1.3.2.DeviceDisabled", Origin: "/redfish/v1/Systems/1/Memory/X"}
	if !f.matches(ev) || f.matches(rfEvent{MessageID: "Platform.1.3.2.DeviceDisabled", Origin: "/redfish/v1/Systems/1"}) {
		t.Error("matches")
	}
	if !f.matches(rfEvent{MessageID: "A.1.1.B"}) {
		t.Error("version-less MessageId match")
	}
}

func FuzzSSEFilter(f *testing.F) {
	for _, s := range []string{"MessageId eq 'a'", "a eq 'b' or c eq 'd'", "(RegistryPrefix eq 'x')", "OriginResource eq 'it''s'", "", " or ", "x eq '"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := parseSSEFilter(s)
		if err != nil {
			return
		}
		flt.matches(rfEvent{MessageID: "ResourceEvent.1.4.3.X", Origin: "/redfish/v1/Systems/1"})
	})
}

// The retry settings are the EventService's to change: a PATCH applies at
// once to every subscription, bad values change nothing, and the settings
// outlive a restart.
func TestEventServicePatchRetry(t *testing.T) {
	dir := t.TempDir()
	cfg := fastRetries()
	cfg.StateDir = dir
	p := newPlatform(t)
	h := newHandlerCfg(t, p, cfg)
	const es = "/redfish/v1/EventService"

	checkError(t, do(t, h, http.MethodPatch, es, withBody(`{"DeliveryRetryAttempts": 21}`)), http.StatusBadRequest, "PropertyValueOutOfRange", "21", "DeliveryRetryAttempts")
	checkError(t, do(t, h, http.MethodPatch, es, withBody(`{"DeliveryRetryIntervalSeconds": 0}`)), http.StatusBadRequest, "PropertyValueOutOfRange", "0", "DeliveryRetryIntervalSeconds")
	checkError(t, do(t, h, http.MethodPatch, es, withBody(`{"DeliveryRetryAttempts": "2"}`)), http.StatusBadRequest, "PropertyValueTypeError", "2", "DeliveryRetryAttempts")
	checkError(t, do(t, h, http.MethodPatch, es, withBody(`{"ServiceEnabled": false}`)), http.StatusBadRequest, "PropertyNotWritable", "ServiceEnabled")
	checkError(t, do(t, h, http.MethodPatch, es, basic("reader", "reader-pw"), withBody(`{"DeliveryRetryAttempts": 1}`)),
		http.StatusForbidden, "InsufficientPrivilege")
	if got := getJSON(t, h, es); got["DeliveryRetryAttempts"] != 3.0 || got["DeliveryRetryIntervalSeconds"] != 1.0 {
		t.Fatalf("refused PATCHes changed the EventService: %v", got)
	}

	// Partial success: the good property applies, the bad one is reported.
	w := do(t, h, http.MethodPatch, es, withBody(`{"DeliveryRetryAttempts": 0, "DeliveryRetryIntervalSeconds": 99999}`))
	if w.Code != http.StatusOK {
		t.Fatalf("partial PATCH: %d %s", w.Code, w.Body)
	}
	got := decode(t, w.Body.Bytes())
	if got["DeliveryRetryAttempts"] != 0.0 || got["DeliveryRetryIntervalSeconds"] != 1.0 ||
		!strings.Contains(w.Body.String(), "PropertyValueOutOfRange") {
		t.Fatalf("partial PATCH answered %s", w.Body)
	}

	// No retries now: a subscriber that fails once is dropped at once.
	c := newCollector(t, func(int) int { return http.StatusInternalServerError })
	sub := subscribe(t, h, `{"Destination":"`+c.srv.URL+`","Protocol":"Redfish"}`)
	if w := do(t, h, http.MethodPost, es+"/Actions/EventService.SubmitTestEvent", withBody(`{}`)); w.Code != http.StatusNoContent {
		t.Fatalf("SubmitTestEvent: %d %s", w.Code, w.Body)
	}
	waitFor(t, "termination", func() bool { return do(t, h, http.MethodGet, sub).Code == http.StatusNotFound })
	c.mu.Lock()
	attempts := c.attempts
	c.mu.Unlock()
	if attempts != 1 {
		t.Errorf("with DeliveryRetryAttempts 0 the subscriber was tried %d times", attempts)
	}

	if w := do(t, h, http.MethodPatch, es, withBody(`{"DeliveryRetryAttempts": 5, "DeliveryRetryIntervalSeconds": 45}`)); w.Code != http.StatusOK {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body)
	}
	h.(interface{ Close() error }).Close()
	h2 := newHandlerCfg(t, newPlatform(t), cfg)
	if got := getJSON(t, h2, es); got["DeliveryRetryAttempts"] != 5.0 || got["DeliveryRetryIntervalSeconds"] != 45.0 {
		t.Errorf("after restart: %v", got)
	}
}

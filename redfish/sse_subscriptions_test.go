package redfish

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/conformance/schemacheck"
)

// sseMembers are the Subscriptions members whose SubscriptionType is SSE.
func sseMembers(t *testing.T, h http.Handler) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range members(t, getJSON(t, h, pathSubscriptions)) {
		w := do(t, h, http.MethodGet, m.(map[string]any)["@odata.id"].(string))
		if w.Code == http.StatusNotFound {
			continue // its stream closed between the two GETs
		}
		if w.Code != http.StatusOK {
			t.Fatalf("GET member: %d %s", w.Code, w.Body)
		}
		if sub := decode(t, w.Body.Bytes()); sub["SubscriptionType"] == "SSE" {
			out = append(out, sub)
		}
	}
	return out
}

// openSSEAs opens a stream as user and returns the response, whose body
// reaches EOF when the service ends the stream.
func openSSEAs(t *testing.T, url, user, pass string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("SSE as %s: %d %s", user, resp.StatusCode, b)
	}
	return resp
}

// ended waits for the stream's body to reach EOF: the service closed it.
func ended(t *testing.T, body io.Reader) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, body)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stream ended with %v, want a clean close", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("stream still open")
	}
}

// The stream is a member while it is open, shows its filter, validates
// against EventDestination.v1_16_0, and goes when the client leaves.
func TestSSEStreamIsSubscriptionMember(t *testing.T) {
	v := schemacheck.NewForTest(t)
	p := newPlatform(t)
	h := newHandlerCfg(t, p, fastRetries())
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	_, stop := openSSE(t, srv.URL+pathSSE+"?$filter="+
		urlq("(MessageId eq 'ResourceEvent.ResourceStateChanged' and ResourceType eq 'Memory') or (MessageId eq 'ResourceEvent.ResourceRemoved' and ResourceType eq 'Memory')"), "")
	got := sseMembers(t, h)
	if len(got) != 1 {
		t.Fatalf("SSE members while streaming: %v", got)
	}
	sub := got[0]
	validateTree(t, v, "GET "+sub["@odata.id"].(string), sub)
	if sub["@odata.type"] != typeEventDestination || sub["Protocol"] != "Redfish" || sub["EventFormatType"] != "Event" ||
		!slices.Equal(strs(sub["MessageIds"]), []string{"ResourceEvent.ResourceStateChanged", "ResourceEvent.ResourceRemoved"}) ||
		!slices.Equal(strs(sub["ResourceTypes"]), []string{"Memory"}) || len(strs(sub["RegistryPrefixes"])) != 0 {
		t.Errorf("SSE member = %v", sub)
	}
	stop()
	waitFor(t, "the member to go with the stream", func() bool { return len(sseMembers(t, h)) == 0 })
}

func strs(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// Deleting the member closes the stream; only ConfigureManager or the
// stream's own user may.
func TestSSEDeleteClosesStream(t *testing.T) {
	h := newHandlerCfg(t, newPlatform(t), fastRetries())
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	resp := openSSEAs(t, srv.URL+pathSSE, "reader", "reader-pw")
	other := openSSEAs(t, srv.URL+pathSSE, adminUser, adminPass)
	subs := sseMembers(t, h)
	if len(subs) != 2 {
		t.Fatalf("SSE members: %v", subs)
	}
	// Ids follow opening order: the reader's stream came first.
	mine, admins := subs[0]["@odata.id"].(string), subs[1]["@odata.id"].(string)
	checkError(t, do(t, h, http.MethodDelete, admins, basic("reader", "reader-pw")), http.StatusForbidden, "InsufficientPrivilege")
	if w := do(t, h, http.MethodDelete, mine, basic("reader", "reader-pw")); w.Code != http.StatusNoContent {
		t.Fatalf("owner DELETE: %d %s", w.Code, w.Body)
	}
	ended(t, resp.Body)
	if w := do(t, h, http.MethodDelete, admins); w.Code != http.StatusNoContent {
		t.Fatalf("admin DELETE: %d %s", w.Code, w.Body)
	}
	ended(t, other.Body)
	if n := len(sseMembers(t, h)); n != 0 {
		t.Errorf("%d SSE members after DELETE", n)
	}
	checkError(t, do(t, h, http.MethodDelete, mine), http.StatusNotFound, "ResourceNotFound", "EventDestination", strings.TrimPrefix(mine, pathSubscriptions+"/"))
}

// PATCH changes Context (which the stream's events then carry) and
// refuses what an SSE member cannot change.
func TestSSEMemberPatch(t *testing.T) {
	p := newPlatform(t)
	h := newHandlerCfg(t, p, fastRetries())
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	stream, _ := openSSE(t, srv.URL+pathSSE, "")
	loc := sseMembers(t, h)[0]["@odata.id"].(string)

	checkError(t, do(t, h, http.MethodPatch, loc, withBody(`{"Destination":"http://127.0.0.1:9/x"}`)), http.StatusBadRequest, "PropertyNotWritable", "Destination")
	checkError(t, do(t, h, http.MethodPatch, loc, withBody(`{"SubscriptionType":"RedfishEvent"}`)), http.StatusBadRequest, "PropertyNotWritable", "SubscriptionType")
	checkError(t, do(t, h, http.MethodPatch, loc, withBody(`{"DeliveryRetryPolicy":"RetryForever"}`)), http.StatusBadRequest, "PropertyNotWritable", "DeliveryRetryPolicy")
	w := do(t, h, http.MethodPatch, loc, withBody(`{"Context":"watcher-1"}`))
	if w.Code != http.StatusOK || decode(t, w.Body.Bytes())["Context"] != "watcher-1" {
		t.Fatalf("PATCH Context: %d %s", w.Code, w.Body)
	}
	if err := p.SetLocationIndicator("CPU0_DIMM_A1", true); err != nil {
		t.Fatal(err)
	}
	if ev := nextSSE(t, stream); ev.data["Context"] != "watcher-1" {
		t.Errorf("event after PATCH Context: %v", ev.data)
	}

	// A push subscription takes a new policy and keeps it.
	push := subscribe(t, h, `{"Destination":"http://127.0.0.1:9/p","Protocol":"Redfish"}`)
	if w := do(t, h, http.MethodPatch, push, withBody(`{"DeliveryRetryPolicy":"SuspendRetries"}`)); w.Code != http.StatusOK {
		t.Fatalf("PATCH push policy: %d %s", w.Code, w.Body)
	}
	if got := getJSON(t, h, push)["DeliveryRetryPolicy"]; got != "SuspendRetries" {
		t.Errorf("DeliveryRetryPolicy = %v", got)
	}
}

// SSE members are neither saved nor counted as push subscriptions, and a
// restart brings back only the push ones.
func TestSSEMembersNotPersisted(t *testing.T) {
	dir := t.TempDir()
	cfg := fastRetries()
	cfg.StateDir, cfg.MaxEventSubscriptions, cfg.MaxSSEClients = dir, 1, 1
	h := newHandlerCfg(t, newPlatform(t), cfg)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	resp := openSSEAs(t, srv.URL+pathSSE, adminUser, adminPass)
	// The stream does not use up the one push subscription...
	push := subscribe(t, h, `{"Destination":"http://127.0.0.1:9/p","Protocol":"Redfish"}`)
	// ...but does use up the one SSE client.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+pathSSE, nil)
	req.SetBasicAuth(adminUser, adminPass)
	if r2, err := http.DefaultClient.Do(req); err != nil || r2.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second SSE client: %v %v", r2, err)
	} else {
		r2.Body.Close()
	}
	if w := do(t, h, http.MethodPatch, sseMembers(t, h)[0]["@odata.id"].(string), withBody(`{"Context":"c"}`)); w.Code != http.StatusOK {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body)
	}
	b, err := os.ReadFile(filepath.Join(dir, subscriptionsFileName))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"SSE"`) || !strings.Contains(string(b), "127.0.0.1:9/p") {
		t.Errorf("%s = %s", subscriptionsFileName, b)
	}
	if n := len(members(t, getJSON(t, h, pathSubscriptions))); n != 2 {
		t.Errorf("%d members, want the push one and the stream", n)
	}

	h.(interface{ Close() error }).Close()
	ended(t, resp.Body)
	h2 := newHandlerCfg(t, newPlatform(t), cfg)
	ms := members(t, getJSON(t, h2, pathSubscriptions))
	if len(ms) != 1 || ms[0].(map[string]any)["@odata.id"] != push {
		t.Errorf("after restart: %v", ms)
	}
}

func TestSSEFilterToDestination(t *testing.T) {
	for _, c := range []struct {
		filter            string
		prefixes, ids, ty []string
		ok                bool
	}{
		{"", nil, nil, nil, true},
		{"MessageId eq 'A.B' or MessageId eq 'A.C'", nil, []string{"A.B", "A.C"}, nil, true},
		{"RegistryPrefix eq 'Platform' and ResourceType eq 'Memory' and EventFormatType eq 'Event'", []string{"Platform"}, nil, []string{"Memory"}, true},
		{"(MessageId eq 'A.B' and ResourceType eq 'Memory') or (MessageId eq 'A.C' and ResourceType eq 'Memory')", nil, []string{"A.B", "A.C"}, []string{"Memory"}, true},
		// Not every combination: listing both values would widen it.
		{"(MessageId eq 'A.B' and ResourceType eq 'Memory') or (MessageId eq 'A.C' and ResourceType eq 'MemoryChunks')", nil, nil, nil, false},
		{"MessageId eq 'A.B' or ResourceType eq 'Memory'", nil, nil, nil, false},
		{"MessageId eq 'A.B' and MessageId eq 'A.C'", nil, nil, nil, false},
		{"EventFormatType eq 'MetricReport'", nil, nil, nil, false},
	} {
		f, err := parseSSEFilter(c.filter)
		if err != nil {
			t.Fatal(err)
		}
		p, ids, ty, _, ok := f.destinationFilters()
		if ok != c.ok || !slices.Equal(p, c.prefixes) || !slices.Equal(ids, c.ids) || !slices.Equal(ty, c.ty) {
			t.Errorf("%q: %v %v %v %v", c.filter, p, ids, ty, ok)
		}
	}
}

package redfish

import (
	"net/http"
	"testing"
)

// TestResourceLifecycleEvents: creating and deleting an account or an
// event subscription through the service sends ResourceCreated and
// ResourceRemoved about that resource; a new subscription is not told of
// its own creation, and logins send nothing.
func TestResourceLifecycleEvents(t *testing.T) {
	p := newPlatform(t)
	h := newHandlerCfg(t, p, fastRetries())
	c := newCollector(t, nil)
	subscribe(t, h, `{"Destination":"`+c.srv.URL+`/events","Protocol":"Redfish",
		"RegistryPrefixes":["ResourceEvent"],"ResourceTypes":["ManagerAccount","EventDestination"]}`)
	w := do(t, h, http.MethodPost, "/redfish/v1/AccountService/Accounts",
		withBody(`{"UserName":"new1","Password":"new-password","RoleId":"ReadOnly"}`))
	if w.Code != http.StatusCreated {
		t.Fatalf("create account: %d %s", w.Code, w.Body)
	}
	acct := w.Header().Get("Location")
	if w := do(t, h, http.MethodPost, "/redfish/v1/SessionService/Sessions",
		withBody(`{"UserName":"new1","Password":"new-password"}`), noAuth); w.Code != http.StatusCreated {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	other := newCollector(t, nil)
	sub2 := subscribe(t, h, `{"Destination":"`+other.srv.URL+`/events","Protocol":"Redfish"}`)
	if w := do(t, h, http.MethodDelete, sub2); w.Code != http.StatusNoContent {
		t.Fatalf("delete subscription: %d", w.Code)
	}
	if w := do(t, h, http.MethodDelete, acct); w.Code != http.StatusNoContent {
		t.Fatalf("delete account: %d %s", w.Code, w.Body)
	}
	type ev struct{ id, origin, msg string }
	want := []ev{
		{resourceEventRegistry + ".ResourceCreated", acct, "The resource was created successfully."},
		{resourceEventRegistry + ".ResourceCreated", sub2, "The resource was created successfully."},
		{resourceEventRegistry + ".ResourceRemoved", sub2, "The resource was removed successfully."},
		{resourceEventRegistry + ".ResourceRemoved", acct, "The resource was removed successfully."},
	}
	waitFor(t, "the lifecycle events", func() bool { return len(c.records()) >= len(want) })
	recs := c.records()
	if len(recs) != len(want) {
		t.Fatalf("got %d events, want %d: %v", len(recs), len(want), recs)
	}
	for i, r := range recs {
		got := ev{r["MessageId"].(string), path(t, r, "OriginOfCondition", "@odata.id").(string), r["Message"].(string)}
		if got != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got, want[i])
		}
	}
	// The second subscriber was deleted before anything else happened and
	// never heard of its own creation.
	if n := len(other.records()); n != 0 {
		t.Errorf("second subscriber got %d events: %v", n, other.records())
	}
	// The EventLog keeps them too, and the first subscription's creation
	// that its own destination was not sent.
	log := getJSON(t, h, "/redfish/v1/Systems/1/LogServices/EventLog/Entries")
	found := 0
	for _, m := range log["Members"].([]any) {
		e := m.(map[string]any)
		if e["MessageId"] == resourceEventRegistry+".ResourceCreated" || e["MessageId"] == resourceEventRegistry+".ResourceRemoved" {
			found++
		}
	}
	if found != len(want)+1 {
		t.Errorf("EventLog has %d lifecycle entries, want %d", found, len(want)+1)
	}
}

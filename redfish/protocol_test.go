package redfish

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/accounts"
)

func withBody(body string) reqOpt {
	return func(r *http.Request) {
		r.Body = httpBody(body)
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Type", "application/json")
	}
}

func header(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

func token(tok string) reqOpt {
	return func(r *http.Request) {
		r.Header.Del("Authorization")
		r.Header.Set("X-Auth-Token", tok)
	}
}

func httpBody(s string) *readCloser { return &readCloser{bytes.NewReader([]byte(s))} }

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

const dimm = "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1"

func TestETagAndPreconditions(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	w := do(t, h, http.MethodGet, dimm)
	etag := w.Header().Get("ETag")
	if !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
		t.Fatalf("ETag = %q", etag)
	}
	if again := do(t, h, http.MethodGet, dimm).Header().Get("ETag"); again != etag {
		t.Errorf("ETag unstable: %q vs %q", etag, again)
	}
	nm := do(t, h, http.MethodGet, dimm, header("If-None-Match", etag))
	if nm.Code != http.StatusNotModified || nm.Body.Len() != 0 || nm.Header().Get("ETag") != etag {
		t.Errorf("If-None-Match current: %d %q", nm.Code, nm.Body)
	}
	if w := do(t, h, http.MethodGet, dimm, header("If-None-Match", `"other"`)); w.Code != http.StatusOK {
		t.Errorf("If-None-Match other: %d", w.Code)
	}
	// Every resource has one, the service root included.
	for _, target := range []string{"/redfish/v1/", "/redfish/v1/Systems", "/redfish/v1/AccountService/Accounts/2", "/redfish/v1/SessionService"} {
		if do(t, h, http.MethodGet, target).Header().Get("ETag") == "" {
			t.Errorf("GET %s: no ETag", target)
		}
	}
	checkError(t, do(t, h, http.MethodPatch, dimm, header("If-Match", `"stale"`), withBody(`{"LocationIndicatorActive":true}`)),
		http.StatusPreconditionFailed, "PreconditionFailed")
	if p.Snapshot().Slots[0].LocationIndicator {
		t.Fatal("LED lit by a refused PATCH")
	}
	ok := do(t, h, http.MethodPatch, dimm, header("If-Match", etag), withBody(`{"LocationIndicatorActive":true}`))
	if ok.Code != http.StatusOK || ok.Header().Get("ETag") == etag || ok.Header().Get("ETag") == "" {
		t.Fatalf("PATCH with If-Match: %d ETag %q body %s", ok.Code, ok.Header().Get("ETag"), ok.Body)
	}
	if got := do(t, h, http.MethodGet, dimm).Header().Get("ETag"); got != ok.Header().Get("ETag") {
		t.Errorf("PATCH answered ETag %q, GET now %q", ok.Header().Get("ETag"), got)
	}

	strict, err := New(Config{Accounts: testAccounts, RequireIfMatch: true}, p)
	if err != nil {
		t.Fatal(err)
	}
	checkError(t, do(t, strict, http.MethodPatch, dimm, withBody(`{"LocationIndicatorActive":false}`)),
		http.StatusPreconditionRequired, "PreconditionRequired")
}

func TestHeaders(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	w := do(t, h, http.MethodGet, dimm)
	if got := w.Header().Get("Link"); got != "<http://redfish.dmtf.org/schemas/v1/Memory.v1_23_0.json>; rel=describedby" {
		t.Errorf("Link = %q", got)
	}
	if got := do(t, h, http.MethodGet, "/redfish/v1/Systems").Header().Get("Link"); !strings.Contains(got, "ComputerSystemCollection.json") {
		t.Errorf("collection Link = %q", got)
	}
	if w.Header().Get("Allow") != "GET, HEAD, PATCH" || w.Header().Get("OData-Version") != "4.0" {
		t.Errorf("headers = %v", w.Header())
	}
}

func members(t *testing.T, m map[string]any) []any {
	t.Helper()
	ms, ok := m["Members"].([]any)
	if !ok {
		t.Fatalf("no Members in %v", m)
	}
	return ms
}

func TestQueryOptions(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	const coll = "/redfish/v1/Systems/1/Memory"

	sel := getJSON(t, h, dimm+"?$select=CapacityMiB,Status/State")
	if len(sel) != 4 || sel["CapacityMiB"] != 32768.0 || path(t, sel, "Status", "State") != "Enabled" || sel["@odata.id"] != dimm {
		t.Errorf("$select = %v", sel)
	}
	if _, ok := path(t, sel, "Status").(map[string]any)["Health"]; ok {
		t.Errorf("$select kept Status/Health: %v", sel)
	}

	exp := getJSON(t, h, coll+"?$expand=.")
	if got := path(t, exp, "Members", 0, "CapacityMiB"); got != 32768.0 {
		t.Errorf("$expand=. member = %v", path(t, exp, "Members", 0))
	}
	sys := getJSON(t, h, "/redfish/v1/Systems/1?$expand=~")
	if _, ok := path(t, sys, "Links", "Chassis", 0).(map[string]any)["ChassisType"]; !ok {
		t.Errorf("$expand=~ did not expand Links.Chassis: %v", sys["Links"])
	}
	if len(path(t, sys, "Memory").(map[string]any)) != 1 {
		t.Errorf("$expand=~ expanded Memory: %v", sys["Memory"])
	}
	noLinks := getJSON(t, h, "/redfish/v1/Systems/1?$expand=.")
	if len(path(t, noLinks, "Links", "Chassis", 0).(map[string]any)) != 1 || path(t, noLinks, "Memory", "Members@odata.count") != 32.0 {
		t.Errorf("$expand=. = %v", noLinks)
	}
	deep := getJSON(t, h, "/redfish/v1/Systems?$expand=*($levels=3)")
	if got := path(t, deep, "Members", 0, "Memory", "Members", 0, "Id"); got != "CPU0_DIMM_A1" {
		t.Errorf("$levels=3: %v", got)
	}
	shallow := getJSON(t, h, "/redfish/v1/Systems?$expand=*($levels=1)")
	if len(path(t, shallow, "Members", 0, "Memory").(map[string]any)) != 1 {
		t.Errorf("$levels=1 went deeper")
	}

	absent := getJSON(t, h, coll+"?$filter=Status/State%20eq%20'Absent'")
	if absent["Members@odata.count"] != 16.0 || len(members(t, absent)) != 16 {
		t.Errorf("$filter Absent: count %v", absent["Members@odata.count"])
	}
	compound := getJSON(t, h, coll+"?$filter="+urlq("(CapacityMiB ge 32768 and MemoryLocation/Socket eq 1) or not (Id ne 'CPU0_DIMM_B2')"))
	if compound["Members@odata.count"] != 9.0 {
		t.Errorf("compound $filter count %v", compound["Members@odata.count"])
	}
	if got := getJSON(t, h, coll+"?$filter="+urlq("LocationIndicatorActive eq true")); got["Members@odata.count"] != 0.0 {
		t.Errorf("bool $filter = %v", got["Members@odata.count"])
	}

	page := getJSON(t, h, coll+"?$top=5&$skip=10")
	if len(members(t, page)) != 5 || page["Members@odata.count"] != 32.0 || path(t, page, "Members", 0, "@odata.id") != coll+"/CPU0_DIMM_F1" {
		t.Errorf("page = %v", page)
	}
	next, _ := page["Members@odata.nextLink"].(string)
	if next != coll+"?$top=5&$skip=15" {
		t.Errorf("nextLink = %q", next)
	}
	var seen int
	for link := coll + "?$top=10"; link != ""; {
		pg := getJSON(t, h, link)
		seen += len(members(t, pg))
		link, _ = pg["Members@odata.nextLink"].(string)
	}
	if seen != 32 {
		t.Errorf("paging saw %d members", seen)
	}

	only := getJSON(t, h, "/redfish/v1/Systems?only")
	if only["@odata.id"] != "/redfish/v1/Systems/1" {
		t.Errorf("only = %v", only)
	}
	if w := do(t, h, http.MethodGet, "/redfish/v1/Systems?only"); w.Header().Get("ETag") != do(t, h, http.MethodGet, "/redfish/v1/Systems/1").Header().Get("ETag") {
		t.Error("only: ETag is not the member's")
	}
	if got := getJSON(t, h, coll+"?only"); got["@odata.id"] != coll {
		t.Errorf("only on 32 members = %v", got["@odata.id"])
	}

	for target, id := range map[string]string{
		"/redfish/v1/Systems?only&$top=1": "QueryCombinationInvalid",
		// only takes no value (DSP0266 clause 7.3); a value is refused,
		// not ignored (Redfish-Protocol-Validator REQ_QUERY_INVALID_VALUES).
		"/redfish/v1/Systems?only=foo":            "QueryParameterValueFormatError",
		dimm + "?$top=1":                          "QueryNotSupportedOnResource",
		dimm + "?$filter=Id%20eq%20'x'":           "QueryNotSupportedOnResource",
		coll + "?$expand=*($levels=9)":            "QueryParameterOutOfRange",
		coll + "?$expand=x":                       "QueryParameterValueFormatError",
		coll + "?$top=-1":                         "QueryParameterOutOfRange",
		coll + "?$skip=x":                         "QueryParameterValueTypeError",
		coll + "?$filter=" + urlq("Id eq 'x' or"): "QueryParameterValueFormatError",
	} {
		w := do(t, h, http.MethodGet, target)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), id) {
			t.Errorf("GET %s: %d %s, want 400 %s", target, w.Code, w.Body, id)
		}
	}
}

func urlq(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, " ", "%20"), "'", "%27") }

// The service root must claim exactly what works.
func TestProtocolFeaturesAreTrue(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	pf := path(t, getJSON(t, h, "/redfish/v1/"), "ProtocolFeaturesSupported").(map[string]any)
	probes := map[string]string{
		"SelectQuery":     "/redfish/v1/Systems/1?$select=Name",
		"FilterQuery":     "/redfish/v1/Systems?$filter=Id%20eq%20'1'",
		"TopSkipQuery":    "/redfish/v1/Systems?$top=1&$skip=0",
		"OnlyMemberQuery": "/redfish/v1/Systems?only",
		"ExcerptQuery":    "/redfish/v1/Systems?$excerpt",
	}
	for feature, target := range probes {
		works := do(t, h, http.MethodGet, target).Code == http.StatusOK
		if feature == "ExcerptQuery" {
			works = false // excerpt is not a '$' option; unknown ones are ignored
		}
		if pf[feature] != works {
			t.Errorf("%s = %v but %s works: %v", feature, pf[feature], target, works)
		}
	}
	ex := pf["ExpandQuery"].(map[string]any)
	for k, q := range map[string]string{"ExpandAll": "*", "NoLinks": ".", "Links": "~", "Levels": "*($levels=2)"} {
		works := do(t, h, http.MethodGet, "/redfish/v1/Systems?$expand="+q).Code == http.StatusOK
		if ex[k] != works {
			t.Errorf("ExpandQuery.%s = %v, works %v", k, ex[k], works)
		}
	}
	if ex["MaxLevels"] != float64(maxExpandLevels) {
		t.Errorf("MaxLevels = %v", ex["MaxLevels"])
	}
}

func TestMemoryPatch(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	w := do(t, h, http.MethodPatch, dimm, withBody(`{"LocationIndicatorActive": true}`))
	if w.Code != http.StatusOK || decode(t, w.Body.Bytes())["LocationIndicatorActive"] != true {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body)
	}
	if sl, _ := p.Snapshot().Slot("CPU0_DIMM_A1"); !sl.LocationIndicator {
		t.Error("platform LED not lit")
	}
	if getJSON(t, h, dimm)["LocationIndicatorActive"] != true {
		t.Error("GET does not show the LED")
	}
	// An empty slot has an LED too.
	if w := do(t, h, http.MethodPatch, "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2", withBody(`{"LocationIndicatorActive":true}`)); w.Code != http.StatusOK {
		t.Errorf("empty slot: %d %s", w.Code, w.Body)
	}

	checkError(t, do(t, h, http.MethodPatch, dimm, withBody(`{"CapacityMiB": 1}`)), http.StatusBadRequest, "PropertyNotWritable", "CapacityMiB")
	checkError(t, do(t, h, http.MethodPatch, dimm, withBody(`{"Bogus": 1}`)), http.StatusBadRequest, "PropertyUnknown", "Bogus")
	checkError(t, do(t, h, http.MethodPatch, dimm, withBody(`{"LocationIndicatorActive": "yes"}`)), http.StatusBadRequest, "PropertyValueTypeError", "yes", "LocationIndicatorActive")
	checkError(t, do(t, h, http.MethodPatch, dimm, withBody(`{"LocationIndicatorActive": null}`)), http.StatusBadRequest, "PropertyValueTypeError", "null", "LocationIndicatorActive")
	checkError(t, do(t, h, http.MethodPatch, dimm, withBody(`{"LocationIndicatorActive": tru`)), http.StatusBadRequest, "MalformedJSON")
	checkError(t, do(t, h, http.MethodPatch, dimm, withBody(`[]`)), http.StatusBadRequest, "MalformedJSON")
	checkError(t, do(t, h, http.MethodPatch, dimm, withBody(`{}`)), http.StatusBadRequest, "NoOperation")
	checkError(t, do(t, h, http.MethodPatch, "/redfish/v1/Systems/1/Memory/NOPE", withBody(`{"LocationIndicatorActive":true}`)), http.StatusNotFound, "ResourceNotFound", "Memory", "NOPE")

	// Two refused properties: both named, under GeneralError.
	w = do(t, h, http.MethodPatch, dimm, withBody(`{"CapacityMiB": 1, "Bogus": 2}`))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "PropertyNotWritable") || !strings.Contains(w.Body.String(), "PropertyUnknown") {
		t.Errorf("two problems: %d %s", w.Code, w.Body)
	}

	// Partial success: 200 with the resource and the refused property.
	w = do(t, h, http.MethodPatch, dimm, withBody(`{"LocationIndicatorActive": false, "CapacityMiB": 1}`))
	if w.Code != http.StatusOK {
		t.Fatalf("partial: %d %s", w.Code, w.Body)
	}
	m := decode(t, w.Body.Bytes())
	if m["LocationIndicatorActive"] != false || path(t, m, "@Message.ExtendedInfo", 0, "MessageId") != "Base.1.22.1.PropertyNotWritable" ||
		path(t, m, "@Message.ExtendedInfo", 0, "RelatedProperties", 0) != "#/CapacityMiB" {
		t.Errorf("partial body = %v", m)
	}
	if sl, _ := p.Snapshot().Slot("CPU0_DIMM_A1"); sl.LocationIndicator {
		t.Error("partial PATCH did not apply the writable property")
	}
	// ReadOnly may not PATCH.
	checkError(t, do(t, h, http.MethodPatch, dimm, basic("reader", "reader-pw"), withBody(`{"LocationIndicatorActive":true}`)), http.StatusForbidden, "InsufficientPrivilege")
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func login(t *testing.T, h http.Handler, user, pass string) (string, string) {
	t.Helper()
	w := do(t, h, http.MethodPost, "/redfish/v1/SessionService/Sessions", noAuth, withBody(`{"UserName":"`+user+`","Password":"`+pass+`"}`))
	if w.Code != http.StatusCreated {
		t.Fatalf("login %s: %d %s", user, w.Code, w.Body)
	}
	tok, loc := w.Header().Get("X-Auth-Token"), w.Header().Get("Location")
	if tok == "" || !strings.HasPrefix(loc, "/redfish/v1/SessionService/Sessions/") {
		t.Fatalf("login headers: %v", w.Header())
	}
	if m := decode(t, w.Body.Bytes()); m["@odata.id"] != loc || m["UserName"] != user {
		t.Errorf("session body = %v", m)
	}
	return tok, loc
}

func TestSessions(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_750_000_000, 0)}
	h, err := New(Config{Accounts: testAccounts, Now: clk.now}, newPlatform(t))
	if err != nil {
		t.Fatal(err)
	}
	tok, loc := login(t, h, adminUser, adminPass)
	if w := do(t, h, http.MethodGet, dimm, token(tok)); w.Code != http.StatusOK {
		t.Fatalf("GET with token: %d", w.Code)
	}
	list := getJSON(t, h, "/redfish/v1/SessionService/Sessions", token(tok))
	if list["Members@odata.count"] != 1.0 || path(t, list, "Members", 0, "@odata.id") != loc {
		t.Errorf("sessions = %v", list)
	}
	checkError(t, do(t, h, http.MethodGet, dimm, token("nope")), http.StatusUnauthorized, "NoValidSession")
	checkError(t, do(t, h, http.MethodPost, "/redfish/v1/SessionService/Sessions", noAuth, withBody(`{"UserName":"admin","Password":"bad"}`)), http.StatusUnauthorized, "NoValidSession")
	checkError(t, do(t, h, http.MethodPost, "/redfish/v1/SessionService/Sessions", noAuth, withBody(`{"UserName":"admin"}`)), http.StatusBadRequest, "PropertyMissing", "Password")

	// A reader sees only its own session and cannot delete another's.
	rtok, rloc := login(t, h, "reader", "reader-pw")
	if got := getJSON(t, h, "/redfish/v1/SessionService/Sessions", token(rtok)); got["Members@odata.count"] != 1.0 {
		t.Errorf("reader sees %v sessions", got["Members@odata.count"])
	}
	checkError(t, do(t, h, http.MethodGet, loc, token(rtok)), http.StatusForbidden, "InsufficientPrivilege")
	checkError(t, do(t, h, http.MethodDelete, loc, token(rtok)), http.StatusForbidden, "InsufficientPrivilege")
	if w := do(t, h, http.MethodDelete, rloc, token(rtok)); w.Code != http.StatusNoContent {
		t.Errorf("logout: %d %s", w.Code, w.Body)
	}
	checkError(t, do(t, h, http.MethodGet, dimm, token(rtok)), http.StatusUnauthorized, "NoValidSession")

	// Idle timeout, PATCHable.
	w := do(t, h, http.MethodPatch, "/redfish/v1/SessionService", token(tok), withBody(`{"SessionTimeout": 60}`))
	if w.Code != http.StatusOK || decode(t, w.Body.Bytes())["SessionTimeout"] != 60.0 {
		t.Fatalf("PATCH SessionTimeout: %d %s", w.Code, w.Body)
	}
	checkError(t, do(t, h, http.MethodPatch, "/redfish/v1/SessionService", token(tok), withBody(`{"SessionTimeout": 5}`)), http.StatusBadRequest, "PropertyValueOutOfRange", "5", "SessionTimeout")
	clk.advance(59 * time.Second)
	if w := do(t, h, http.MethodGet, dimm, token(tok)); w.Code != http.StatusOK {
		t.Fatalf("within timeout: %d", w.Code)
	}
	clk.advance(59 * time.Second) // idle time counts from the last use
	if w := do(t, h, http.MethodGet, dimm, token(tok)); w.Code != http.StatusOK {
		t.Fatalf("activity did not refresh the session: %d", w.Code)
	}
	clk.advance(61 * time.Second)
	checkError(t, do(t, h, http.MethodGet, dimm, token(tok)), http.StatusUnauthorized, "NoValidSession")
}

func TestAccounts(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_750_000_000, 0)}
	h, err := New(Config{Accounts: testAccounts, Now: clk.now}, newPlatform(t))
	if err != nil {
		t.Fatal(err)
	}
	const accts = "/redfish/v1/AccountService/Accounts"
	checkError(t, do(t, h, http.MethodPost, accts, withBody(`{"UserName":"op","Password":"short","RoleId":"Operator"}`)), http.StatusBadRequest, "PasswordIncorrectLength")
	checkError(t, do(t, h, http.MethodPost, accts, withBody(`{"UserName":"op","Password":"operator-pw","RoleId":"Root"}`)), http.StatusBadRequest, "PropertyValueNotInList", "Root", "RoleId")
	checkError(t, do(t, h, http.MethodPost, accts, withBody(`{"UserName":"a-name-longer-than-16","Password":"operator-pw","RoleId":"Operator"}`)), http.StatusBadRequest, "PropertyValueFormatError", "a-name-longer-than-16", "UserName")
	checkError(t, do(t, h, http.MethodPost, accts, withBody(`{"UserName":"admin","Password":"operator-pw","RoleId":"Operator"}`)), http.StatusConflict, "ResourceAlreadyExists", "ManagerAccount", "UserName", "admin")
	w := do(t, h, http.MethodPost, accts, withBody(`{"UserName":"op","Password":"operator-pw","RoleId":"Operator","AccountTypes":["Redfish"]}`))
	if w.Code != http.StatusCreated || w.Header().Get("Location") != accts+"/4" {
		t.Fatalf("create: %d %v %s", w.Code, w.Header(), w.Body)
	}
	op := basic("op", "operator-pw")
	// Operator: components yes, accounts no, own password yes.
	if w := do(t, h, http.MethodPatch, dimm, op, withBody(`{"LocationIndicatorActive":true}`)); w.Code != http.StatusOK {
		t.Errorf("operator PATCH memory: %d", w.Code)
	}
	checkError(t, do(t, h, http.MethodPost, accts, op, withBody(`{"UserName":"x","Password":"xxxxxxxx","RoleId":"Operator"}`)), http.StatusForbidden, "InsufficientPrivilege")
	checkError(t, do(t, h, http.MethodPatch, accts+"/4", op, withBody(`{"RoleId":"Administrator"}`)), http.StatusForbidden, "InsufficientPrivilege")
	checkError(t, do(t, h, http.MethodGet, accts+"/2", op), http.StatusForbidden, "InsufficientPrivilege")
	if w := do(t, h, http.MethodPatch, accts+"/4", op, withBody(`{"Password":"new-operator-pw"}`)); w.Code != http.StatusOK {
		t.Fatalf("own password: %d %s", w.Code, w.Body)
	}
	op = basic("op", "new-operator-pw")
	if got := getJSON(t, h, accts, op); got["Members@odata.count"] != 1.0 {
		t.Errorf("operator sees %v accounts", got["Members@odata.count"])
	}
	acct := getJSON(t, h, accts+"/4", op)
	if acct["UserName"] != "op" || acct["RoleId"] != "Operator" || acct["Password"] != nil || path(t, acct, "Links", "Role", "@odata.id") != "/redfish/v1/AccountService/Roles/Operator" {
		t.Errorf("account = %v", acct)
	}

	// Lockout after the threshold, reported as Locked, cleared by an admin.
	w = do(t, h, http.MethodPatch, "/redfish/v1/AccountService", withBody(`{"AccountLockoutThreshold":2,"AccountLockoutDuration":600,"AccountLockoutCounterResetAfter":60,"MinPasswordLength":10}`))
	if w.Code != http.StatusOK {
		t.Fatalf("policy PATCH: %d %s", w.Code, w.Body)
	}
	checkError(t, do(t, h, http.MethodPatch, "/redfish/v1/AccountService", withBody(`{"MinPasswordLength":15,"MaxPasswordLength":12}`)), http.StatusBadRequest, "PropertyValueConflict", "MinPasswordLength", "MaxPasswordLength")
	checkError(t, do(t, h, http.MethodPatch, accts+"/4", op, withBody(`{"Password":"short-pw"}`)), http.StatusBadRequest, "PasswordIncorrectLength")
	// From two addresses: one address counts at most threshold-1 times
	// (per-address blocking keeps one address from locking an account).
	for _, src := range []string{"192.0.2.21", "192.0.2.22"} {
		checkError(t, do(t, h, http.MethodGet, dimm, basic("op", "wrong"), from(src)), http.StatusUnauthorized, "NoValidSession")
	}
	checkError(t, do(t, h, http.MethodGet, dimm, op), http.StatusUnauthorized, "NoValidSession")
	if getJSON(t, h, accts+"/4")["Locked"] != true {
		t.Error("Locked not shown")
	}
	if w := do(t, h, http.MethodPatch, accts+"/4", withBody(`{"Locked":false}`)); w.Code != http.StatusOK {
		t.Fatalf("unlock: %d %s", w.Code, w.Body)
	}
	if w := do(t, h, http.MethodGet, dimm, op); w.Code != http.StatusOK {
		t.Errorf("after unlock: %d", w.Code)
	}

	// Deleting an account ends its sessions.
	tok, _ := login(t, h, "op", "new-operator-pw")
	if w := do(t, h, http.MethodDelete, accts+"/4"); w.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", w.Code, w.Body)
	}
	checkError(t, do(t, h, http.MethodGet, dimm, token(tok)), http.StatusUnauthorized, "NoValidSession")
	checkError(t, do(t, h, http.MethodDelete, accts+"/2"), http.StatusConflict, "ResourceInUse")
}

func TestPasswordChangeRequired(t *testing.T) {
	st, err := accounts.Open(accounts.Options{Seed: []accounts.New{
		{UserName: "admin", Password: "password", Role: RoleAdministrator, Enabled: true, PasswordChangeRequired: true}}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{AccountStore: st}, newPlatform(t))
	if err != nil {
		t.Fatal(err)
	}
	w := do(t, h, http.MethodPost, "/redfish/v1/SessionService/Sessions", noAuth, withBody(`{"UserName":"admin","Password":"password"}`))
	if w.Code != http.StatusCreated || !strings.Contains(w.Body.String(), "PasswordChangeRequired") {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	tok := w.Header().Get("X-Auth-Token")
	checkError(t, do(t, h, http.MethodGet, dimm, token(tok)), http.StatusForbidden, "PasswordChangeRequired", "/redfish/v1/AccountService/Accounts/2")
	if w := do(t, h, http.MethodGet, "/redfish/v1/AccountService/Accounts/2", token(tok)); w.Code != http.StatusOK {
		t.Errorf("own account: %d", w.Code)
	}
	if w := do(t, h, http.MethodPatch, "/redfish/v1/AccountService/Accounts/2", token(tok), withBody(`{"Password":"changed-pw"}`)); w.Code != http.StatusOK {
		t.Fatalf("change: %d %s", w.Code, w.Body)
	}
	if w := do(t, h, http.MethodGet, dimm, token(tok)); w.Code != http.StatusOK {
		t.Errorf("after change: %d", w.Code)
	}
	// The change is the store's: IPMI sees the new secret.
	if sec, _, ok := st.Secret("admin"); !ok || string(sec) != "changed-pw" {
		t.Errorf("Secret = %q", sec)
	}
}

func TestEveryResponseHasJSONErrorOrBody(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPatch, srv.URL+dimm, strings.NewReader(`{"LocationIndicatorActive":true}`))
	req.SetBasicAuth(adminUser, adminPass)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("PATCH over HTTP: %d %v", resp.StatusCode, err)
	}
}

func TestReset(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	const reset = "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"
	if got := path(t, getJSON(t, h, "/redfish/v1/Systems/1"), "Actions", "#ComputerSystem.Reset", "target"); got != reset {
		t.Errorf("target = %v", got)
	}
	if w := do(t, h, http.MethodPost, reset, withBody(`{"ResetType":"ForceOff"}`)); w.Code != http.StatusNoContent || p.Snapshot().PowerOn {
		t.Fatalf("ForceOff: %d, power %v", w.Code, p.Snapshot().PowerOn)
	}
	// A power cycle of a host that is off powers it on.
	if w := do(t, h, http.MethodPost, reset, withBody(`{"ResetType":"PowerCycle"}`)); w.Code != http.StatusNoContent || !p.Snapshot().PowerOn {
		t.Fatalf("PowerCycle: %d, power %v", w.Code, p.Snapshot().PowerOn)
	}
	checkError(t, do(t, h, http.MethodPost, reset, withBody(`{"ResetType":"Hibernate"}`)), http.StatusBadRequest,
		"ActionParameterValueNotInList", "Hibernate", "ResetType", "#ComputerSystem.Reset")
	checkError(t, do(t, h, http.MethodPost, reset, withBody(`{}`)), http.StatusBadRequest, "ActionParameterMissing", "#ComputerSystem.Reset", "ResetType")
	checkError(t, do(t, h, http.MethodPost, reset, withBody(`{"ResetType":"On","Delay":3}`)), http.StatusBadRequest,
		"ActionParameterUnknown", "#ComputerSystem.Reset", "Delay")
	// An NMI needs the OS, which is still in POST.
	checkErrorDetail(t, do(t, h, http.MethodPost, reset, withBody(`{"ResetType":"Nmi"}`)), http.StatusConflict, "ResourceInUse",
		"the host's OS is not running")
}

// DSP0266 clause 8.3 (request headers): a service rejects a request that
// asks for an OData version it does not speak, with 412
// (Redfish-Protocol-Validator REQ_HEADERS_ODATA_VERSION). The one it
// speaks, and no header at all, are served.
func TestODataVersionRequestHeader(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	getJSON(t, h, "/redfish/v1/", header("OData-Version", "4.0"))
	getJSON(t, h, "/redfish/v1/Systems/1", header("OData-Version", "4.0"))
	for _, target := range []string{"/redfish/v1/", "/redfish/v1/Systems/1", "/redfish/v1/NoSuchThing"} {
		checkError(t, do(t, h, http.MethodGet, target, header("OData-Version", "4.1")),
			http.StatusPreconditionFailed, "HeaderInvalid", "OData-Version: 4.1")
	}
	checkError(t, do(t, h, http.MethodPatch, dimm, header("OData-Version", "5.0"), withBody(`{"LocationIndicatorActive":true}`)),
		http.StatusPreconditionFailed, "HeaderInvalid", "OData-Version: 5.0")
	if on := getJSON(t, h, dimm)["LocationIndicatorActive"]; on != false {
		t.Errorf("refused PATCH changed LocationIndicatorActive to %v", on)
	}
}

// DSP0266 clause 9.6 (POST create): a POST to a collection's Members
// property is the same request as a POST to the collection, and a service
// that lets clients add members supports both forms
// (Redfish-Protocol-Validator REQ_POST_CREATE_TO_MEMBERS_PROP). Login is
// still open to anonymous clients there; everything else keeps the
// collection's privileges.
func TestPostToMembersCreates(t *testing.T) {
	h := newHandler(t, newPlatform(t))

	w := do(t, h, http.MethodPost, "/redfish/v1/SessionService/Sessions/Members", noAuth,
		withBody(`{"UserName":"`+adminUser+`","Password":"`+adminPass+`"}`))
	loc, tok := w.Header().Get("Location"), w.Header().Get("X-Auth-Token")
	if w.Code != http.StatusCreated || tok == "" || !strings.HasPrefix(loc, "/redfish/v1/SessionService/Sessions/") ||
		strings.HasSuffix(loc, "/Members") {
		t.Fatalf("login at Members: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if got := getJSON(t, h, loc, token(tok)); got["UserName"] != adminUser {
		t.Errorf("session from Members = %v", got)
	}
	checkError(t, do(t, h, http.MethodPost, "/redfish/v1/SessionService/Sessions/Members/", noAuth,
		withBody(`{"UserName":"`+adminUser+`","Password":"wrong"}`)), http.StatusUnauthorized, "NoValidSession")

	w = do(t, h, http.MethodPost, "/redfish/v1/AccountService/Accounts/Members",
		withBody(`{"UserName":"viamembers","Password":"members-password","RoleId":"ReadOnly"}`))
	if w.Code != http.StatusCreated {
		t.Fatalf("account at Members: %d %s", w.Code, w.Body)
	}
	if got := getJSON(t, h, w.Header().Get("Location")); got["UserName"] != "viamembers" {
		t.Errorf("account from Members = %v", got)
	}
	checkError(t, do(t, h, http.MethodPost, "/redfish/v1/AccountService/Accounts/Members", basic("reader", "reader-pw"),
		withBody(`{"UserName":"byreader","Password":"members-password","RoleId":"ReadOnly"}`)), http.StatusForbidden, "InsufficientPrivilege")

	w = do(t, h, http.MethodPost, "/redfish/v1/EventService/Subscriptions/Members",
		withBody(`{"Destination":"http://127.0.0.1:9/events","Protocol":"Redfish"}`))
	if w.Code != http.StatusCreated || !strings.HasPrefix(w.Header().Get("Location"), "/redfish/v1/EventService/Subscriptions/") {
		t.Fatalf("subscription at Members: %d %v %s", w.Code, w.Header(), w.Body)
	}

	// Members is a property, not a member: reading it is still an
	// unknown member, and only POST is added.
	checkError(t, do(t, h, http.MethodGet, "/redfish/v1/AccountService/Accounts/Members"),
		http.StatusNotFound, "ResourceNotFound", "ManagerAccount", "Members")
	checkError(t, do(t, h, http.MethodPost, "/redfish/v1/Systems/Members", withBody(`{}`)),
		http.StatusMethodNotAllowed, "OperationNotAllowed")
}

// DSP0266 clause 8.2 (Accept, Content-Type) and the 406/415 status codes:
// JSON is the only media type resources come in and bodies are read as;
// anything a client explicitly asks or sends otherwise is refused, after
// authentication, and changes nothing.
func TestMediaTypes(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	for _, ok := range []string{"application/json", "application/json;charset=utf-8", "application/*", "*/*;q=0.1",
		"text/html, application/json;q=0.5", "application/xml;q=1, application/*;q=0.2"} {
		if w := do(t, h, http.MethodGet, dimm, header("Accept", ok)); w.Code != http.StatusOK {
			t.Errorf("Accept %q: %d %s", ok, w.Code, w.Body)
		}
	}
	for _, bad := range []string{"application/xml", "text/html", "application/json;q=0", "application/yaml, */*;q=0"} {
		checkError(t, do(t, h, http.MethodGet, dimm, header("Accept", bad)), http.StatusNotAcceptable, "HeaderInvalid", "Accept: "+bad)
		if w := do(t, h, http.MethodHead, dimm, header("Accept", bad)); w.Code != http.StatusNotAcceptable {
			t.Errorf("HEAD with Accept %q: %d", bad, w.Code)
		}
	}
	// Authentication still comes first.
	checkError(t, do(t, h, http.MethodGet, dimm, noAuth, header("Accept", "application/xml")), http.StatusUnauthorized, "NoValidSession")
	// $metadata is XML and says so.
	if w := do(t, h, http.MethodGet, "/redfish/v1/$metadata", header("Accept", "application/xml")); w.Code != http.StatusOK ||
		!strings.HasPrefix(w.Header().Get("Content-Type"), "application/xml") {
		t.Errorf("$metadata with Accept application/xml: %d %v", w.Code, w.Header())
	}

	for _, bad := range []string{"application/xml", "application/x-www-form-urlencoded", "text/plain", "application/json;charset=latin1"} {
		checkError(t, do(t, h, http.MethodPatch, dimm, withBody(`{"LocationIndicatorActive":true}`), header("Content-Type", bad)),
			http.StatusUnsupportedMediaType, "HeaderInvalid", "Content-Type: "+bad)
	}
	// Login is open to anyone, so it is judged on its media type at once.
	checkError(t, do(t, h, http.MethodPost, "/redfish/v1/SessionService/Sessions", noAuth,
		withBody(`{"UserName":"admin","Password":"password"}`), header("Content-Type", "text/plain")),
		http.StatusUnsupportedMediaType, "HeaderInvalid", "Content-Type: text/plain")
	checkError(t, do(t, h, http.MethodPatch, dimm, noAuth, withBody(`{"LocationIndicatorActive":true}`), header("Content-Type", "text/plain")),
		http.StatusUnauthorized, "NoValidSession")
	if on := getJSON(t, h, dimm)["LocationIndicatorActive"]; on != false {
		t.Fatalf("a refused PATCH changed LocationIndicatorActive to %v", on)
	}
	for _, ok := range []string{"application/json;charset=utf-8", "Application/JSON; charset=UTF-8", ""} {
		w := do(t, h, http.MethodPatch, dimm, withBody(`{"LocationIndicatorActive":true}`), func(r *http.Request) {
			if ok == "" {
				r.Header.Del("Content-Type")
			} else {
				r.Header.Set("Content-Type", ok)
			}
		})
		if w.Code != http.StatusOK {
			t.Errorf("PATCH with Content-Type %q: %d %s", ok, w.Code, w.Body)
		}
	}
}

// A handler that panics costs its request an InternalError, not the
// listener: on the short way plain reads take through front and on the
// full one (a write, or a read while the access log is on).
func TestHandlerPanicAnswersInternalError(t *testing.T) {
	for _, debug := range []bool{false, true} {
		level := slog.LevelInfo
		if debug {
			level = slog.LevelDebug
		}
		var logs bytes.Buffer
		h := newHandlerCfg(t, newPlatform(t), Config{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: level}))})
		hh := h.(*handler)
		boom := func(*request) (any, error) { panic("boom") }
		hh.svc.handle(hh.engine, "/redfish/v1/Panics", resource{entity: "ServiceRoot",
			get: boom, post: func(*request) (*response, error) { panic("boom") }})
		checkError(t, do(t, h, http.MethodGet, "/redfish/v1/Panics"), http.StatusInternalServerError, "InternalError")
		checkError(t, do(t, h, http.MethodPost, "/redfish/v1/Panics", withBody(`{}`)), http.StatusInternalServerError, "InternalError")
		if n := strings.Count(logs.String(), "handler panicked"); n != 2 {
			t.Errorf("debug=%v: %d panics logged, want 2:\n%s", debug, n, logs.String())
		}
		// The service goes on.
		getJSON(t, h, "/redfish/v1/Systems/1")
	}
}

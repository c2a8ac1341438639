package redfish

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// An unknown action of a resource that exists is ActionNotSupported (400),
// decided after credentials and the resource's POST privilege; an unknown
// resource stays 404.
func TestUnknownAction(t *testing.T) {
	ops := Account{UserName: "op", Password: "operator-pw", Role: RoleOperator}
	h := newHandlerCfg(t, newPlatform(t), Config{SEL: newSEL(t), Accounts: append(slices.Clone(testAccounts), ops)})
	reader, op := basic("reader", "reader-pw"), basic("op", "operator-pw")
	body := withBody(`{}`)
	for _, c := range []struct {
		target, action string
		as             reqOpt
	}{
		{"/redfish/v1/Systems/1", "ComputerSystem.Foo", op},
		{dimm, "Memory.Foo", op},
		{dimm + "/MemoryMetrics", "MemoryMetrics.Foo", op},
		// ConfigureComponents, by the ComputerSystem SubordinateOverride.
		{"/redfish/v1/Systems/1/LogServices/SEL", "LogService.Foo", op},
		{"/redfish/v1/EventService", "EventService.Foo", nil},
		{"/redfish/v1/Managers/bmc", "Manager.Reset", nil},
		{"/redfish/v1", "ServiceRoot.Foo", nil},
	} {
		opts := []reqOpt{body}
		if c.as != nil {
			opts = append(opts, c.as)
		}
		checkError(t, do(t, h, http.MethodPost, c.target+"/Actions/"+c.action, opts...), http.StatusBadRequest, "ActionNotSupported", "#"+c.action)
	}
	foo := "/redfish/v1/Systems/1/Actions/ComputerSystem.Foo"
	checkError(t, do(t, h, http.MethodPost, foo, body, noAuth), http.StatusUnauthorized, "NoValidSession")
	checkError(t, do(t, h, http.MethodPost, foo, body, reader), http.StatusForbidden, "InsufficientPrivilege")
	// ConfigureManager, which an Operator lacks.
	checkError(t, do(t, h, http.MethodPost, "/redfish/v1/EventService/Actions/EventService.Foo", body, op), http.StatusForbidden, "InsufficientPrivilege")
	// The privilege is checked before existence, as for the known actions.
	checkError(t, do(t, h, http.MethodPost, "/redfish/v1/Systems/2/Actions/ComputerSystem.Foo", body, reader), http.StatusForbidden, "InsufficientPrivilege")
	checkError(t, do(t, h, http.MethodPost, "/redfish/v1/Systems/2/Actions/ComputerSystem.Foo", body), http.StatusNotFound, "ResourceNotFound", "ComputerSystem", "2")
	for _, uri := range []string{
		"/redfish/v1/Bogus/Actions/Bogus.Foo",
		"/redfish/v1/Systems/1/Bogus/Actions/Bogus.Foo",
		"/redfish/v1/Systems/1/Actions/",
		"/redfish/v1/Systems/1/Actions/ComputerSystem.Reset/Actions/Foo",
	} {
		checkError(t, do(t, h, http.MethodPost, uri, body), http.StatusNotFound, "InvalidURI", strings.TrimSuffix(uri, "/"))
	}
	// Only POST names an action.
	checkError(t, do(t, h, http.MethodGet, foo), http.StatusNotFound, "InvalidURI", foo)
	// An action is a POST target and nothing else.
	reset := "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPatch} {
		if w := do(t, h, m, reset); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" {
			t.Errorf("%s %s: %d, Allow %q", m, reset, w.Code, w.Header().Get("Allow"))
		}
	}
	// A known action still answers as before.
	if w := do(t, h, http.MethodPost, "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", withBody(`{"ResetType":"Bogus"}`)); w.Code != http.StatusBadRequest {
		t.Errorf("Reset with a bad ResetType: %d %s", w.Code, w.Body)
	}
}

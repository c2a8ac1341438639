package fleet

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/netfault"
)

// Protocol fault rules are each member's own: set through the fleet's
// routing to one member, they strike its Redfish and leave another's
// alone.
func TestFleetProtocolFaultsPerMember(t *testing.T) {
	first := testNet(t, 61)
	f := newFleet(t, first, "")
	addAll(t, f, members(t, first, "  - {name: bmc, count: 2}\n"))
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	c := newClient(t)
	servers := srv.URL + control.Prefix + "/servers"

	code, body, _ := request(t, c, http.MethodPut, servers+"/bmc-001/protocol-faults/redfish/error", adminUser, adminPass, `{"status":502}`)
	if code != http.StatusOK {
		t.Fatalf("PUT bmc-001's rule: %d %s", code, body)
	}
	code, body, _ = request(t, c, http.MethodPut, servers+"/bmc-002/protocol-faults/redfish/error", adminUser, adminPass, `{"status":404}`)
	if code != http.StatusBadRequest {
		t.Errorf("PUT a 404 rule: %d %s", code, body)
	}
	list := f.List()
	for i, want := range []int{http.StatusBadGateway, http.StatusOK} {
		if code, body, _ := request(t, c, http.MethodGet, list[i].Redfish[0]+"/Systems/1", adminUser, adminPass, ""); code != want {
			t.Errorf("%s: GET Systems/1: %d, want %d (%s)", list[i].ID, code, want, body)
		}
	}
	for i, want := range []int{1, 0} {
		_, body, _ := request(t, c, http.MethodGet, servers+"/"+list[i].ID+"/protocol-faults", adminUser, adminPass, "")
		var st netfault.Status
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		if len(st.Rules) != want {
			t.Errorf("%s has %d rules, want %d", list[i].ID, len(st.Rules), want)
		}
	}
	code, body, _ = request(t, c, http.MethodDelete, servers+"/bmc-001/protocol-faults/all", adminUser, adminPass, "")
	if code != http.StatusOK || body == "" {
		t.Errorf("DELETE all: %d %s", code, body)
	}
	if code, _, _ := request(t, c, http.MethodGet, list[0].Redfish[0]+"/Systems/1", adminUser, adminPass, ""); code != http.StatusOK {
		t.Errorf("bmc-001 after clearing: %d", code)
	}
}

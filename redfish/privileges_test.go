package redfish

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/conformance/schemacheck"
)

func registryFile(t *testing.T, name string) []byte {
	t.Helper()
	dir := filepath.Join(filepath.Dir(schemacheck.NeedDir(t)), "registries")
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("registry %s: %v", name, err)
	}
	return b
}

// The Go table must say what DMTF's registry says for every entity served.
func TestPrivilegeMapMatchesRegistry(t *testing.T) {
	var reg struct {
		Mappings []struct {
			Entity       string
			OperationMap map[string][]struct{ Privilege []string }
		}
	}
	if err := json.Unmarshal(registryFile(t, "Redfish_1.8.0_PrivilegeRegistry.json"), &reg); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, m := range reg.Mappings {
		ours, ok := privilegeMap[m.Entity]
		if !ok {
			continue
		}
		found[m.Entity] = true
		for method, alts := range m.OperationMap {
			var want [][]string
			for _, a := range alts {
				want = append(want, a.Privilege)
			}
			if !slices.EqualFunc(ours[method], want, slices.Equal) {
				t.Errorf("%s %s: ours %v, registry %v", m.Entity, method, ours[method], want)
			}
		}
	}
	for e := range privilegeMap {
		if !found[e] {
			t.Errorf("entity %s is not in the registry", e)
		}
	}
}

func TestBaseMessagesMatchRegistry(t *testing.T) {
	var reg struct {
		Messages map[string]struct {
			Message, MessageSeverity, Resolution string
			ParamTypes                           []string
		}
	}
	if err := json.Unmarshal(registryFile(t, "Base.1.22.1.json"), &reg); err != nil {
		t.Fatal(err)
	}
	for id, m := range baseMessages {
		r, ok := reg.Messages[id]
		if !ok || r.Message != m.text || r.MessageSeverity != m.severity || r.Resolution != m.resolution || len(r.ParamTypes) != m.args {
			t.Errorf("%s differs from Base.1.22.1", id)
		}
	}
}

// TestPrivilegeExamples spells out exact statuses for a few operations,
// written by hand from DSP0266 and the registry; TestPrivilegeMatrix
// covers every route, role and method but asserts less of a success.
func TestPrivilegeExamples(t *testing.T) {
	p := newPlatform(t)
	h, err := New(Config{Accounts: append(testAccounts, Account{UserName: "op", Password: "operator-pw", Role: RoleOperator})}, p)
	if err != nil {
		t.Fatal(err)
	}
	// Accounts: admin=2, reader=3, op=4.
	roles := map[string]reqOpt{
		"admin": basic(adminUser, adminPass), "op": basic("op", "operator-pw"), "ro": basic("reader", "reader-pw"), "anon": noAuth,
	}
	// Codes per role, in the order admin, op, ro, anon.
	type row struct {
		method, target, body string
		codes                [4]int
	}
	const (
		ok, created, nocontent = 200, 201, 204
		bad, unauth, forbid    = 400, 401, 403
		notAllowed, conflict   = 405, 409
	)
	rows := []row{
		{"GET", "/redfish/v1/", "", [4]int{ok, ok, ok, ok}},
		{"GET", "/redfish/v1/$metadata", "", [4]int{ok, ok, ok, ok}},
		{"GET", "/redfish/v1/odata", "", [4]int{ok, ok, ok, ok}},
		{"PATCH", "/redfish/v1/", `{}`, [4]int{notAllowed, notAllowed, notAllowed, notAllowed}},
		{"GET", "/redfish/v1/Systems/1", "", [4]int{ok, ok, ok, unauth}},
		{"PATCH", "/redfish/v1/Systems/1", `{"Boot":{"BootSourceOverrideTarget":"Pxe"}}`, [4]int{ok, ok, forbid, unauth}},
		{"GET", dimm, "", [4]int{ok, ok, ok, unauth}},
		{"PATCH", dimm, `{"LocationIndicatorActive":true}`, [4]int{ok, ok, forbid, unauth}},
		{"DELETE", dimm, "", [4]int{notAllowed, notAllowed, notAllowed, unauth}},
		{"POST", "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", `{"ResetType":"On"}`, [4]int{nocontent, nocontent, forbid, unauth}},
		{"GET", "/redfish/v1/Chassis/1", "", [4]int{ok, ok, ok, unauth}},
		{"GET", "/redfish/v1/Managers/bmc", "", [4]int{ok, ok, ok, unauth}},
		{"GET", "/redfish/v1/SessionService", "", [4]int{ok, ok, ok, unauth}},
		{"PATCH", "/redfish/v1/SessionService", `{"SessionTimeout":1800}`, [4]int{ok, forbid, forbid, unauth}},
		{"GET", "/redfish/v1/SessionService/Sessions", "", [4]int{ok, ok, ok, unauth}},
		{"GET", "/redfish/v1/AccountService", "", [4]int{ok, ok, ok, unauth}},
		{"PATCH", "/redfish/v1/AccountService", `{"AccountLockoutThreshold":5}`, [4]int{ok, forbid, forbid, unauth}},
		{"GET", "/redfish/v1/AccountService/Accounts", "", [4]int{ok, ok, ok, unauth}},
		{"POST", "/redfish/v1/AccountService/Accounts", `{"UserName":"new1","Password":"new-password","RoleId":"ReadOnly"}`, [4]int{created, forbid, forbid, unauth}},
		{"GET", "/redfish/v1/AccountService/Accounts/2", "", [4]int{ok, forbid, forbid, unauth}},
		{"GET", "/redfish/v1/AccountService/Accounts/3", "", [4]int{ok, forbid, ok, unauth}},
		{"GET", "/redfish/v1/AccountService/Accounts/4", "", [4]int{ok, ok, forbid, unauth}},
		{"PATCH", "/redfish/v1/AccountService/Accounts/3", `{"RoleId":"ReadOnly"}`, [4]int{ok, forbid, forbid, unauth}},
		{"PATCH", "/redfish/v1/AccountService/Accounts/3", `{"Password":"reader-pw"}`, [4]int{ok, forbid, ok, unauth}},
		{"PATCH", "/redfish/v1/AccountService/Accounts/4", `{"Password":"operator-pw"}`, [4]int{ok, ok, forbid, unauth}},
		// Without Password the Password override does not apply.
		{"PATCH", "/redfish/v1/AccountService/Accounts/3", `{}`, [4]int{bad, forbid, forbid, unauth}},
		{"DELETE", "/redfish/v1/AccountService/Accounts/2", "", [4]int{conflict, forbid, forbid, unauth}},
		{"GET", "/redfish/v1/AccountService/Roles", "", [4]int{ok, ok, ok, unauth}},
		{"GET", "/redfish/v1/TaskService", "", [4]int{ok, ok, ok, unauth}},
		{"PATCH", "/redfish/v1/TaskService", `{}`, [4]int{notAllowed, notAllowed, notAllowed, unauth}},
		{"GET", "/redfish/v1/TaskService/Tasks", "", [4]int{ok, ok, ok, unauth}},
		{"PATCH", dimm, `{"Enabled":true}`, [4]int{ok, ok, forbid, unauth}},
		{"GET", "/redfish/v1/AccountService/Roles/Operator", "", [4]int{ok, ok, ok, unauth}},
		{"PATCH", "/redfish/v1/AccountService/Roles/Operator", `{}`, [4]int{notAllowed, notAllowed, notAllowed, unauth}},
		{"POST", "/redfish/v1/SessionService/Sessions", `{"UserName":"x","Password":"y"}`, [4]int{unauth, unauth, unauth, unauth}},
		{"POST", "/redfish/v1/SessionService/Sessions", `{"UserName":"bogus"}`, [4]int{bad, bad, bad, bad}},
	}
	order := []string{"admin", "op", "ro", "anon"}
	for _, r := range rows {
		for i, who := range order {
			opts := []reqOpt{roles[who]}
			if r.body != "" {
				opts = append(opts, withBody(r.body))
			}
			w := do(t, h, r.method, r.target, opts...)
			if w.Code != r.codes[i] {
				t.Errorf("%s %s as %s: %d, want %d (%s)", r.method, r.target, who, w.Code, r.codes[i], strings.TrimSpace(w.Body.String()))
			}
		}
	}
	// Sessions: each role may read and delete its own, only admin others'.
	toks := map[string]string{}
	locs := map[string]string{}
	for who, pw := range map[string][2]string{"admin": {adminUser, adminPass}, "op": {"op", "operator-pw"}, "ro": {"reader", "reader-pw"}} {
		toks[who], locs[who] = login(t, h, pw[0], pw[1])
	}
	for _, who := range []string{"op", "ro"} {
		if w := do(t, h, http.MethodGet, locs[who], token(toks[who])); w.Code != ok {
			t.Errorf("%s GET own session: %d", who, w.Code)
		}
		if w := do(t, h, http.MethodGet, locs["admin"], token(toks[who])); w.Code != forbid {
			t.Errorf("%s GET admin session: %d", who, w.Code)
		}
		if w := do(t, h, http.MethodDelete, locs["admin"], token(toks[who])); w.Code != forbid {
			t.Errorf("%s DELETE admin session: %d", who, w.Code)
		}
	}
	if w := do(t, h, http.MethodDelete, locs["ro"], token(toks["admin"])); w.Code != nocontent {
		t.Errorf("admin DELETE reader session: %d", w.Code)
	}
}

// The SubordinateOverrides the service applies are the registry's.
func TestSubordinateOverridesMatchRegistry(t *testing.T) {
	var reg struct {
		Mappings []struct {
			Entity               string
			SubordinateOverrides []struct {
				Targets      []string
				OperationMap map[string][]struct{ Privilege []string }
			}
		}
	}
	if err := json.Unmarshal(registryFile(t, "Redfish_1.8.0_PrivilegeRegistry.json"), &reg); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, m := range reg.Mappings {
		for _, o := range m.SubordinateOverrides {
			key := strings.Join(o.Targets, "/") + "/" + m.Entity
			ours, ok := subordinateOverrides[key]
			if !ok {
				continue
			}
			found[key] = true
			for method, alts := range o.OperationMap {
				var want [][]string
				for _, a := range alts {
					want = append(want, a.Privilege)
				}
				if !slices.EqualFunc(ours[method], want, slices.Equal) {
					t.Errorf("%s %s: ours %v, registry %v", key, method, ours[method], want)
				}
			}
			if len(ours) != len(o.OperationMap) {
				t.Errorf("%s: ours overrides %d methods, registry %d", key, len(ours), len(o.OperationMap))
			}
		}
	}
	for k := range subordinateOverrides {
		if !found[k] {
			t.Errorf("override %s is not in the registry", k)
		}
	}
}

func TestEventMessagesMatchRegistries(t *testing.T) {
	files := map[string]string{resourceEventRegistry: "ResourceEvent.1.4.3.json", platformRegistry: "Platform.1.3.2.json"}
	regs := map[string]map[string]struct {
		Message, MessageSeverity, Resolution string
		ParamTypes                           []string
	}{}
	for id, f := range files {
		var reg struct {
			Messages map[string]struct {
				Message, MessageSeverity, Resolution string
				ParamTypes                           []string
			}
		}
		if err := json.Unmarshal(registryFile(t, f), &reg); err != nil {
			t.Fatal(err)
		}
		regs[id] = reg.Messages
	}
	for full, m := range dmtfEventMessages {
		i := strings.LastIndex(full, ".")
		r, ok := regs[full[:i]][full[i+1:]]
		if !ok || r.Message != m.text || r.MessageSeverity != m.severity || r.Resolution != m.resolution || len(r.ParamTypes) != m.args {
			t.Errorf("%s differs from its registry", full)
		}
	}
}

func TestLogPrivileges(t *testing.T) {
	ops := Account{UserName: "op", Password: "operator-pw", Role: RoleOperator}
	h := newHandlerCfg(t, newPlatform(t), Config{SEL: newSEL(t), Accounts: append(slices.Clone(testAccounts), ops)})
	clear := "/redfish/v1/Systems/1/LogServices/SEL/Actions/LogService.ClearLog"
	for _, c := range []struct {
		user, pass string
		method     string
		target     string
		want       int
	}{
		{"reader", "reader-pw", http.MethodGet, "/redfish/v1/Systems/1/LogServices/SEL/Entries", http.StatusOK},
		{"reader", "reader-pw", http.MethodGet, "/redfish/v1/Systems/1/LogServices/SEL/Entries/1", http.StatusOK},
		{"reader", "reader-pw", http.MethodPost, clear, http.StatusForbidden},
		// ConfigureComponents, by the ComputerSystem override.
		{"op", "operator-pw", http.MethodPost, clear, http.StatusNoContent},
		{adminUser, adminPass, http.MethodPost, clear, http.StatusNoContent},
		{adminUser, adminPass, http.MethodPatch, "/redfish/v1/Systems/1/LogServices/SEL", http.StatusMethodNotAllowed},
		{adminUser, adminPass, http.MethodDelete, "/redfish/v1/Systems/1/LogServices/SEL/Entries/1", http.StatusMethodNotAllowed},
	} {
		if w := do(t, h, c.method, c.target, basic(c.user, c.pass)); w.Code != c.want {
			t.Errorf("%s %s %s: %d, want %d (%s)", c.user, c.method, c.target, w.Code, c.want, w.Body)
		}
	}
}

// The pipeline's per-resource table (roleGrants) must answer exactly what allowedUnder
// does, for every entity, override chain, method, role and self, an
// unknown role included.
func TestGrantsMatchAllowedUnder(t *testing.T) {
	type place struct{ under, entity string }
	var places []place
	for entity := range privilegeMap {
		places = append(places, place{"", entity})
	}
	for chain := range subordinateOverrides {
		i := strings.LastIndex(chain, "/")
		places = append(places, place{chain[:i], chain[i+1:]})
	}
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete}
	for _, p := range places {
		for _, m := range methods {
			g := grantsFor(p.under, p.entity, m)
			for _, role := range []string{RoleAdministrator, RoleOperator, RoleReadOnly, "NoSuchRole", ""} {
				for _, self := range []bool{false, true} {
					if got, want := g.allow(role, p.under, p.entity, m, self), allowedUnder(role, p.under, p.entity, m, self); got != want {
						t.Errorf("%s/%s %s as %q self=%v: grants %v, allowedUnder %v", p.under, p.entity, m, role, self, got, want)
					}
				}
			}
		}
	}
}

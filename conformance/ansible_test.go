package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// ansible runs one module of Ansible's community.general Redfish
// collection (redfish_info, redfish_command) against e's HTTPS listener,
// as user/password, and returns the module's result. Ansible is a client
// nobody here wrote: its modules walk the service from the root the way
// provisioning playbooks do.
func (e *Emulator) ansible(module, user, password string, args ...string) (map[string]any, error) {
	e.t.Helper()
	bin := needTool(e.t, "ansible")
	tmp := e.t.TempDir()
	a := append([]string{fmt.Sprintf("baseuri=127.0.0.1:%d", e.TLSPort), "username=" + user, "password=" + password}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "localhost", "-o", "-m", "community.general."+module, "-a", strings.Join(a, " "))
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "HOME="+tmp, "ANSIBLE_LOCAL_TEMP="+tmp, "ANSIBLE_REMOTE_TEMP="+tmp,
		"ANSIBLE_LOCALHOST_WARNING=False", "ANSIBLE_INVENTORY_UNPARSED_WARNING=False", "ANSIBLE_NOCOLOR=1")
	out, runErr := cmd.CombinedOutput()
	_, body, ok := strings.Cut(string(out), "=> ")
	if !ok {
		return nil, fmt.Errorf("ansible %s %v: %v\n%s", module, args, runErr, out)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		return nil, fmt.Errorf("ansible %s %v: result not JSON: %w\n%s", module, args, err, out)
	}
	if runErr != nil || res["failed"] == true {
		return res, fmt.Errorf("ansible %s %v failed: %v: %v", module, args, runErr, res["msg"])
	}
	return res, nil
}

func (e *Emulator) mustAnsible(module string, args ...string) map[string]any {
	e.t.Helper()
	res, err := e.ansible(module, e.User, e.Password, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// The Ansible redfish modules a provisioning playbook uses: memory
// inventory, user management, sessions and power, each checked against
// what the emulator holds and, for accounts and power, against IPMI.
func TestAnsibleRedfishModules(t *testing.T) {
	e := start(t, startOpts{args: []string{"--speed", "1000"}})

	// Memory inventory: one entry per seated module, as Redfish lists them.
	res := e.mustAnsible("redfish_info", "category=Systems", "command=GetMemoryInventory")
	facts, _ := res["redfish_facts"].(map[string]any)
	mem, _ := facts["memory"].(map[string]any)
	entries, _ := mem["entries"].([]any)
	if len(entries) != 1 {
		t.Fatalf("memory facts: %v", res)
	}
	perSystem, _ := entries[0].([]any)
	dimms, _ := perSystem[len(perSystem)-1].([]any)
	var coll struct{ Members []struct{} }
	e.getJSON("/redfish/v1/Systems/1/Memory", &coll)
	seated := 0
	var gib float64
	for _, d := range dimms {
		m, _ := d.(map[string]any)
		if st, _ := m["Status"].(map[string]any); st["State"] == "Enabled" {
			seated++
			c, _ := m["CapacityMiB"].(float64)
			gib += c / 1024
		}
	}
	if seated != 16 || gib != 512 || len(dimms) > len(coll.Members) {
		t.Errorf("Ansible saw %d enabled modules, %v GiB, of %d entries (collection %d)", seated, gib, len(dimms), len(coll.Members))
	}

	// Users: created, re-passworded and re-roled through Ansible, each
	// step the account IPMI logs in with.
	e.mustAnsible("redfish_command", "category=Accounts", "command=AddUser", "new_username=ansible", "new_password=Ans1ble-pw", "roleid=Operator")
	asAnsible := func(pw string, args ...string) (string, error) {
		base := []string{"-I", "lanplus", "-H", e.IPMIHost, "-p", fmt.Sprint(e.IPMIPort), "-U", "ansible", "-P", pw, "-N", "1", "-R", "2"}
		return run(t, time.Minute, needTool(t, "ipmitool"), append(base, args...)...)
	}
	if out, err := asAnsible("Ans1ble-pw", "-L", "OPERATOR", "chassis", "status"); err != nil {
		t.Errorf("ipmitool as the Ansible-made operator: %v\n%s", err, out)
	}
	e.mustAnsible("redfish_command", "category=Accounts", "command=UpdateUserPassword", "account_username=ansible", "account_password=Ans1ble-pw2")
	if _, err := asAnsible("Ans1ble-pw", "chassis", "status"); err == nil {
		t.Error("the password Ansible replaced still opens an IPMI session")
	}
	e.mustAnsible("redfish_command", "category=Accounts", "command=UpdateUserRole", "account_username=ansible", "roleid=ReadOnly")
	if _, err := asAnsible("Ans1ble-pw2", "-L", "OPERATOR", "chassis", "status"); err == nil {
		t.Error("a ReadOnly account still gets an IPMI operator session")
	}
	users := e.mustAnsible("redfish_info", "category=Accounts", "command=ListUsers")
	if s := fmt.Sprint(users["redfish_facts"]); !strings.Contains(s, "UserName:ansible") || !strings.Contains(s, "RoleId:ReadOnly") {
		t.Errorf("ListUsers: %s", s)
	}
	// The account itself, not an administrator, may not manage accounts.
	if _, err := e.ansible("redfish_command", "ansible", "Ans1ble-pw2", "category=Accounts", "command=AddUser",
		"new_username=sneaky", "new_password=Sneaky-pw1", "roleid=Administrator"); err == nil {
		t.Error("a ReadOnly account added a user through Ansible")
	}
	e.mustAnsible("redfish_command", "category=Accounts", "command=DeleteUser", "account_username=ansible")
	if _, err := asAnsible("Ans1ble-pw2", "chassis", "status"); err == nil {
		t.Error("the deleted account still opens an IPMI session")
	}

	// Sessions: Ansible logs in, the token works, ClearSessions ends it.
	res = e.mustAnsible("redfish_command", "category=Sessions", "command=CreateSession")
	sess, _ := res["session"].(map[string]any)
	tok, _ := sess["token"].(string)
	get := func() int {
		req, _ := http.NewRequest(http.MethodGet, e.URL+"/redfish/v1/Systems/1", nil)
		req.Header.Set("X-Auth-Token", tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if tok == "" || get() != 200 {
		t.Fatalf("Ansible's session %v does not work", sess)
	}
	e.mustAnsible("redfish_command", "category=Sessions", "command=ClearSessions")
	if code := get(); code != 401 {
		t.Errorf("after ClearSessions the token gets %d", code)
	}

	// Power, read back over IPMI.
	e.mustAnsible("redfish_command", "category=Systems", "command=PowerForceOff")
	if out := e.mustIPMI("chassis", "power", "status"); !strings.Contains(out, "is off") {
		t.Errorf("after PowerForceOff: %s", out)
	}
	e.mustAnsible("redfish_command", "category=Systems", "command=PowerOn")
	if out := e.mustIPMI("chassis", "power", "status"); !strings.Contains(out, "is on") {
		t.Errorf("after PowerOn: %s", out)
	}
}

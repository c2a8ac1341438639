package conformance

import (
	"reflect"
	"testing"
)

// python3-sushy with Basic authentication reads over one keep-alive
// requests session, sending the same Authorization field every time, as
// Ironic's sushy does when told to use Basic: the field the connection
// remembers stops working the moment the password changes or the account
// is disabled, and a client with the new password is served.
func TestSushyBasicAuthFollowsAccountChanges(t *testing.T) {
	e := start(t, startOpts{args: []string{"--ephemeral"}})
	out := e.sushy(`
from sushy import auth
admin = s._conn._session
def check(r):
    if r.status_code >= 300:
        raise SystemExit("%s %s: %d %s" % (r.request.method, r.url, r.status_code, r.text))
    return r
r = check(admin.post(url + "/redfish/v1/AccountService/Accounts",
    json={"UserName": "memo", "Password": "Memo-pass-1", "RoleId": "Operator", "Enabled": True}))
acct = r.headers["Location"]
if not acct.startswith("http"):
    acct = url + acct
def reader(pw):
    return sushy.Sushy(url, auth=auth.BasicAuth(username="memo", password=pw), verify=False).get_system("/redfish/v1/Systems/1")
def read(sys):
    try:
        sys.refresh()
        return sys.power_state.value
    except sushy.exceptions.AccessError:
        return "AccessError"
res = {}
old = reader("Memo-pass-1")
res["before"] = [read(old) for _ in range(3)]
check(admin.patch(acct, json={"Password": "Memo-pass-2"}))
res["old_password"] = read(old)
new = reader("Memo-pass-2")
res["new_password"] = read(new)
check(admin.patch(acct, json={"Enabled": False}))
res["disabled"] = read(new)
check(admin.patch(acct, json={"Enabled": True}))
res["enabled"] = read(new)
print(json.dumps(res))
`)
	want := map[string]any{"before": []any{"On", "On", "On"}, "old_password": "AccessError",
		"new_password": "On", "disabled": "AccessError", "enabled": "On"}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("sushy (Basic) saw %v, want %v", out, want)
	}
}

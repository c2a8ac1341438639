package redfish

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform"
)

// sushyScript logs in with a session (sushy's SessionAuth), reads the
// system's MemorySummary and a Memory member, PATCHes
// LocationIndicatorActive, reads the SEL log service, creates and deletes
// an event subscription through sushy's EventService API, and logs out.
const sushyScript = `
import json, sys
import sushy
from sushy import auth
url, user, pw, ca = sys.argv[1:5]
a = auth.SessionAuth(username=user, password=pw)
s = sushy.Sushy(url, auth=a, verify=ca)
sysobj = s.get_system("/redfish/v1/Systems/1")
ms = sysobj.memory_summary
conn = s._conn
dimm = conn.get("/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1").json()
r = conn.patch("/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1", data={"LocationIndicatorActive": True})
after = conn.get("/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1").json()
sel = conn.get("/redfish/v1/Systems/1/LogServices/SEL").json()
entries = conn.get(sel["Entries"]["@odata.id"]).json()
es = s.get_event_service()
sub = es.subscriptions.create({"Destination": "http://127.0.0.1:9/events", "Protocol": "Redfish",
                               "Context": "sushy-test", "RegistryPrefixes": ["ResourceEvent"]})
created = sub.json
before_delete = len(es.subscriptions.members_identities)
sub.delete()
es.subscriptions.refresh()
print(json.dumps({
    "sel_type": sel.get("LogEntryType"),
    "sel_entries": entries.get("Members@odata.count"),
    "sub_context": created.get("Context"),
    "sub_destination": created.get("Destination"),
    "subs_before_delete": before_delete,
    "subs_after_delete": len(es.subscriptions.members_identities),
    "retry_attempts": es.delivery_retry_attempts,
    "session": bool(a.get_session_key()),
    "total_gib": ms.size_gib,
    "capacity": dimm["CapacityMiB"],
    "patch_status": r.status_code,
    "led": after["LocationIndicatorActive"],
}))
a.close()
`

// runSushy runs script with Debian's python3-sushy against an HTTPS
// server for p (argv: URL, user, password, CA file) and decodes the JSON
// object its last output line prints. It returns the handler too.
func runSushy(t *testing.T, p *platform.Platform, script string) (http.Handler, map[string]any) {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import sushy").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-sushy not importable by %s: %v", py, err)
		}
		t.Skipf("python3-sushy not importable by %s (Debian package python3-sushy): %v", py, err)
	}
	h, srv, ca := newTLSServerCert(t, p)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", script, srv.URL, adminUser, adminPass, ca)
	// requests lets these variables override an explicit verify=.
	cmd.Env = append(os.Environ(), "NO_PROXY=*", "no_proxy=*", "REQUESTS_CA_BUNDLE="+ca, "CURL_CA_BUNDLE="+ca)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sushy: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return h, decode(t, []byte(lines[len(lines)-1]))
}

func TestSushy(t *testing.T) {
	p := newPlatform(t)
	h, m := runSushy(t, p, sushyScript)
	if m["session"] != true || m["total_gib"] != 512.0 || m["capacity"] != 32768.0 || m["patch_status"] != 200.0 || m["led"] != true {
		t.Errorf("sushy saw %v", m)
	}
	if m["sel_type"] != "SEL" || m["sel_entries"] == nil {
		t.Errorf("sushy read the SEL log service as %v", m)
	}
	if m["sub_context"] != "sushy-test" || m["sub_destination"] != "http://127.0.0.1:9/events" ||
		m["subs_before_delete"] != 1.0 || m["subs_after_delete"] != 0.0 || m["retry_attempts"] == nil {
		t.Errorf("sushy's subscription round trip %v", m)
	}
	if sl, _ := p.Snapshot().Slot("CPU0_DIMM_A1"); !sl.LocationIndicator {
		t.Error("sushy PATCH did not light the LED")
	}
	if got := getJSON(t, h, "/redfish/v1/SessionService/Sessions"); got["Members@odata.count"] != 0.0 {
		t.Errorf("sushy left %v sessions", got["Members@odata.count"])
	}
}

// sushyBootScript is what Ironic's redfish driver does through sushy to
// PXE boot a node once: read the allowed targets, set the override, reset.
const sushyBootScript = `
import json, sys
import sushy
from sushy import auth
url, user, pw, ca = sys.argv[1:5]
a = auth.SessionAuth(username=user, password=pw)
s = sushy.Sushy(url, auth=a, verify=ca)
system = s.get_system("/redfish/v1/Systems/1")
allowed = sorted(str(v) for v in system.get_allowed_system_boot_source_values())
system.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_PXE, enabled=sushy.BOOT_SOURCE_ENABLED_ONCE,
                               mode=sushy.BOOT_SOURCE_MODE_UEFI)
system.refresh()
before = {"target": str(system.boot.target), "enabled": str(system.boot.enabled), "mode": str(system.boot.mode)}
system.reset_system(sushy.RESET_FORCE_RESTART)
system.refresh()
print(json.dumps({"allowed": allowed, "before_reset": before, "after_reset": str(system.boot.enabled)}))
a.close()
`

func TestSushyBootOverride(t *testing.T) {
	p := newPlatform(t)
	_, m := runSushy(t, p, sushyBootScript)
	t.Logf("sushy saw %v", m)
	before, _ := m["before_reset"].(map[string]any)
	if before["target"] != "BootSource.PXE" || before["enabled"] != "BootSourceOverrideEnabled.ONCE" || before["mode"] != "BootSourceOverrideMode.UEFI" {
		t.Errorf("sushy read the override back as %v", before)
	}
	if allowed, _ := m["allowed"].([]any); len(allowed) != 8 {
		t.Errorf("sushy's allowed targets %v", m["allowed"])
	}
	if m["after_reset"] != "BootSourceOverrideEnabled.DISABLED" {
		t.Errorf("after the reset sushy read Enabled %v", m["after_reset"])
	}
	if got := p.Snapshot().Boot; got.Target != "Pxe" || got.Enabled != "Disabled" || got.Mode != "UEFI" {
		t.Errorf("platform override after sushy's PXE boot: %+v", got)
	}
}

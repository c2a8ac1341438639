package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/images"
)

// The steps Ironic's redfish hardware type runs through python3-sushy, one
// test each, against the binary at --speed 1000: the scripts call the
// sushy methods Ironic's redfish BIOS, management, boot, secure boot and
// firmware interfaces call, and the test checks what the emulator did.

// sushyPrelude connects with the arguments URL, user, password;
// reset_and_wait resets the system and waits for its next boot(s).
const sushyPrelude = `
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import sushy
url, user, pw = sys.argv[1:4]
args = sys.argv[4:]
s = sushy.Sushy(url, username=user, password=pw, verify=False)
system = s.get_system("/redfish/v1/Systems/1")
def boots():
    # The emulator's own view of the host (its control API): at --speed
    # 1000 a reboot is over between two Redfish polls, so the test counts
    # boots rather than watching BootProgress go by.
    r = s._conn._session.get(url + "/emulator/v1/host", auth=(user, pw))
    r.raise_for_status()
    h = r.json()
    return h["boot_count"] if h["os_running"] else -1
def reset_and_wait(kind, want=1, timeout=60):
    before = boots()
    system.reset_system(kind)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if boots() >= before + want:
            system.refresh()
            return
        time.sleep(0.02)
    raise SystemExit("timed out waiting for the host to boot again after " + str(kind))
`

// sushy runs a sushy script (after sushyPrelude) and decodes the JSON
// object it prints last.
func (e *Emulator) sushy(script string, args ...string) map[string]any {
	e.t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import sushy").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			e.t.Fatalf("python3-sushy not importable by %s: %v", py, err)
		}
		e.t.Skipf("python3-sushy not importable by %s (Debian package python3-sushy): %v", py, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append([]string{"-c", sushyPrelude + script, e.URL, e.User, e.Password}, args...)...)
	cmd.Env = append(os.Environ(), "NO_PROXY=*", "no_proxy=*")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		e.t.Fatalf("sushy: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		e.t.Fatalf("sushy printed %q: %v\n%s", stdout.String(), err, stderr.String())
	}
	return m
}

// serveFiles serves files on a loopback port until the test ends.
func serveFiles(t *testing.T, files map[string][]byte) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

// Ironic's BIOS interface, apply_configuration: stage the attributes
// (sushy's Bios.set_attributes PATCHes the settings object), reboot, and
// find them current; the registry describes them.
func TestSushyBiosApplyConfiguration(t *testing.T) {
	e := start(t, startOpts{args: []string{"--speed", "1000"}})
	m := e.sushy(`
bios = system.bios
# sushy's own registry classes (Bios.get_attribute_registry first loads
# the standard registries Debian's package leaves out).
from sushy.resources.registry.message_registry_file import MessageRegistryFile
reg = MessageRegistryFile(s._conn, "/redfish/v1/Registries/" + bios.json["AttributeRegistry"].split(".")[0]).get_attribute_registry("en", None)
entries = {a.name: a for a in reg.registry_entries.attributes}
before = dict(bios.attributes)
bios.set_attributes({"ProcHyperthreading": "Disabled", "SriovGlobalEnable": "Enabled", "PostPromptTimeout": 0})
bios.refresh()
pending = dict(bios.pending_attributes)
during = dict(bios.attributes)
reset_and_wait(sushy.RESET_FORCE_RESTART)
bios.invalidate()
bios.refresh()
print(json.dumps({"before": before, "pending": pending, "during": during, "after": dict(bios.attributes),
    "pending_after": dict(bios.pending_attributes), "applied_at": bios.json["@Redfish.Settings"].get("Time"),
    "registry_id": reg.identity, "bootmode_values": [v["ValueName"] for v in entries["BootMode"].allowable_values],
    "servicetag_ro": entries["SystemServiceTag"].read_only, "timeout_type": entries["PostPromptTimeout"].attribute_type}))
`)
	before, _ := m["before"].(map[string]any)
	pending, _ := m["pending"].(map[string]any)
	during, _ := m["during"].(map[string]any)
	after, _ := m["after"].(map[string]any)
	if before["ProcHyperthreading"] != "Enabled" || before["SriovGlobalEnable"] != "Disabled" || before["PostPromptTimeout"] != 3.0 {
		t.Errorf("before: %v", before)
	}
	if len(pending) != 3 || pending["ProcHyperthreading"] != "Disabled" || pending["PostPromptTimeout"] != 0.0 {
		t.Errorf("pending before the reboot: %v", pending)
	}
	if during["ProcHyperthreading"] != "Enabled" {
		t.Errorf("applied before the reboot: %v", during)
	}
	if after["ProcHyperthreading"] != "Disabled" || after["SriovGlobalEnable"] != "Enabled" || after["PostPromptTimeout"] != 0.0 {
		t.Errorf("after the reboot: %v", after)
	}
	if m["registry_id"] != "BiosAttributeRegistry.1.0.0" || m["servicetag_ro"] != true || m["timeout_type"] != "Integer" ||
		fmt.Sprint(m["bootmode_values"]) != "[Uefi Bios]" || m["applied_at"] == nil || fmt.Sprint(m["pending_after"]) != "map[]" {
		t.Errorf("registry and status: %v", m)
	}
	if !strings.Contains(e.console(), "Hyper-Threading disabled") {
		t.Error("POST did not run with the new setting")
	}
}

// Ironic's BIOS interface, factory_reset: ResetBios, reboot, defaults.
func TestSushyBiosFactoryReset(t *testing.T) {
	e := start(t, startOpts{args: []string{"--speed", "1000"}})
	m := e.sushy(`
bios = system.bios
bios.set_attributes({"BootMode": "Bios", "MemoryTest": True})
reset_and_wait(sushy.RESET_FORCE_RESTART)
bios.refresh()
changed = dict(bios.attributes)
bios.reset_bios()
bios.invalidate()
bios.refresh()
pending = dict(bios.pending_attributes)
reset_and_wait(sushy.RESET_FORCE_RESTART)
bios.invalidate()
bios.refresh()
print(json.dumps({"changed": changed, "pending": pending, "after": dict(bios.attributes)}))
`)
	changed, _ := m["changed"].(map[string]any)
	pending, _ := m["pending"].(map[string]any)
	after, _ := m["after"].(map[string]any)
	if changed["BootMode"] != "Bios" || changed["MemoryTest"] != true {
		t.Errorf("changed: %v", changed)
	}
	if pending["BootMode"] != "Uefi" || pending["MemoryTest"] != false {
		t.Errorf("pending after ResetBios: %v", pending)
	}
	if after["BootMode"] != "Uefi" || after["MemoryTest"] != false {
		t.Errorf("after the reboot: %v", after)
	}
}

// Ironic's management interface: set_boot_device PXE (once, UEFI) and a
// power cycle; the host's PXE client asks from the boot NIC's MAC, and the
// one-time override is spent.
func TestSushyBootDevicePowerCycle(t *testing.T) {
	e := start(t, startOpts{args: []string{"--speed", "1000"}})
	m := e.sushy(`
system.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_PXE, enabled=sushy.BOOT_SOURCE_ENABLED_ONCE,
                               mode=sushy.BOOT_SOURCE_MODE_UEFI)
reset_and_wait(sushy.RESET_TYPE_POWER_CYCLE)
print(json.dumps({"enabled": str(system.boot.enabled), "target": str(system.boot.target)}))
`)
	if m["enabled"] != "BootSourceOverrideEnabled.DISABLED" || m["target"] != "BootSource.PXE" {
		t.Errorf("boot after the power cycle: %v", m)
	}
	h := e.hostState()
	if len(h.Attempts) < 2 || h.Attempts[0].Target != "Pxe" || h.BootTarget != "Hdd" {
		t.Errorf("boot attempts %+v", h.Attempts)
	}
	if !strings.Contains(e.console(), "DHCPDISCOVER from "+h.BootMAC) {
		t.Errorf("no PXE request from %s:\n%s", h.BootMAC, e.console())
	}
}

// Ironic's redfish-virtual-media boot: insert the deploy ISO in the
// Manager's virtual CD, boot it once, eject it.
func TestSushyVirtualMediaBoot(t *testing.T) {
	e := start(t, startOpts{args: []string{"--speed", "1000"}})
	iso := images.ISO("IPA_DEPLOY", true, true, 96<<10)
	base := serveFiles(t, map[string][]byte{"/deploy.iso": iso})
	m := e.sushy(`
mgr = s.get_manager("/redfish/v1/Managers/bmc")
cd = [v for v in mgr.virtual_media.get_members() if sushy.VIRTUAL_MEDIA_CD in v.media_types][0]
cd.insert_media(args[0], inserted=True, write_protected=True)
cd.refresh()
inserted = {"inserted": cd.inserted, "image": cd.image, "name": cd.image_name}
system.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_CD, enabled=sushy.BOOT_SOURCE_ENABLED_ONCE,
                               mode=sushy.BOOT_SOURCE_MODE_UEFI)
reset_and_wait(sushy.RESET_FORCE_RESTART)
cd.eject_media()
cd.refresh()
print(json.dumps({"inserted": inserted, "after": {"inserted": cd.inserted, "image": cd.image, "name": cd.image_name},
                  "size": cd.json["Oem"]["Bmcemu"]["ImageSizeBytes"] if "Oem" in cd.json else None}))
`, base+"/deploy.iso")
	in, _ := m["inserted"].(map[string]any)
	after, _ := m["after"].(map[string]any)
	if in["inserted"] != true || in["image"] != base+"/deploy.iso" || in["name"] != "deploy.iso" {
		t.Errorf("inserted: %v", in)
	}
	if after["inserted"] != false || after["image"] != nil {
		t.Errorf("after eject: %v", after)
	}
	h := e.hostState()
	if h.BootTarget != "Cd" || h.BootDevice != "UEFI Virtual CD/DVD" {
		t.Errorf("booted from %s (%s)", h.BootTarget, h.BootDevice)
	}
	if con := e.console(); !strings.Contains(con, `deploy.iso (volume "IPA_DEPLOY"), 98304 bytes`) {
		t.Errorf("console:\n%s", con)
	}
}

// Ironic's secure boot steps: enable secure boot and reboot (it is
// enforced), then clear the keys (Setup Mode) and reboot (it is not).
func TestSushySecureBoot(t *testing.T) {
	e := start(t, startOpts{args: []string{"--speed", "1000"}})
	m := e.sushy(`
sb = system.secure_boot
initially = {"enabled": sb.enabled, "current": str(sb.current_boot), "mode": str(sb.mode)}
sb.set_enabled(True)
sb.refresh()
staged = {"enabled": sb.enabled, "current": str(sb.current_boot)}
reset_and_wait(sushy.RESET_FORCE_RESTART)
sb.refresh()
enforced = {"current": str(sb.current_boot), "mode": str(sb.mode)}
sb.reset_keys(sushy.SECURE_BOOT_RESET_KEYS_DELETE_ALL)
sb.refresh()
cleared = str(sb.mode)
reset_and_wait(sushy.RESET_FORCE_RESTART)
sb.refresh()
print(json.dumps({"initially": initially, "staged": staged, "enforced": enforced, "cleared": cleared,
                  "after": {"enabled": sb.enabled, "current": str(sb.current_boot)}}))
`)
	want := map[string]string{
		"initially": "map[current:SecureBootCurrentBoot.DISABLED enabled:false mode:SecureBootMode.USER]",
		"staged":    "map[current:SecureBootCurrentBoot.DISABLED enabled:true]",
		"enforced":  "map[current:SecureBootCurrentBoot.ENABLED mode:SecureBootMode.USER]",
		"cleared":   "SecureBootMode.SETUP",
		"after":     "map[current:SecureBootCurrentBoot.DISABLED enabled:true]",
	}
	for k, v := range want {
		if got := fmt.Sprint(m[k]); got != v {
			t.Errorf("%s: %s, want %s", k, got, v)
		}
	}
}

// Ironic's firmware interface: SimpleUpdate of the system firmware from a
// loopback HTTP server, followed with a task monitor; the reboot the
// update needs flashes it, and the System reports the new version.
func TestSushyFirmwareUpdate(t *testing.T) {
	e := start(t, startOpts{args: []string{"--speed", "1000"}})
	base := serveFiles(t, map[string][]byte{"/bios-2.4.0.cap": platform.EncodeFirmwareImage(platform.FirmwareComponentBIOS, "2.4.0", bytes.Repeat([]byte("uefi"), 4096))})
	m := e.sushy(`
from sushy.taskmonitor import TaskMonitor
old = system.bios_version
us = s.get_update_service()
tm = us.simple_update(args[0], targets=["/redfish/v1/UpdateService/FirmwareInventory/BIOS"],
                      transfer_protocol=sushy.UPDATE_PROTOCOL_HTTP)
mon = TaskMonitor(s._conn, tm.response.headers["Location"])
mon.wait(60)
task = mon.get_task()
system.refresh()
staged = system.bios_version
# The flash restarts the host once more on the new firmware.
reset_and_wait(sushy.RESET_FORCE_RESTART, want=2)
print(json.dumps({"old": old, "staged": staged, "new": system.bios_version, "final": mon.response.status_code,
                  "state": str(task.task_state), "status": str(task.task_status),
                  "messages": [m.message_id for m in task.messages]}))
`, base+"/bios-2.4.0.cap")
	if m["old"] != "1.0.0" || m["staged"] != "1.0.0" || m["new"] != "2.4.0" {
		t.Errorf("versions: %v", m)
	}
	if m["state"] != "TaskState.COMPLETED" || m["status"] != "Health.OK" || m["final"] != 200.0 ||
		!strings.Contains(fmt.Sprint(m["messages"]), "Update.1.3.0.AwaitToActivate") {
		t.Errorf("task: %v", m)
	}
	if !strings.Contains(e.console(), "Updating system firmware 1.0.0 -> 2.4.0") {
		t.Error("the reboot did not flash the firmware")
	}
	var h control.Host = e.hostState()
	if h.BootCount != 2 || h.Cause != "WarmReset" {
		t.Errorf("the update's reboot then its own restart: %+v", h)
	}
}

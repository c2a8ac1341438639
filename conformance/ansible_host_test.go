package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/images"
)

// ansibleJSON runs a community.general Redfish module with its arguments
// as JSON (dicts such as bios_attributes and virtual_media cannot be
// written as key=value), against e's HTTPS listener.
func (e *Emulator) ansibleJSON(module string, args map[string]any) map[string]any {
	e.t.Helper()
	bin := needTool(e.t, "ansible")
	tmp := e.t.TempDir()
	args["baseuri"] = fmt.Sprintf("127.0.0.1:%d", e.TLSPort)
	args["username"], args["password"] = e.User, e.Password
	a, _ := json.Marshal(args)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "localhost", "-o", "-m", "community.general."+module, "-a", string(a))
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "HOME="+tmp, "ANSIBLE_LOCAL_TEMP="+tmp, "ANSIBLE_REMOTE_TEMP="+tmp,
		"ANSIBLE_LOCALHOST_WARNING=False", "ANSIBLE_INVENTORY_UNPARSED_WARNING=False", "ANSIBLE_NOCOLOR=1")
	out, runErr := cmd.CombinedOutput()
	_, body, ok := strings.Cut(string(out), "=> ")
	var res map[string]any
	if !ok || json.Unmarshal([]byte(body), &res) != nil {
		e.t.Fatalf("ansible %s %s: %v\n%s", module, a, runErr, out)
	}
	if runErr != nil || res["failed"] == true {
		e.t.Fatalf("ansible %s %s failed: %v: %v", module, a, runErr, res["msg"])
	}
	return res
}

// Ansible's Redfish modules as a provisioning playbook uses them on the
// host: BIOS attributes and boot order, virtual media in and out, BIOS
// settings applied by a reboot, the defaults restored, secure boot; each step's
// result is checked on what Ansible reports and on the emulator.
func TestAnsibleHostModules(t *testing.T) {
	needTool(t, "ansible")
	e := start(t, startOpts{args: []string{"--speed", "1000"}})

	// redfish_info: BIOS attributes and the boot order in one call.
	res := e.ansibleJSON("redfish_info", map[string]any{"category": "Systems", "command": []string{"GetBiosAttributes", "GetBootOrder"}})
	facts, _ := res["redfish_facts"].(map[string]any)
	bios := fmt.Sprint(facts["bios_attribute"])
	for _, want := range []string{"BootMode:Uefi", "SriovGlobalEnable:Disabled", "MemoryRASMode:AdvancedECC", "SystemServiceTag:"} {
		if !strings.Contains(bios, want) {
			t.Errorf("GetBiosAttributes lacks %s: %s", want, bios)
		}
	}
	order := fmt.Sprint(facts["boot_order"])
	if !strings.Contains(order, "BootOptionReference:Boot0000 DisplayName:UEFI OS (Disk 0)") ||
		strings.Index(order, "Boot0000") > strings.Index(order, "Boot0001") || !strings.Contains(order, "UEFI PXEv4 (MAC:") {
		t.Errorf("GetBootOrder: %s", order)
	}

	// redfish_command: virtual media in, seen by redfish_info, and out.
	iso := images.ISO("TOOLS", true, false, 64<<10)
	url := serveFiles(t, map[string][]byte{"/tools.iso": iso}) + "/tools.iso"
	vm := map[string]any{"image_url": url, "media_types": []string{"CD", "DVD"}}
	if r := e.ansibleJSON("redfish_command", map[string]any{"category": "Manager", "command": "VirtualMediaInsert", "virtual_media": vm}); r["changed"] != true {
		t.Errorf("VirtualMediaInsert: %v", r)
	}
	res = e.ansibleJSON("redfish_info", map[string]any{"category": "Manager", "command": "GetVirtualMedia"})
	media := fmt.Sprint(res["redfish_facts"])
	if !strings.Contains(media, "Image:"+url) || !strings.Contains(media, "ImageName:tools.iso") || !strings.Contains(media, "ConnectedVia:URI") {
		t.Errorf("GetVirtualMedia: %s", media)
	}
	if r := e.ansibleJSON("redfish_command", map[string]any{"category": "Manager", "command": "VirtualMediaEject", "virtual_media": vm}); r["changed"] != true {
		t.Errorf("VirtualMediaEject: %v", r)
	}
	var cd struct{ Inserted bool }
	e.getJSON("/redfish/v1/Managers/bmc/VirtualMedia/CD", &cd)
	if cd.Inserted {
		t.Error("the CD is still inserted after VirtualMediaEject")
	}

	// redfish_config SetBiosAttributes, redfish_command PowerReboot: the
	// attributes wait for the reboot, then Ansible verifies them.
	attrs := map[string]any{"SriovGlobalEnable": "Enabled", "ProcVirtualization": "Disabled"}
	if r := e.ansibleJSON("redfish_config", map[string]any{"category": "Systems", "command": "SetBiosAttributes", "bios_attributes": attrs}); r["changed"] != true {
		t.Errorf("SetBiosAttributes: %v", r)
	}
	var pending struct{ Attributes map[string]any }
	e.getJSON("/redfish/v1/Systems/1/Bios/Settings", &pending)
	if pending.Attributes["SriovGlobalEnable"] != "Enabled" || pending.Attributes["ProcVirtualization"] != "Disabled" {
		t.Errorf("pending after SetBiosAttributes: %v", pending.Attributes)
	}
	boots := e.hostState().BootCount
	e.ansibleJSON("redfish_command", map[string]any{"category": "Systems", "command": "PowerReboot"})
	h := e.waitHost("rebooted", booted(boots+1))
	if h.Cause != "WarmReset" || !strings.Contains(e.console(), "reboot: Restarting system") {
		t.Errorf("PowerReboot was not the OS restarting: %+v", h)
	}
	e.ansibleJSON("redfish_command", map[string]any{"category": "Systems", "command": "VerifyBiosAttributes", "bios_attributes": attrs})

	// redfish_config SetBiosDefaultSettings: the defaults are staged and
	// the next reboot applies them.
	if r := e.ansibleJSON("redfish_config", map[string]any{"category": "Systems", "command": "SetBiosDefaultSettings"}); r["changed"] != true {
		t.Errorf("SetBiosDefaultSettings: %v", r)
	}
	e.getJSON("/redfish/v1/Systems/1/Bios/Settings", &pending)
	if pending.Attributes["SriovGlobalEnable"] != "Disabled" || pending.Attributes["ProcVirtualization"] != "Enabled" {
		t.Errorf("pending after SetBiosDefaultSettings: %v", pending.Attributes)
	}
	if code := e.send("POST", "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", `{"ResetType":"ForceRestart"}`); code != 204 {
		t.Fatalf("reset: %d", code)
	}
	e.waitHost("rebooted", func(h control.Host) bool { return h.OSRunning && h.BootCount >= boots+2 })
	e.ansibleJSON("redfish_command", map[string]any{"category": "Systems", "command": "VerifyBiosAttributes",
		"bios_attributes": map[string]any{"SriovGlobalEnable": "Disabled", "ProcVirtualization": "Enabled"}})

	// redfish_config EnableSecureBoot: set for the next boot.
	if r := e.ansibleJSON("redfish_config", map[string]any{"category": "Systems", "command": "EnableSecureBoot"}); r["changed"] != true {
		t.Errorf("EnableSecureBoot: %v", r)
	}
	var sb struct {
		SecureBootEnable      bool
		SecureBootCurrentBoot string
	}
	e.getJSON("/redfish/v1/Systems/1/SecureBoot", &sb)
	if !sb.SecureBootEnable || sb.SecureBootCurrentBoot != "Disabled" {
		t.Errorf("after EnableSecureBoot: %+v", sb)
	}
}

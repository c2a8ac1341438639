package conformance

import (
	"strings"
	"testing"
)

type systemBoot struct {
	Boot struct {
		BootSourceOverrideTarget  string
		BootSourceOverrideEnabled string
		BootSourceOverrideMode    string
	}
}

func (e *Emulator) boot() (target, enabled, mode string) {
	e.t.Helper()
	var s systemBoot
	e.getJSON("/redfish/v1/Systems/1", &s)
	return s.Boot.BootSourceOverrideTarget, s.Boot.BootSourceOverrideEnabled, s.Boot.BootSourceOverrideMode
}

// TestBootOverrideAcrossSurfaces sets the boot override on each surface
// with its real client and reads it on the other: one truth, kept across a
// BMC restart and consumed by the next boot.
func TestBootOverrideAcrossSurfaces(t *testing.T) {
	needTool(t, "ipmitool")
	dir := t.TempDir()
	e := start(t, startOpts{stateDir: dir})

	// Redfish to IPMI: Ironic's redfish driver body.
	if code := e.send("PATCH", "/redfish/v1/Systems/1",
		`{"Boot": {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once", "BootSourceOverrideMode": "UEFI"}}`); code != 200 {
		t.Fatalf("PATCH Boot: %d", code)
	}
	out := e.mustIPMI("chassis", "bootparam", "get", "5")
	for _, want := range []string{"Boot Flag Valid", "Options apply to only next boot", "BIOS EFI boot", "Boot Device Selector : Force PXE"} {
		if !strings.Contains(out, want) {
			t.Errorf("bootparam get 5 after the Redfish PATCH lacks %q:\n%s", want, out)
		}
	}

	// IPMI to Redfish: Ironic's ipmitool driver command, made persistent.
	e.mustIPMI("chassis", "bootdev", "disk", "options=persistent,efiboot")
	if tg, en, md := e.boot(); tg != "Hdd" || en != "Continuous" || md != "UEFI" {
		t.Errorf("Redfish Boot after bootdev disk = %s %s %s", tg, en, md)
	}

	// The BMC keeps it in non-volatile storage.
	e.mustIPMI("chassis", "bootdev", "cdrom", "options=efiboot")
	if err := e.Stop(); err != nil {
		t.Fatalf("graceful stop: %v\n%s", err, e.Output())
	}
	e = start(t, startOpts{stateDir: dir})
	if tg, en, md := e.boot(); tg != "Cd" || en != "Once" || md != "UEFI" {
		t.Errorf("Redfish Boot after a BMC restart = %s %s %s", tg, en, md)
	}

	// The next boot (a Redfish reset) consumes Once; IPMI sees it cleared.
	if code := e.send("POST", "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", `{"ResetType":"ForceRestart"}`); code != 204 {
		t.Fatalf("reset: %d", code)
	}
	if out := e.mustIPMI("chassis", "bootparam", "get", "5"); !strings.Contains(out, "Boot Flag Invalid") ||
		!strings.Contains(out, "Force Boot from CD/DVD") {
		t.Errorf("bootparam get 5 after the reboot:\n%s", out)
	}
	if _, en, _ := e.boot(); en != "Disabled" {
		t.Errorf("Redfish BootSourceOverrideEnabled after the reboot = %s", en)
	}
}

// TestAnsibleSetOneTimeBoot runs community.general.redfish_command as a
// playbook would, over HTTPS. Ansible is optional: .ci/run does not install
// it, so it is skipped wherever it is missing, CI included.
func TestAnsibleSetOneTimeBoot(t *testing.T) {
	e := start(t, startOpts{})
	if res := e.mustAnsible("redfish_command", "category=Systems", "command=SetOneTimeBoot", "bootdevice=Pxe"); res["changed"] != true {
		t.Errorf("ansible reported no change: %v", res)
	}
	if tg, en, _ := e.boot(); tg != "Pxe" || en != "Once" {
		t.Errorf("Redfish Boot after ansible SetOneTimeBoot = %s %s", tg, en)
	}
	if out := e.mustIPMI("chassis", "bootparam", "get", "5"); !strings.Contains(out, "Force PXE") || !strings.Contains(out, "Boot Flag Valid") {
		t.Errorf("bootparam get 5 after ansible:\n%s", out)
	}
}

package ipmi

import (
	"strings"
	"testing"

	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
)

func TestBootSelectorsRoundTrip(t *testing.T) {
	seen := map[types.BootDeviceSelector]string{}
	for _, target := range platform.BootTargets() {
		sel, ok := bootSelectors[target]
		if !ok {
			t.Errorf("target %s has no selector", target)
			continue
		}
		if other, dup := seen[sel]; dup {
			t.Errorf("selector %v names both %s and %s", sel, other, target)
		}
		seen[sel] = target
		for _, enabled := range platform.BootOverrideStates() {
			for _, mode := range platform.BootModes() {
				o := platform.BootOverride{Target: target, Enabled: enabled, Mode: mode}
				back, ok := overrideFromFlags(applyOverride(types.BootOptionParam_BootFlags{}, o))
				if !ok || back != o {
					t.Errorf("%+v came back as %+v", o, back)
				}
			}
		}
	}
	for _, sel := range []types.BootDeviceSelector{0x03, 0x07, 0x08, 0x09, 0x0a, 0x0c} {
		if _, ok := overrideFromFlags(&types.BootOptionParam_BootFlags{BootFlagsValid: true, BootDeviceSelector: sel}); ok {
			t.Errorf("selector %#x accepted", sel)
		}
	}
}

// TestBootdevIpmitool drives the override the way Ironic's ipmitool driver
// does and checks that the platform, hence Redfish, sees it, and that a
// change made on the platform (as Redfish makes it) reads back in ipmitool.
func TestBootdevIpmitool(t *testing.T) {
	tool(t, "/usr/bin/ipmitool")
	b := startBMC(t)
	param5 := func() map[string]string {
		t.Helper()
		out := b.mustIpmitool(t, "chassis", "bootparam", "get", "5")
		kv := keyValues(out)
		kv["raw"] = out
		return kv
	}

	b.mustIpmitool(t, "chassis", "bootdev", "pxe", "options=efiboot")
	want := platform.BootOverride{Target: "Pxe", Enabled: "Once", Mode: "UEFI"}
	if got := b.p.Snapshot().Boot; got != want {
		t.Fatalf("platform override = %+v, want %+v", got, want)
	}
	if kv := param5(); kv["- Boot Device Selector"] != "Force PXE" || !strings.Contains(kv["raw"], "Boot Flag Valid") ||
		!strings.Contains(kv["raw"], "BIOS EFI boot") || !strings.Contains(kv["raw"], "Options apply to only next boot") {
		t.Fatalf("bootparam get 5 after bootdev pxe:\n%s", kv["raw"])
	}

	b.mustIpmitool(t, "chassis", "bootdev", "disk", "options=persistent")
	want = platform.BootOverride{Target: "Hdd", Enabled: "Continuous", Mode: "Legacy"}
	if got := b.p.Snapshot().Boot; got != want {
		t.Fatalf("platform override = %+v, want %+v", got, want)
	}

	// Set on the platform, as a Redfish PATCH does.
	if err := b.p.SetBootOverride(platform.BootOverride{Target: "Cd", Enabled: "Once", Mode: "UEFI"}); err != nil {
		t.Fatal(err)
	}
	if kv := param5(); kv["- Boot Device Selector"] != "Force Boot from CD/DVD" || !strings.Contains(kv["raw"], "Boot Flag Valid") {
		t.Fatalf("bootparam get 5 after a platform change:\n%s", kv["raw"])
	}

	// A hard reset boots the host, which consumes the Once override.
	b.mustIpmitool(t, "chassis", "power", "reset")
	if got := b.p.Snapshot().Boot; got.Enabled != "Disabled" || got.Target != "Cd" {
		t.Fatalf("after power reset: %+v", got)
	}
	if kv := param5(); !strings.Contains(kv["raw"], "Boot Flag Invalid") {
		t.Fatalf("bootparam get 5 after the override was consumed:\n%s", kv["raw"])
	}

	// Hard drive in safe mode (3h) has no target on the other surface.
	// (ipmitool's bootdev exits 0 whatever the answer, so the Set goes raw.)
	out, err := b.ipmitool(t, nil, "raw", "0x00", "0x08", "0x05", "0x80", "0x0c", "0x00", "0x00", "0x00")
	if err == nil || !strings.Contains(err.Error(), "rsp=0xcc") {
		t.Errorf("safe mode selector: %v %s", err, out)
	}
	if got := b.p.Snapshot().Boot; got.Target != "Cd" {
		t.Errorf("a refused selector changed the override: %+v", got)
	}
}

package platform

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/profile"
)

// Bad settings are all reported, and none is staged.
func TestBiosRefusesBadSettings(t *testing.T) {
	r := newRig(t, nil)
	err := r.p.SetBiosAttributes(map[string]any{
		"NoSuchThing": "x", "SystemServiceTag": "X1", "ProcHyperthreading": true, "BootMode": "Floppy",
		"PostPromptTimeout": float64(99), "AssetTag": strings.Repeat("a", 40), "AdminPassword": "pw",
		"MemoryTest": "yes", "SriovGlobalEnable": "Enabled",
	})
	var es BiosErrors
	if !errors.As(err, &es) || len(es) != 8 {
		t.Fatalf("errors %v", err)
	}
	want := map[string]error{"NoSuchThing": ErrBiosUnknown, "SystemServiceTag": ErrBiosReadOnly, "ProcHyperthreading": ErrBiosType,
		"BootMode": ErrBiosNotInList, "PostPromptTimeout": ErrBiosOutOfRange, "AssetTag": ErrBiosLength, "AdminPassword": ErrBiosPassword,
		"MemoryTest": ErrBiosType}
	for _, e := range es {
		if !errors.Is(e, want[e.Attribute]) {
			t.Errorf("%s: %v, want %v", e.Attribute, e.Err, want[e.Attribute])
		}
	}
	if b := r.p.Snapshot().Bios; len(b.Pending) != 0 || b.Current["SriovGlobalEnable"] != "Disabled" {
		t.Errorf("a refused request staged something: %+v", b.Pending)
	}
	if err := r.p.SetBiosAttributes(map[string]any{"PostPromptTimeout": 2.5}); !errors.Is(err, ErrBiosType) {
		t.Errorf("a fractional integer: %v", err)
	}
}

// Staged settings wait for the next boot, then take effect; they and the
// current ones survive a BMC restart.
func TestBiosSettingsApplyAtNextBoot(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, func(o *Options) { o.Store = NewFileInventory(filepath.Join(dir, "inventory.json")) })
	r.must(r.p.SetBiosAttributes(map[string]any{"SriovGlobalEnable": "Enabled", "PostPromptTimeout": float64(0),
		"AssetTag": "RACK-7", "MemoryRASMode": "RankSparing", "PxeDev1EnDis": "Disabled"}))
	b := r.p.Snapshot().Bios
	if b.Current["SriovGlobalEnable"] != "Disabled" || b.Pending["SriovGlobalEnable"] != "Enabled" || b.Pending["PostPromptTimeout"] != int64(0) ||
		b.Pending["MemoryRASMode"] != "RankSparing" || r.p.Snapshot().RAS.NextBoot != "RankSparing" {
		t.Fatalf("staged: %+v", b)
	}
	// The RAS mode is one setting, whichever way it is set.
	r.must(r.p.SetRASMode(""))
	if _, ok := r.p.Snapshot().Bios.Pending["MemoryRASMode"]; ok {
		t.Error("SetRASMode back to the current mode left MemoryRASMode pending")
	}
	r.must(r.p.SetRASMode("Mirroring"))
	if r.p.Snapshot().Bios.Pending["MemoryRASMode"] != "Mirroring" {
		t.Error("SetRASMode is not the BIOS attribute")
	}
	r.must(r.p.SetBootOverride(BootOverride{Target: BootTargetPxe, Enabled: BootOverrideOnce}))
	r.must(r.p.Reset(ResetForceRestart))
	h := r.until("booted", 5*time.Minute, running)
	b = r.p.Snapshot().Bios
	if len(b.Pending) != 0 || b.Current["SriovGlobalEnable"] != "Enabled" || b.Current["AssetTag"] != "RACK-7" ||
		b.Current["MemoryRASMode"] != "Mirroring" || len(b.Applied) != 4 {
		t.Errorf("after the boot: %+v", b)
	}
	if r.p.Snapshot().RAS.Requested != "Mirroring" {
		t.Errorf("RAS after the boot: %+v", r.p.Snapshot().RAS)
	}
	con := r.console()
	for _, w := range []string{"Asset Tag RACK-7", "SR-IOV enabled", "PXE boot ROM disabled"} {
		if !strings.Contains(con, w) {
			t.Errorf("console lacks %q", w)
		}
	}
	if strings.Contains(con, "DHCPDISCOVER") || len(h.Attempts) == 0 || !strings.Contains(h.Attempts[0].Outcome, "PxeDev1EnDis") {
		t.Errorf("PXE with its ROM disabled: %+v", h.Attempts)
	}
	q, err := New(profile.Default(), Options{Store: NewFileInventory(filepath.Join(dir, "inventory.json")), Clock: r.clk})
	if err != nil {
		t.Fatal(err)
	}
	if qb := q.Snapshot().Bios; qb.Current["AssetTag"] != "RACK-7" || qb.Current["PostPromptTimeout"] != int64(0) {
		t.Errorf("after a BMC restart: %+v", qb.Current)
	}
}

// Defaults are staged too; console redirection off hides POST but not the
// OS; the setup password needs the old one.
func TestBiosDefaultsRedirectionAndPassword(t *testing.T) {
	r := newRig(t, nil)
	r.must(r.p.SetBiosAttributes(map[string]any{"SerialComm": "OnNoConRedir", "BootMode": "Bios", "MemoryTest": true}))
	r.must(r.p.Reset(ResetForceRestart))
	r.until("booted", 5*time.Minute, running)
	con := r.console()
	if strings.Contains(con, "Memory training") || !strings.Contains(con, "Linux version") {
		t.Errorf("with console redirection off:\n%s", con)
	}
	if r.p.Snapshot().Host.BootDevice != "Hard Disk 0" {
		t.Errorf("legacy boot device %q", r.p.Snapshot().Host.BootDevice)
	}
	r.must(r.p.ResetBiosDefaults())
	if b := r.p.Snapshot().Bios; b.Pending["SerialComm"] != "OnConRedir" || b.Pending["BootMode"] != "Uefi" || b.Current["BootMode"] != "Bios" {
		t.Errorf("defaults staged: %+v", b)
	}
	r.must(r.p.ChangeBiosPassword("AdminPassword", "", "s3cret"))
	if err := r.p.ChangeBiosPassword("AdminPassword", "wrong", "x"); !errors.Is(err, ErrBiosBadPassword) {
		t.Errorf("wrong old password: %v", err)
	}
	r.must(r.p.ChangeBiosPassword("AdminPassword", "s3cret", ""))
	if err := r.p.ChangeBiosPassword("BootMode", "", "x"); !errors.Is(err, ErrBiosUnknown) {
		t.Errorf("not a password: %v", err)
	}
}

// Secure boot: the setting applies at the next boot, needs the platform
// key to be enforced, and refuses legacy boots while it is.
func TestSecureBoot(t *testing.T) {
	r := newRig(t, nil)
	r.must(r.p.SetSecureBootEnable(true))
	if s := r.p.Snapshot().SecureBoot; !s.Enable || s.Current || s.Mode != SecureBootUserMode {
		t.Fatalf("before the boot: %+v", s)
	}
	if err := r.p.SetBiosAttributes(map[string]any{"BootMode": "Bios"}); !errors.Is(err, ErrBiosConflict) {
		t.Errorf("legacy boot mode with secure boot on: %v", err)
	}
	r.must(r.p.SetBootOverride(BootOverride{Target: BootTargetPxe, Enabled: BootOverrideOnce, Mode: BootModeLegacy}))
	r.must(r.p.Reset(ResetForceRestart))
	h := r.until("booted", 5*time.Minute, running)
	if !r.p.Snapshot().SecureBoot.Current || len(h.Attempts) < 2 || !strings.Contains(h.Attempts[0].Outcome, "Secure Boot") {
		t.Errorf("enforced boot: %+v %+v", r.p.Snapshot().SecureBoot, h.Attempts)
	}
	if !strings.Contains(dmesgText(r.p), "secureboot: Secure boot enabled") {
		t.Error("the kernel did not see secure boot")
	}
	r.must(r.p.ResetSecureBootKeys(DeletePK))
	if s := r.p.Snapshot().SecureBoot; s.Mode != SecureBootSetupMode || s.Databases["PK"] != 0 {
		t.Errorf("after DeletePK: %+v", s)
	}
	r.must(r.p.Reset(ResetForceRestart))
	r.until("booted", 5*time.Minute, func(h HostStatus) bool { return running(h) && h.BootCount == 2 })
	if r.p.Snapshot().SecureBoot.Current || !strings.Contains(r.console(), "Setup Mode") {
		t.Error("enforced without a platform key")
	}
	if err := r.p.ResetSecureBootKeys("Nope"); !errors.Is(err, ErrUnknownKeyReset) {
		t.Errorf("unknown reset: %v", err)
	}
}

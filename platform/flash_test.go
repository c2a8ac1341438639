package platform

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/profile"
)

func TestFirmwareImages(t *testing.T) {
	good := EncodeFirmwareImage(FirmwareComponentBIOS, "2.1.0", []byte("new firmware"))
	img, err := ParseFirmwareImage(good)
	if err != nil || img.Component != "BIOS" || img.Version != "2.1.0" || img.Size != len(good) || len(img.SHA256) != 64 {
		t.Fatalf("%+v %v", img, err)
	}
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-1] ^= 0xFF
	for name, b := range map[string][]byte{"corrupt": corrupt, "truncated": good[:len(good)-3], "junk": []byte("MZ\x90\x00 not a capsule"),
		"component": func() []byte { c := append([]byte(nil), good...); c[10] = 9; return c }()} {
		if _, err := ParseFirmwareImage(b); !errors.Is(err, ErrBadImage) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A staged system firmware image is flashed by the next POST, which
// restarts the host on it; a BMC image activates when the BMC restarts.
func TestFirmwareUpdateActivation(t *testing.T) {
	dir := t.TempDir()
	store := func(o *Options) { o.Store = NewFileInventory(filepath.Join(dir, "inventory.json")) }
	r := newRig(t, store)
	old := r.p.Snapshot().Firmware.BIOS
	if _, err := r.p.StageFirmware(EncodeFirmwareImage(FirmwareComponentBIOS, old, []byte("x"))); !errors.Is(err, ErrSameVersion) {
		t.Errorf("same version: %v", err)
	}
	if _, err := r.p.StageFirmware(EncodeFirmwareImage(FirmwareComponentBIOS, "9.9.9", []byte("xyz"))[:82]); !errors.Is(err, ErrBadImage) {
		t.Errorf("bad image: %v", err)
	}
	if len(r.p.Snapshot().Firmware.Staged) != 0 {
		t.Fatal("a refused image was staged")
	}
	_, err := r.p.StageFirmware(EncodeFirmwareImage(FirmwareComponentBIOS, "2.1.0", []byte("bios")))
	r.must(err)
	_, err = r.p.StageFirmware(EncodeFirmwareImage(FirmwareComponentBMC, "3.0.1", []byte("bmc")))
	r.must(err)
	if fw := r.p.Snapshot().Firmware; fw.BIOS != old || len(fw.Staged) != 2 {
		t.Fatalf("staged: %+v", fw)
	}
	r.must(r.p.Reset(ResetForceRestart))
	h := r.until("booted on the new firmware", 5*time.Minute, func(h HostStatus) bool { return running(h) && h.BootCount == 2 })
	fw := r.p.Snapshot().Firmware
	if fw.BIOS != "2.1.0" || len(fw.Staged) != 1 || fw.Staged[0].Component != "BMC" || h.Cause != "WarmReset" {
		t.Errorf("after the update: %+v %+v", fw, h)
	}
	if v := r.p.Snapshot().Bios.Current["SystemBiosVersion"]; v != "2.1.0" || !strings.Contains(r.console(), "BIOS Version 2.1.0") {
		t.Errorf("SystemBiosVersion %v", v)
	}
	q, err := New(profile.Default(), Options{Store: NewFileInventory(filepath.Join(dir, "inventory.json")), Clock: r.clk})
	r.must(err)
	if fw := q.Snapshot().Firmware; fw.BMC != "3.0.1" || fw.BIOS != "2.1.0" || len(fw.Staged) != 0 {
		t.Errorf("after the BMC restart: %+v", fw)
	}
}

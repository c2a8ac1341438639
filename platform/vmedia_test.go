package platform

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/images"
)

func TestInspectImage(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		data                     []byte
		format                   string
		uefi, legacy, dUEFI, dMB bool
	}{
		{"both", images.ISO("IPA", true, true, 0), "iso9660", true, true, false, false},
		{"uefi", images.ISO("IPA", true, false, 0), "iso9660", true, false, false, false},
		{"bios", images.ISO("IPA", false, true, 0), "iso9660", false, true, false, false},
		{"none", images.ISO("DATA", false, false, 0), "iso9660", false, false, false, false},
		{"gpt", images.Disk(true, false, 0), "disk", false, false, true, false},
		{"mbr", images.Disk(false, true, 0), "disk", false, false, false, true},
		{"junk", []byte("not an image"), "unknown", false, false, false, false},
	} {
		r, sum := InspectImage(tc.data)
		if r.Format != tc.format || r.UEFI != tc.uefi || r.Legacy != tc.legacy || r.DiskUEFI != tc.dUEFI || r.DiskLegacy != tc.dMB || len(sum) != 64 {
			t.Errorf("%s: %+v %s", tc.name, r, sum)
		}
	}
	if r, _ := InspectImage(images.ISO("IPA", true, false, 0)); r.VolumeID != "IPA" {
		t.Errorf("volume id %q", r.VolumeID)
	}
	broken := images.ISO("X", true, true, 0)
	broken[19*2048+28]++ // the validation entry's checksum
	if r, _ := InspectImage(broken); r.UEFI || !strings.Contains(r.Detail, "checksum") {
		t.Errorf("corrupt catalog: %+v", r)
	}
}

func media(t *testing.T, data []byte, name string) MediaImage {
	t.Helper()
	rec, sum := InspectImage(data)
	return MediaImage{URL: "http://127.0.0.1/" + name, Name: name, Size: int64(len(data)), SHA256: sum, WriteProtected: true,
		TransferProtocol: "HTTP", TransferMethod: "Upload", Boot: rec}
}

// The host boots a virtual CD's UEFI image; an image without one for the
// mode is passed over for the next device.
func TestVirtualMediaBoot(t *testing.T) {
	r := newRig(t, nil)
	r.must(r.p.InsertMedia(MediaCD, media(t, images.ISO("IPA_RAMDISK", true, false, 0), "ipa.iso")))
	if err := r.p.InsertMedia(MediaCD, media(t, images.ISO("OTHER", true, false, 0), "other.iso")); !errors.Is(err, ErrMediaPresent) {
		t.Fatalf("second insert: %v", err)
	}
	r.must(r.p.SetBootOverride(BootOverride{Target: BootTargetCd, Enabled: BootOverrideOnce, Mode: BootModeUEFI}))
	r.must(r.p.Reset(ResetForceRestart))
	h := r.until("booted", 5*time.Minute, running)
	if h.BootTarget != BootTargetCd || h.BootDevice != "UEFI Virtual CD/DVD" {
		t.Errorf("booted from %s (%s)", h.BootTarget, h.BootDevice)
	}
	if con := r.console(); !strings.Contains(con, `ipa.iso (volume "IPA_RAMDISK")`) {
		t.Errorf("console:\n%s", con)
	}
	// Legacy mode finds no BIOS boot image on a UEFI-only disc.
	r.must(r.p.SetBootOverride(BootOverride{Target: BootTargetCd, Enabled: BootOverrideOnce, Mode: BootModeLegacy}))
	r.must(r.p.Reset(ResetForceRestart))
	h = r.until("booted", 5*time.Minute, func(h HostStatus) bool { return running(h) && h.BootCount == 2 })
	if h.BootTarget != BootTargetHdd || !strings.Contains(h.Attempts[0].Outcome, "no BIOS boot image") {
		t.Errorf("legacy boot of a UEFI disc: %+v", h)
	}
	// A stick boots through its partition table; ejected, nothing boots.
	r.must(r.p.InsertMedia(MediaUSB, media(t, images.Disk(true, false, 0), "stick.img")))
	r.must(r.p.SetBootOrder([]string{"Boot0003", "Boot0002"}))
	r.must(r.p.EjectMedia(MediaCD))
	r.must(r.p.EjectMedia(MediaCD)) // already empty
	r.must(r.p.Reset(ResetForceRestart))
	h = r.until("booted", 5*time.Minute, func(h HostStatus) bool { return running(h) && h.BootCount == 3 })
	if h.BootTarget != BootTargetUsb {
		t.Errorf("stick boot: %+v", h)
	}
	if err := r.p.InsertMedia("Floppy", MediaImage{}); !errors.Is(err, ErrUnknownMedia) {
		t.Errorf("unknown device: %v", err)
	}
}

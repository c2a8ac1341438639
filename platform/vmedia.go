package platform

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bmcemu/bmcemu/platform/events"
)

// Virtual media: the BMC presents an image it fetched as a USB CD/DVD
// drive and a USB stick to the host (DSP0268 VirtualMedia). The host sees
// them as its Cd and Usb boot devices; its boot manager reads the image's
// boot record the way firmware reads a disc or a stick:
//
//	CD/DVD  ISO 9660 (ECMA-119) volume descriptors from sector 16, and the
//	        El Torito boot record (sector 17) whose boot catalog lists a
//	        boot image per platform: 00h x86 BIOS, EFh UEFI
//	USB     a disk image: a GPT header ("EFI PART" at LBA 1) boots UEFI, an
//	        MBR boot signature (55h AAh at byte 510) boots legacy BIOS; a
//	        hybrid ISO has both
//
// The image is read when it is inserted, as a BMC mounting it does; the
// platform keeps what the firmware reads of it (the boot record) with its
// size and SHA-256, not the image. Media are volatile: a BMC restart
// ejects them.

// Virtual media devices, named as the boot targets that boot them.
const (
	MediaCD  = BootTargetCd
	MediaUSB = BootTargetUsb
)

var (
	// ErrMediaPresent: the device already holds an image; eject it first.
	ErrMediaPresent = errors.New("virtual media device already holds an image")
	// ErrUnknownMedia: no virtual media device by that name.
	ErrUnknownMedia = errors.New("no such virtual media device")
)

// MediaDevices lists the virtual media devices.
func MediaDevices() []string { return []string{MediaCD, MediaUSB} }

// BootRecord is what the firmware found that it can boot in an image.
type BootRecord struct {
	// Format: "iso9660", "disk" or "unknown".
	Format string `json:"format"`
	// VolumeID is an ISO's volume identifier.
	VolumeID string `json:"volume_id,omitempty"`
	// UEFI and Legacy: an El Torito boot image for that firmware mode
	// exists (a CD boots from these).
	UEFI   bool `json:"uefi"`
	Legacy bool `json:"legacy"`
	// DiskUEFI and DiskLegacy: a GPT or an MBR boot signature (a USB
	// stick boots from these).
	DiskUEFI   bool `json:"disk_uefi"`
	DiskLegacy bool `json:"disk_legacy"`
	// Detail says what was found, or why nothing bootable was.
	Detail string `json:"detail"`
}

// MediaImage is an image inserted in a virtual media device.
type MediaImage struct {
	URL              string     `json:"url"`
	Name             string     `json:"name"`
	Size             int64      `json:"size"`
	SHA256           string     `json:"sha256"`
	WriteProtected   bool       `json:"write_protected"`
	TransferProtocol string     `json:"transfer_protocol"`
	TransferMethod   string     `json:"transfer_method"`
	UserName         string     `json:"user_name,omitempty"`
	InsertedAt       time.Time  `json:"inserted_at"`
	Boot             BootRecord `json:"boot"`
}

// MediaSlot is one virtual media device and what it holds.
type MediaSlot struct {
	ID    string      `json:"id"`
	Image *MediaImage `json:"image,omitempty"`
}

const isoSector = 2048

// InspectImage reads an image as the host firmware would look for
// something to boot in it, and sums it.
func InspectImage(data []byte) (BootRecord, string) {
	sum := sha256.Sum256(data)
	return inspect(data), hex.EncodeToString(sum[:])
}

func inspect(data []byte) BootRecord {
	iso := len(data) >= 17*isoSector+isoSector && data[16*isoSector] == 1 && string(data[16*isoSector+1:16*isoSector+6]) == "CD001"
	var r BootRecord
	if iso {
		r.Format = "iso9660"
		r.VolumeID = strings.TrimRight(string(data[16*isoSector+40:16*isoSector+72]), " \x00")
		r.UEFI, r.Legacy, r.Detail = elTorito(data)
	}
	// A disk image (or a hybrid ISO's disk face).
	gpt := len(data) >= 1024 && string(data[512:520]) == "EFI PART"
	mbr := len(data) >= 512 && data[510] == 0x55 && data[511] == 0xAA
	if !iso {
		switch {
		case gpt || mbr:
			r.Format = "disk"
			r.Detail = "disk image"
		default:
			r.Format, r.Detail = "unknown", "neither an ISO 9660 image nor a disk image"
		}
	}
	r.DiskUEFI, r.DiskLegacy = gpt, mbr
	return r
}

// elTorito walks the El Torito boot record and boot catalog (El Torito
// 1.0 §2): the validation entry's platform, the default entry, and the
// section headers' platforms, each with a bootable entry.
func elTorito(data []byte) (uefi, legacy bool, detail string) {
	br := data[17*isoSector:]
	if br[0] != 0 || string(br[1:6]) != "CD001" || !bytes.HasPrefix(br[7:], []byte("EL TORITO SPECIFICATION")) {
		return false, false, "no El Torito boot record"
	}
	lba := int64(binary.LittleEndian.Uint32(br[0x47:]))
	off := lba * isoSector
	if off <= 0 || off+64 > int64(len(data)) {
		return false, false, "the El Torito boot catalog lies outside the image"
	}
	cat := data[off:min(off+isoSector, int64(len(data)))]
	if cat[0] != 1 || cat[30] != 0x55 || cat[31] != 0xAA {
		return false, false, "the El Torito validation entry is invalid"
	}
	var sum uint16
	for i := 0; i < 32; i += 2 {
		sum += binary.LittleEndian.Uint16(cat[i:])
	}
	if sum != 0 {
		return false, false, "the El Torito validation entry's checksum is wrong"
	}
	mark := func(platform byte) {
		switch platform {
		case 0x00:
			legacy = true
		case 0xEF:
			uefi = true
		}
	}
	if cat[32] == 0x88 { // the default entry is bootable
		mark(cat[1])
	}
	// Section headers (90h, the last one 91h) each name a platform and
	// how many section entries follow.
	for e := 64; e+32 <= len(cat); {
		h := cat[e]
		if h != 0x90 && h != 0x91 {
			break
		}
		platform, n := cat[e+1], int(binary.LittleEndian.Uint16(cat[e+2:]))
		e += 32
		for i := 0; i < n && e+32 <= len(cat); i, e = i+1, e+32 {
			if cat[e] == 0x88 {
				mark(platform)
			}
		}
		if h == 0x91 {
			break
		}
	}
	var modes []string
	if uefi {
		modes = append(modes, "UEFI")
	}
	if legacy {
		modes = append(modes, "BIOS")
	}
	if len(modes) == 0 {
		return false, false, "the El Torito catalog has no bootable entry"
	}
	return uefi, legacy, "El Torito boot images for " + strings.Join(modes, " and ")
}

// InsertMedia puts an image in a virtual media device. The device must be
// empty (ErrMediaPresent).
func (p *Platform) InsertMedia(device string, img MediaImage) error {
	if !slices.Contains(MediaDevices(), device) {
		return fmt.Errorf("insert media into %q: %w", device, ErrUnknownMedia)
	}
	p.opMu.Lock()
	defer p.opMu.Unlock()
	p.mu.Lock()
	if cur := p.media[device]; cur != nil {
		p.mu.Unlock()
		return fmt.Errorf("insert media into %s: %w (%s)", device, ErrMediaPresent, cur.URL)
	}
	img.InsertedAt = p.clock.Now()
	p.media[device] = &img
	p.mu.Unlock()
	p.publish(p.clock.Now(), events.VirtualMediaInserted{Device: device, Image: img.URL, Size: img.Size, SHA256: img.SHA256})
	return nil
}

// EjectMedia empties a virtual media device; an empty one stays empty.
func (p *Platform) EjectMedia(device string) error {
	if !slices.Contains(MediaDevices(), device) {
		return fmt.Errorf("eject media from %q: %w", device, ErrUnknownMedia)
	}
	p.opMu.Lock()
	defer p.opMu.Unlock()
	p.mu.Lock()
	cur := p.media[device]
	delete(p.media, device)
	p.mu.Unlock()
	if cur == nil {
		return nil
	}
	p.publish(p.clock.Now(), events.VirtualMediaEjected{Device: device, Image: cur.URL})
	return nil
}

// mediaSlotsLocked lists the devices for a snapshot. Caller holds p.mu.
func (p *Platform) mediaSlotsLocked() []MediaSlot {
	out := make([]MediaSlot, 0, len(MediaDevices()))
	for _, d := range MediaDevices() {
		s := MediaSlot{ID: d}
		if img := p.media[d]; img != nil {
			c := *img
			s.Image = &c
		}
		out = append(out, s)
	}
	return out
}

// mediaBoot boots from a virtual media device: after reading the image,
// the firmware starts its boot image for the mode it boots in, or moves on.
func (p *Platform) mediaBoot(seq uint64, target, name string, uefi bool, fail func(string)) {
	p.mu.Lock()
	img := p.media[target]
	p.mu.Unlock()
	if img == nil {
		fail("no media present")
		return
	}
	p.after(seq, p.timing().MediaRead, func() {
		b := img.Boot
		mode, ok := "UEFI", b.UEFI
		if !uefi {
			mode, ok = "BIOS", b.Legacy
		}
		if target == MediaUSB {
			// A stick boots through its partition table.
			ok = b.DiskUEFI
			if !uefi {
				ok = b.DiskLegacy
			}
		}
		if !ok {
			reason := fmt.Sprintf("%s (%s): no %s boot image: %s", img.Name, short(img.SHA256), mode, b.Detail)
			fail(reason)
			return
		}
		label := img.Name
		if b.VolumeID != "" {
			label = fmt.Sprintf("%s (volume %q)", img.Name, b.VolumeID)
		}
		p.fwPrintf("Booting %s: %s, %d bytes, sha256 %s\n", name, label, img.Size, img.SHA256)
		p.osBoot(seq, target, name)
	})
}

func short(sum string) string {
	if len(sum) > 12 {
		return "sha256 " + sum[:12]
	}
	return sum
}

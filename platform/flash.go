package platform

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bmcemu/bmcemu/platform/events"
)

// Firmware updates: the BMC takes an image, verifies it and stages it;
// the component activates it when it next starts. The system firmware
// (BIOS) is flashed by the host's next POST, which then resets the host
// so it boots the new firmware, as BIOS updates do; the BMC's own firmware
// activates when the BMC restarts (the emulator's next start). The
// versions running and the staged images are kept with the NVRAM, so an
// update survives BMC restarts.
//
// An image is a bmcemu firmware capsule:
//
//	offset  size  field
//	0       8     magic "BMCEMUFW"
//	8       2     format version, 1 (little endian)
//	10      1     component: 1 system firmware (BIOS), 2 BMC
//	11      1     reserved, 0
//	12      32    version, ASCII, NUL padded
//	44      4     payload length (little endian)
//	48      32    SHA-256 of the payload
//	80      ...   payload
//
// A real capsule (UEFI 2.10 §23 FMP) carries a signed payload; the digest
// here plays the part of the signature check: an image that does not
// verify is refused.

// Firmware components.
const (
	FirmwareComponentBIOS = "BIOS"
	FirmwareComponentBMC  = "BMC"
)

const (
	capsuleMagic  = "BMCEMUFW"
	capsuleHeader = 80
)

var (
	// ErrBadImage: the image is not a firmware capsule, or does not
	// verify; the message says how.
	ErrBadImage = errors.New("invalid firmware image")
	// ErrSameVersion: the component already runs that version.
	ErrSameVersion = errors.New("the component already runs that version")
)

// FirmwareImage is a parsed, verified capsule.
type FirmwareImage struct {
	Component string `json:"component"`
	Version   string `json:"version"`
	Size      int    `json:"size"`
	SHA256    string `json:"sha256"`
}

// EncodeFirmwareImage builds a capsule for component with version and
// payload.
func EncodeFirmwareImage(component, version string, payload []byte) []byte {
	b := make([]byte, capsuleHeader+len(payload))
	copy(b, capsuleMagic)
	binary.LittleEndian.PutUint16(b[8:], 1)
	switch component {
	case FirmwareComponentBIOS:
		b[10] = 1
	case FirmwareComponentBMC:
		b[10] = 2
	}
	copy(b[12:44], version)
	binary.LittleEndian.PutUint32(b[44:], uint32(len(payload)))
	sum := sha256.Sum256(payload)
	copy(b[48:80], sum[:])
	copy(b[80:], payload)
	return b
}

// ParseFirmwareImage verifies a capsule.
func ParseFirmwareImage(b []byte) (FirmwareImage, error) {
	if len(b) < capsuleHeader || string(b[:8]) != capsuleMagic {
		return FirmwareImage{}, fmt.Errorf("%w: not a firmware capsule (no %s signature)", ErrBadImage, capsuleMagic)
	}
	if v := binary.LittleEndian.Uint16(b[8:]); v != 1 {
		return FirmwareImage{}, fmt.Errorf("%w: capsule format %d is not supported", ErrBadImage, v)
	}
	var img FirmwareImage
	switch b[10] {
	case 1:
		img.Component = FirmwareComponentBIOS
	case 2:
		img.Component = FirmwareComponentBMC
	default:
		return FirmwareImage{}, fmt.Errorf("%w: unknown component %d", ErrBadImage, b[10])
	}
	img.Version = string(bytes.TrimRight(b[12:44], "\x00"))
	if img.Version == "" || strings.ContainsFunc(img.Version, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
		return FirmwareImage{}, fmt.Errorf("%w: the version field is not printable text", ErrBadImage)
	}
	n := int(binary.LittleEndian.Uint32(b[44:]))
	if len(b)-capsuleHeader != n {
		return FirmwareImage{}, fmt.Errorf("%w: the payload is %d bytes, the header says %d (truncated or padded)", ErrBadImage, len(b)-capsuleHeader, n)
	}
	sum := sha256.Sum256(b[capsuleHeader:])
	if !bytes.Equal(sum[:], b[48:80]) {
		return FirmwareImage{}, fmt.Errorf("%w: the payload's SHA-256 does not match the header: the image is corrupt", ErrBadImage)
	}
	img.Size = len(b)
	full := sha256.Sum256(b)
	img.SHA256 = fmt.Sprintf("%x", full)
	return img, nil
}

// FirmwareNVRAM is the firmware inventory the BMC keeps: the versions
// running once an update replaced the profile's, and the images staged.
type FirmwareNVRAM struct {
	BIOS   string          `json:"bios,omitempty"`
	BMC    string          `json:"bmc,omitempty"`
	Staged []FirmwareImage `json:"staged,omitempty"`
}

// FirmwareStatus is the firmware as a snapshot shows it.
type FirmwareStatus struct {
	BIOS   string          `json:"bios"`
	BMC    string          `json:"bmc"`
	Staged []FirmwareImage `json:"staged,omitempty"`
}

func (p *Platform) firmwareStatusLocked() FirmwareStatus {
	return FirmwareStatus{BIOS: p.biosVersionLocked(), BMC: p.bmcVersionLocked(), Staged: slices.Clone(p.firmware.Staged)}
}

func (p *Platform) bmcVersionLocked() string {
	if p.firmware.BMC != "" {
		return p.firmware.BMC
	}
	return p.prof.BMC.FirmwareVersion
}

// StageFirmware verifies an image and stages it for its component,
// replacing an image staged before for that component. It returns the
// image; an image of the version already running is refused
// (ErrSameVersion).
func (p *Platform) StageFirmware(data []byte) (FirmwareImage, error) {
	img, err := ParseFirmwareImage(data)
	if err != nil {
		return img, err
	}
	p.opMu.Lock()
	defer p.opMu.Unlock()
	p.mu.Lock()
	cur := p.firmwareStatusLocked()
	running := cur.BIOS
	if img.Component == FirmwareComponentBMC {
		running = cur.BMC
	}
	if running == img.Version {
		p.mu.Unlock()
		return img, fmt.Errorf("%s %s: %w", img.Component, img.Version, ErrSameVersion)
	}
	prev := p.firmware
	next := prev
	next.Staged = slices.DeleteFunc(slices.Clone(prev.Staged), func(s FirmwareImage) bool { return s.Component == img.Component })
	next.Staged = append(next.Staged, img)
	p.firmware = next
	mods := maps(p.saved)
	power := p.powerOn
	p.mu.Unlock()
	if err := p.save(mods, power); err != nil {
		p.mu.Lock()
		p.firmware = prev
		p.mu.Unlock()
		return img, fmt.Errorf("stage firmware: %w", err)
	}
	p.publish(p.clock.Now(), events.FirmwareStaged{Component: img.Component, Version: img.Version, SHA256: img.SHA256})
	return img, nil
}

// stagedFor is the image staged for component. Caller holds p.mu.
func (p *Platform) stagedForLocked(component string) (FirmwareImage, bool) {
	for _, s := range p.firmware.Staged {
		if s.Component == component {
			return s, true
		}
	}
	return FirmwareImage{}, false
}

// activateLocked makes a staged image the running version, and saves it.
// Caller holds opMu.
func (p *Platform) activateLocked(component string) (from, to string, ok bool) {
	p.mu.Lock()
	img, staged := p.stagedForLocked(component)
	if !staged {
		p.mu.Unlock()
		return "", "", false
	}
	prev := p.firmware
	next := prev
	next.Staged = slices.DeleteFunc(slices.Clone(prev.Staged), func(s FirmwareImage) bool { return s.Component == component })
	if component == FirmwareComponentBIOS {
		from = p.biosVersionLocked()
		next.BIOS = img.Version
	} else {
		from = p.bmcVersionLocked()
		next.BMC = img.Version
	}
	p.firmware = next
	mods := maps(p.saved)
	power := p.powerOn
	p.mu.Unlock()
	if err := p.save(mods, power); err != nil {
		p.mu.Lock()
		p.firmware = prev
		p.mu.Unlock()
		p.log.Error("firmware activation not saved", "component", component, "err", err)
		return "", "", false
	}
	p.publish(p.clock.Now(), events.FirmwareActivated{Component: component, From: from, To: img.Version})
	return from, img.Version, true
}

// flashBIOS is POST finding a staged system firmware image: it writes the
// flash and resets the host, which then boots the new firmware. It
// reports whether POST goes on (nothing to flash). Caller holds opMu.
func (p *Platform) flashBIOS(seq uint64) bool {
	p.mu.Lock()
	img, staged := p.stagedForLocked(FirmwareComponentBIOS)
	from := p.biosVersionLocked()
	p.mu.Unlock()
	if !staged {
		return true
	}
	p.fwPrintf("Updating system firmware %s -> %s (capsule sha256 %s): do not power off...\n", from, img.Version, short(img.SHA256))
	p.after(seq, p.timing().Flash, func() {
		if _, to, ok := p.activateLocked(FirmwareComponentBIOS); ok {
			p.fwPrintf("System firmware updated to %s; restarting.\n", to)
		}
		if err := p.resetLocked(events.RestartWarmReset); err != nil {
			p.log.Error("reset after the firmware update failed", "err", err)
		}
	})
	return false
}

// activateBMCFirmware is the BMC starting on a staged image of its own.
func (p *Platform) activateBMCFirmware() {
	p.activateLocked(FirmwareComponentBMC)
}

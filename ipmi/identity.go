package ipmi

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
)

// Get Device ID constants (IPMI v2.0 Table 20-2).
const (
	// ipmiVersion is BCD with the minor digit in the high nibble: 0x02 is
	// "2.0". go-ipmi's example uses 0x20, which clients print as "0.2".
	ipmiVersion = 0x02
	deviceID    = 0x20
	// providesDeviceSDRs is bit 7 of the device revision byte: Get Device
	// SDR / Reserve Device SDR Repository are implemented.
	providesDeviceSDRs = 0x80

	supportSensor        = 0x01
	supportSDRRepo       = 0x02
	supportSEL           = 0x04
	supportFRU           = 0x08
	supportEventReceiver = 0x10
	supportChassis       = 0x80
	// No IPMB event generator (0x20) or bridge (0x40): neither is
	// implemented.
	deviceSupport = supportSensor | supportSDRRepo | supportSEL | supportFRU | supportEventReceiver | supportChassis

	// manufacturerID 0 is IANA "reserved": the emulator is no vendor's BMC.
	manufacturerID = 0
	productID      = 0
)

// firmwareRevision splits "major.minor[.patch...]" into the Get Device ID
// fields: major is 7 bits, minor two BCD digits; the patch level goes to the
// first auxiliary byte so it is not lost.
func firmwareRevision(v string) (major, minorBCD, patch uint8) {
	parts := strings.FieldsFunc(v, func(r rune) bool { return r == '.' || r == '-' || r == '_' })
	num := func(i int, limit int) int {
		if i >= len(parts) {
			return 0
		}
		digits := parts[i]
		for j, r := range digits {
			if r < '0' || r > '9' {
				digits = digits[:j]
				break
			}
		}
		n, err := strconv.Atoi(digits)
		if err != nil || n < 0 {
			return 0
		}
		return min(n, limit)
	}
	mi := num(1, 99)
	return uint8(num(0, 127)), uint8(mi/10<<4 | mi%10), uint8(num(2, 255))
}

func deviceInfo(snap *platform.Snapshot) bmc.DeviceInfo {
	major, minor, patch := firmwareRevision(snap.BMC.FirmwareVersion)
	return bmc.DeviceInfo{
		DeviceID:                deviceID,
		FirmwareMajor:           major,
		FirmwareMinor:           minor,
		IPMIVersion:             ipmiVersion,
		ManufacturerID:          manufacturerID,
		ProductID:               productID,
		AuxFirmwareRev:          [4]byte{patch},
		AdditionalDeviceSupport: deviceSupport,
	}
}

// handleGetDeviceID answers from the live snapshot so the firmware version
// is whatever the platform reports now. go-ipmi's own handler sends no
// auxiliary revision and derives the support bits from storage probing.
func handleGetDeviceID(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 0 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		info := deviceInfo(m.p.Snapshot())
		resp := make([]byte, 15)
		resp[0] = info.DeviceID
		resp[1] = providesDeviceSDRs | info.DeviceRevision&0x0f
		resp[2] = info.FirmwareMajor & 0x7f // bit 7 clear: device available
		resp[3] = info.FirmwareMinor
		resp[4] = info.IPMIVersion
		resp[5] = info.AdditionalDeviceSupport
		resp[6] = byte(info.ManufacturerID)
		resp[7] = byte(info.ManufacturerID >> 8)
		resp[8] = byte(info.ManufacturerID >> 16)
		binary.LittleEndian.PutUint16(resp[9:11], info.ProductID)
		copy(resp[11:15], info.AuxFirmwareRev[:])
		return resp, types.CodeOK, nil
	}
}

// guidNamespace roots the name-based GUIDs of every bmcemu server, so the
// same serial number always yields the same GUIDs, across restarts and hosts.
var guidNamespace = [16]byte{0x6b, 0x2f, 0x1c, 0x4e, 0x93, 0xa1, 0x4d, 0x0b, 0x8e, 0x55, 0x27, 0xd0, 0x3c, 0x91, 0xf4, 0x6a}

// nameGUID is an RFC 4122 version-5 UUID in wire order. The IPMI spec
// (v2.0 §20.8) sends GUIDs least-significant byte first, i.e. the RFC 4122
// byte string reversed.
func nameGUID(name string) [16]byte {
	h := sha1.New()
	h.Write(guidNamespace[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	var wire [16]byte
	for i := range u {
		wire[i] = u[15-i]
	}
	return wire
}

// systemGUID identifies the managed host (Get System GUID, what `ipmitool mc
// guid` prints); deviceGUID identifies the BMC itself and feeds RAKP.
func systemGUID(snap *platform.Snapshot) [16]byte {
	return nameGUID("system:" + snap.System.SerialNumber)
}

func deviceGUID(snap *platform.Snapshot) [16]byte {
	return nameGUID("bmc:" + snap.System.SerialNumber)
}

func handleGUID(m *machine, guid func(*platform.Snapshot) [16]byte) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 0 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		g := guid(m.p.Snapshot())
		return g[:], types.CodeOK, nil
	}
}

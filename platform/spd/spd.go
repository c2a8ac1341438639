// Package spd encodes and decodes Serial Presence Detect EEPROM images the way
// a memory module carries them (JEDEC JESD400-5 for DDR5, JESD21-C 4.1.2.L for
// DDR4). The SMC reads these bytes at insertion time; everything else in the
// emulator (Redfish Memory, IPMI FRU) is derived from the decoded fields, so a
// corrupted image is caught here exactly as firmware would catch it: by CRC.
package spd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// DeviceType is the DRAM generation in SPD byte 2.
type DeviceType string

const (
	DDR4 DeviceType = "DDR4"
	DDR5 DeviceType = "DDR5"
)

// ModuleType is the base module type in SPD byte 3, bits 3:0.
type ModuleType string

const (
	RDIMM  ModuleType = "RDIMM"
	UDIMM  ModuleType = "UDIMM"
	SODIMM ModuleType = "SO_DIMM"
	LRDIMM ModuleType = "LRDIMM"
)

// Module is the decoded content of an SPD image: what the SMC learns about a
// DIMM before it powers the slot.
type Module struct {
	Type           DeviceType `json:"type"`
	BaseModule     ModuleType `json:"base_module"`
	CapacityMiB    uint64     `json:"capacity_mib"`
	Ranks          int        `json:"ranks"`
	DeviceWidth    int        `json:"device_width"`    // SDRAM I/O width: 4, 8 or 16
	DataWidthBits  int        `json:"data_width_bits"` // primary bus width per module
	BusWidthBits   int        `json:"bus_width_bits"`  // data + ECC
	SpeedMTs       int        `json:"speed_mts"`
	VoltageMV      int        `json:"voltage_mv"`
	ManufacturerID uint16     `json:"manufacturer_id"` // JEP-106: continuation count<<8 | code
	Manufacturer   string     `json:"manufacturer"`
	PartNumber     string     `json:"part_number"`
	SerialNumber   string     `json:"serial_number"` // 8 hex digits, as dmidecode prints it
	ManufactureYW  uint16     `json:"manufacture_year_week"`
	// CRC is the checksum stored in the image (bytes 510-511 on DDR5, 126-127 on DDR4).
	CRC uint16 `json:"crc"`
}

// ECC reports whether the module carries ECC bits beyond its data width.
func (m Module) ECC() bool { return m.BusWidthBits > m.DataWidthBits }

// Errors returned by Decode; the SMC maps them to a configuration error.
var (
	ErrTruncated   = errors.New("spd: image truncated")
	ErrCRC         = errors.New("spd: CRC mismatch")
	ErrUnsupported = errors.New("spd: unsupported field value")
)

// Sizes of the EEPROM images.
const (
	DDR5Size = 1024
	DDR4Size = 512
)

// JEP-106 codes for the manufacturers the default profiles use. Bank 1 has no
// continuation bytes; the SPD stores the count with odd parity in bit 7.
var manufacturers = []struct {
	id   uint16
	name string
}{
	{0x00CE, "Samsung"},
	{0x00AD, "SK hynix"},
	{0x002C, "Micron Technology"},
	{0x0198, "Kingston"},
	{0x0194, "Smart Modular"},
}

// ManufacturerByName resolves a manufacturer name (case-insensitive prefix) to
// its JEP-106 code.
func ManufacturerByName(name string) (uint16, string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, m := range manufacturers {
		if strings.HasPrefix(strings.ToLower(m.name), n) && n != "" {
			return m.id, m.name, nil
		}
	}
	known := make([]string, len(manufacturers))
	for i, m := range manufacturers {
		known[i] = m.name
	}
	return 0, "", fmt.Errorf("%w: unknown manufacturer %q (known: %s)", ErrUnsupported, name, strings.Join(known, ", "))
}

func manufacturerName(id uint16) string {
	for _, m := range manufacturers {
		if m.id == id {
			return m.name
		}
	}
	return fmt.Sprintf("JEDEC 0x%04X", id)
}

// oddParity sets bit 7 so the byte has an odd number of ones (JEP-106).
func oddParity(b byte) byte {
	b &= 0x7f
	ones := 0
	for i := 0; i < 7; i++ {
		if b&(1<<i) != 0 {
			ones++
		}
	}
	if ones%2 == 0 {
		b |= 0x80
	}
	return b
}

// densityCodes maps SPD density codes to per-die gigabits for DDR5 (byte 4 bits 4:0).
var ddr5Density = map[byte]int{1: 4, 2: 8, 3: 12, 4: 16, 5: 24, 6: 32, 7: 48, 8: 64}

// ddr4Density is SPD byte 4 bits 3:0 for DDR4.
var ddr4Density = map[byte]int{4: 4, 5: 8, 6: 16, 7: 32, 8: 12, 9: 24}

func codeFor(table map[byte]int, gbit int) (byte, bool) {
	for c, v := range table {
		if v == gbit {
			return c, true
		}
	}
	return 0, false
}

// speedGrades are JEDEC data rates; decoding snaps tCK to the nearest grade
// because the SPD stores a rounded-down picosecond period.
var speedGrades = []int{1600, 1866, 2133, 2400, 2666, 2933, 3200, 3600, 4000, 4400, 4800, 5200, 5600, 6000, 6400, 6800, 7200, 7600, 8000, 8400, 8800}

func snapSpeed(tckPS int) int {
	if tckPS <= 0 {
		return 0
	}
	raw := 2_000_000.0 / float64(tckPS)
	best, bestDiff := 0, math.MaxFloat64
	for _, g := range speedGrades {
		if d := math.Abs(float64(g) - raw); d < bestDiff {
			best, bestDiff = g, d
		}
	}
	return best
}

func tckFor(speed int) int { return 2_000_000 / speed }

// CRC16 is the JEDEC SPD checksum: CRC-16/XMODEM (poly 0x1021, init 0).
func CRC16(data []byte) uint16 {
	var crc uint16
	for _, b := range data {
		crc ^= uint16(b) << 8
		for i := 0; i < 8; i++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// Spec is what a caller asks for when it builds a module; Encode fills in the
// organisation (die density, width) that yields the capacity.
type Spec struct {
	Type          DeviceType
	BaseModule    ModuleType
	CapacityGiB   int
	Ranks         int
	SpeedMTs      int
	Manufacturer  string
	PartNumber    string
	SerialNumber  uint32
	ManufactureYW uint16 // BCD year<<8 | BCD week, e.g. 0x2514
}

// Encode builds the EEPROM image for spec with a valid CRC.
func Encode(s Spec) ([]byte, error) {
	if s.Ranks < 1 || s.Ranks > 8 {
		return nil, fmt.Errorf("%w: ranks %d (want 1..8)", ErrUnsupported, s.Ranks)
	}
	if s.CapacityGiB <= 0 {
		return nil, fmt.Errorf("%w: capacity %d GiB (want > 0)", ErrUnsupported, s.CapacityGiB)
	}
	if s.SpeedMTs <= 0 {
		return nil, fmt.Errorf("%w: speed %d MT/s (want > 0)", ErrUnsupported, s.SpeedMTs)
	}
	mfr, _, err := ManufacturerByName(s.Manufacturer)
	if err != nil {
		return nil, err
	}
	if len(s.PartNumber) > 30 {
		return nil, fmt.Errorf("%w: part number %q longer than 30 characters", ErrUnsupported, s.PartNumber)
	}
	for _, r := range s.PartNumber {
		if r < 0x20 || r > 0x7e {
			return nil, fmt.Errorf("%w: part number %q is not printable ASCII", ErrUnsupported, s.PartNumber)
		}
	}
	switch s.Type {
	case DDR5:
		return encodeDDR5(s, mfr)
	case DDR4:
		return encodeDDR4(s, mfr)
	default:
		return nil, fmt.Errorf("%w: device type %q (want DDR4 or DDR5)", ErrUnsupported, s.Type)
	}
}

func moduleTypeCode(t ModuleType) (byte, error) {
	switch t {
	case RDIMM:
		return 0x1, nil
	case UDIMM:
		return 0x2, nil
	case SODIMM:
		return 0x3, nil
	case LRDIMM:
		return 0x4, nil
	}
	return 0, fmt.Errorf("%w: module type %q (want RDIMM, UDIMM, SO_DIMM or LRDIMM)", ErrUnsupported, t)
}

func moduleTypeFromCode(c byte) (ModuleType, error) {
	switch c & 0x0f {
	case 0x1:
		return RDIMM, nil
	case 0x2:
		return UDIMM, nil
	case 0x3:
		return SODIMM, nil
	case 0x4:
		return LRDIMM, nil
	}
	return "", fmt.Errorf("%w: module type code 0x%x", ErrUnsupported, c&0x0f)
}

func widthCode(w int) byte {
	switch w {
	case 8:
		return 1
	case 16:
		return 2
	}
	return 0
}

// organise picks an SDRAM width and die density that give capacityGiB given
// how many dies sit on the data bus: capacity = (busBits/width) * gbit/8 * ranks.
func organise(table map[byte]int, capacityGiB, ranks, busBits int) (width int, gbit int, code byte, err error) {
	for _, w := range []int{4, 8, 16} {
		dies := busBits / w
		num := capacityGiB * 8
		den := dies * ranks
		if num%den != 0 {
			continue
		}
		g := num / den
		if c, ok := codeFor(table, g); ok {
			return w, g, c, nil
		}
	}
	return 0, 0, 0, fmt.Errorf("%w: no JEDEC organisation gives %d GiB with %d rank(s)", ErrUnsupported, capacityGiB, ranks)
}

func putSerial(b []byte, serial uint32) { binary.BigEndian.PutUint32(b, serial) }

func putPart(b []byte, part string) {
	for i := range b {
		b[i] = ' '
	}
	copy(b, part)
}

func encodeDDR5(s Spec, mfr uint16) ([]byte, error) {
	mt, err := moduleTypeCode(s.BaseModule)
	if err != nil {
		return nil, err
	}
	// Two 32-bit subchannels per DIMM: 64 data bits on the bus.
	w, _, dc, err := organise(ddr5Density, s.CapacityGiB, s.Ranks, 64)
	if err != nil {
		return nil, err
	}
	b := make([]byte, DDR5Size)
	b[0] = 0x30 // 1024-byte SPD device
	b[1] = 0x10 // SPD revision 1.0
	b[2] = 0x12 // DDR5 SDRAM
	b[3] = mt
	b[4] = dc // monolithic, density code
	b[6] = widthCode(w) << 5
	binary.LittleEndian.PutUint16(b[20:], uint16(tckFor(s.SpeedMTs)))
	b[16] = 0 // VDD nominal 1.1 V (code 0)
	b[234] = byte(s.Ranks-1) << 3
	b[235] = 1<<5 | 1<<3 | 2 // 2 subchannels, 4-bit ECC each, 32-bit primary bus
	b[512] = oddParity(byte(mfr >> 8))
	b[513] = byte(mfr)
	binary.BigEndian.PutUint16(b[515:], s.ManufactureYW)
	putSerial(b[517:521], s.SerialNumber)
	putPart(b[521:551], s.PartNumber)
	binary.LittleEndian.PutUint16(b[510:], CRC16(b[:510]))
	return b, nil
}

func encodeDDR4(s Spec, mfr uint16) ([]byte, error) {
	mt, err := moduleTypeCode(s.BaseModule)
	if err != nil {
		return nil, err
	}
	if len(s.PartNumber) > 20 {
		return nil, fmt.Errorf("%w: DDR4 part number %q longer than 20 characters", ErrUnsupported, s.PartNumber)
	}
	w, _, dc, err := organise(ddr4Density, s.CapacityGiB, s.Ranks, 64)
	if err != nil {
		return nil, err
	}
	b := make([]byte, DDR4Size)
	b[0] = 0x23 // 384 bytes used, 512 total
	b[1] = 0x11 // SPD revision 1.1
	b[2] = 0x0C // DDR4 SDRAM
	b[3] = mt
	b[4] = dc
	b[11] = 0x03 // 1.2 V operable and endurant
	tck := tckFor(s.SpeedMTs)
	mtb := (tck + 124) / 125
	b[18] = byte(mtb)
	b[125] = byte(int8(tck - mtb*125))
	b[12] = byte(s.Ranks-1)<<3 | byte(widthCode(w))
	b[13] = 0x08 | 0x03 // 8-bit ECC extension, 64-bit primary bus
	binary.LittleEndian.PutUint16(b[126:], CRC16(b[:126]))
	b[320] = oddParity(byte(mfr >> 8))
	b[321] = byte(mfr)
	binary.BigEndian.PutUint16(b[323:], s.ManufactureYW)
	putSerial(b[325:329], s.SerialNumber)
	putPart(b[329:349], s.PartNumber)
	// The manufacturing block has its own CRC in real parts only for DDR5;
	// DDR4 protects bytes 0-125 and 128-253, which is all we populate.
	binary.LittleEndian.PutUint16(b[254:], CRC16(b[128:254]))
	return b, nil
}

// Decode parses and verifies an SPD image. A CRC mismatch is an error: the
// SMC refuses a module whose configuration bytes cannot be trusted.
func Decode(b []byte) (Module, error) {
	if len(b) < 3 {
		return Module{}, fmt.Errorf("%w: %d bytes", ErrTruncated, len(b))
	}
	switch b[2] {
	case 0x12:
		return decodeDDR5(b)
	case 0x0C:
		return decodeDDR4(b)
	}
	return Module{}, fmt.Errorf("%w: DRAM type byte 0x%02x", ErrUnsupported, b[2])
}

func decodeMfr(cont, code byte) uint16 { return uint16(cont&0x7f)<<8 | uint16(code) }

func trimPart(b []byte) string { return strings.TrimRight(string(b), " \x00") }

func busWidth(code byte) (int, error) {
	switch code & 0x07 {
	case 0:
		return 8, nil
	case 1:
		return 16, nil
	case 2:
		return 32, nil
	case 3:
		return 64, nil
	}
	return 0, fmt.Errorf("%w: bus width code %d", ErrUnsupported, code&7)
}

func decodeDDR5(b []byte) (Module, error) {
	if len(b) < DDR5Size {
		return Module{}, fmt.Errorf("%w: DDR5 image is %d bytes, want %d", ErrTruncated, len(b), DDR5Size)
	}
	stored := binary.LittleEndian.Uint16(b[510:])
	if got := CRC16(b[:510]); got != stored {
		return Module{}, fmt.Errorf("%w: bytes 0-509 compute 0x%04X, image stores 0x%04X", ErrCRC, got, stored)
	}
	mt, err := moduleTypeFromCode(b[3])
	if err != nil {
		return Module{}, err
	}
	gbit, ok := ddr5Density[b[4]&0x1f]
	if !ok {
		return Module{}, fmt.Errorf("%w: DDR5 density code 0x%02x", ErrUnsupported, b[4]&0x1f)
	}
	width := 4 << (b[6] >> 5 & 0x3)
	ranks := int(b[234]>>3&0x7) + 1
	sub := int(b[235]>>5&0x3) + 1
	primary, err := busWidth(b[235])
	if err != nil {
		return Module{}, err
	}
	ecc := []int{0, 4, 8, 0}[b[235]>>3&0x3]
	data := sub * primary
	capMiB := uint64(data/width) * uint64(gbit) * 1024 / 8 * uint64(ranks)
	mfr := decodeMfr(b[512], b[513])
	return Module{
		Type:           DDR5,
		BaseModule:     mt,
		CapacityMiB:    capMiB,
		Ranks:          ranks,
		DeviceWidth:    width,
		DataWidthBits:  data,
		BusWidthBits:   data + sub*ecc,
		SpeedMTs:       snapSpeed(int(binary.LittleEndian.Uint16(b[20:]))),
		VoltageMV:      1100,
		ManufacturerID: mfr,
		Manufacturer:   manufacturerName(mfr),
		PartNumber:     trimPart(b[521:551]),
		SerialNumber:   fmt.Sprintf("%08X", binary.BigEndian.Uint32(b[517:521])),
		ManufactureYW:  binary.BigEndian.Uint16(b[515:]),
		CRC:            stored,
	}, nil
}

func decodeDDR4(b []byte) (Module, error) {
	if len(b) < DDR4Size {
		return Module{}, fmt.Errorf("%w: DDR4 image is %d bytes, want %d", ErrTruncated, len(b), DDR4Size)
	}
	stored := binary.LittleEndian.Uint16(b[126:])
	if got := CRC16(b[:126]); got != stored {
		return Module{}, fmt.Errorf("%w: bytes 0-125 compute 0x%04X, image stores 0x%04X", ErrCRC, got, stored)
	}
	if got, want := CRC16(b[128:254]), binary.LittleEndian.Uint16(b[254:]); got != want {
		return Module{}, fmt.Errorf("%w: bytes 128-253 compute 0x%04X, image stores 0x%04X", ErrCRC, got, want)
	}
	mt, err := moduleTypeFromCode(b[3])
	if err != nil {
		return Module{}, err
	}
	gbit, ok := ddr4Density[b[4]&0x0f]
	if !ok {
		return Module{}, fmt.Errorf("%w: DDR4 density code 0x%02x", ErrUnsupported, b[4]&0x0f)
	}
	width := 4 << (b[12] & 0x3)
	ranks := int(b[12]>>3&0x7) + 1
	primary, err := busWidth(b[13])
	if err != nil {
		return Module{}, err
	}
	ecc := 0
	if b[13]>>3&0x3 == 1 {
		ecc = 8
	}
	tck := int(b[18])*125 + int(int8(b[125]))
	mfr := decodeMfr(b[320], b[321])
	return Module{
		Type:           DDR4,
		BaseModule:     mt,
		CapacityMiB:    uint64(primary/width) * uint64(gbit) * 1024 / 8 * uint64(ranks),
		Ranks:          ranks,
		DeviceWidth:    width,
		DataWidthBits:  primary,
		BusWidthBits:   primary + ecc,
		SpeedMTs:       snapSpeed(tck),
		VoltageMV:      1200,
		ManufacturerID: mfr,
		Manufacturer:   manufacturerName(mfr),
		PartNumber:     trimPart(b[329:349]),
		SerialNumber:   fmt.Sprintf("%08X", binary.BigEndian.Uint32(b[325:329])),
		ManufactureYW:  binary.BigEndian.Uint16(b[323:]),
		CRC:            stored,
	}, nil
}

package cxl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

// The Coherent Device Attribute Table (CDAT spec 1.04) is the device's own
// description of its memory: which DPA ranges it has (DSMAS), how fast they
// are from the device's port (DSLBIS) and how the EFI memory map should type
// them (DSEMTS). The host reads it over the DOE mailbox (doe.go) and Linux's
// drivers/cxl/core/cdat.c combines it with the platform's SRAT/HMAT Generic
// Port numbers. Unlike an ACPI table it has its own 16-byte header.

// ErrCDAT is returned for a malformed CDAT image.
var ErrCDAT = errors.New("cdat: malformed table")

// CDATRevision is the header revision of CDAT 1.0x.
const CDATRevision uint8 = 1

// CDAT structure types (CDAT 1.04 Table 1).
const (
	TypeDSMAS   uint8 = 0
	TypeDSLBIS  uint8 = 1
	TypeDSMSCIS uint8 = 2
	TypeDSIS    uint8 = 3
	TypeDSEMTS  uint8 = 4
	TypeSSLBIS  uint8 = 5
)

// DSMAS flags (CDAT 1.04 Table 3; Linux ACPI_CDAT_DSMAS_*).
const (
	DSMASNonVolatile uint8 = 1 << 2
	DSMASShareable   uint8 = 1 << 3
	DSMASReadOnly    uint8 = 1 << 6
)

// DSLBIS data types are those of an HMAT locality structure.
const (
	AccessLatency   uint8 = 0
	ReadLatency     uint8 = 1
	WriteLatency    uint8 = 2
	AccessBandwidth uint8 = 3
	ReadBandwidth   uint8 = 4
	WriteBandwidth  uint8 = 5
)

// DSEMTS memory types (CDAT 1.04 Table 7): how firmware should describe the
// range in the EFI memory map.
const (
	EfiConventionalMemory uint8 = 0
	EfiMemorySP           uint8 = 1 // EfiConventionalMemory with EFI_MEMORY_SP (soft reserved)
	EfiReservedMemoryType uint8 = 2
)

// DSMAS is a Device Scoped Memory Affinity Structure (type 0, 24 bytes).
type DSMAS struct {
	Handle    uint8  `json:"handle"`
	Flags     uint8  `json:"flags"`
	DPABase   uint64 `json:"dpa_base"`
	DPALength uint64 `json:"dpa_length"`
}

// DSLBIS is a Device Scoped Latency and Bandwidth Information Structure
// (type 1, 24 bytes). Latency is Entry*BaseUnit picoseconds, bandwidth
// Entry*BaseUnit MB/s; Linux reads only Entries[0] (the device's own port).
type DSLBIS struct {
	Handle   uint8     `json:"handle"`
	Flags    uint8     `json:"flags"` // as HMAT locality flags; bits 3:0 memory hierarchy (0 = memory)
	DataType uint8     `json:"data_type"`
	BaseUnit uint64    `json:"base_unit"`
	Entries  [3]uint16 `json:"entries"`
}

// DSEMTS is a Device Scoped EFI Memory Type Structure (type 4, 24 bytes).
type DSEMTS struct {
	Handle     uint8  `json:"handle"`
	MemoryType uint8  `json:"memory_type"`
	DPAOffset  uint64 `json:"dpa_offset"`
	DPALength  uint64 `json:"dpa_length"`
}

// CDAT is a decoded Coherent Device Attribute Table.
type CDAT struct {
	Revision uint8    `json:"revision"`
	Sequence uint32   `json:"sequence"`
	DSMAS    []DSMAS  `json:"dsmas"`
	DSLBIS   []DSLBIS `json:"dslbis"`
	DSEMTS   []DSEMTS `json:"dsemts"`
	Unknown  int      `json:"unknown,omitempty"`
}

const (
	cdatHeaderLen = 16
	structLen     = 24 // DSMAS, DSLBIS and DSEMTS are all 24 bytes
)

// Encode renders the table: header, then DSMAS, DSLBIS and DSEMTS
// structures in that order, checksummed so all bytes sum to zero.
func (c *CDAT) Encode() []byte {
	b := make([]byte, cdatHeaderLen, cdatHeaderLen+structLen*(len(c.DSMAS)+len(c.DSLBIS)+len(c.DSEMTS)))
	b[4] = c.Revision
	binary.LittleEndian.PutUint32(b[12:], c.Sequence)
	put := func(typ uint8) []byte {
		e := make([]byte, structLen)
		e[0] = typ
		binary.LittleEndian.PutUint16(e[2:], structLen)
		return e
	}
	for _, d := range c.DSMAS {
		e := put(TypeDSMAS)
		e[4], e[5] = d.Handle, d.Flags
		binary.LittleEndian.PutUint64(e[8:], d.DPABase)
		binary.LittleEndian.PutUint64(e[16:], d.DPALength)
		b = append(b, e...)
	}
	for _, d := range c.DSLBIS {
		e := put(TypeDSLBIS)
		e[4], e[5], e[6] = d.Handle, d.Flags, d.DataType
		binary.LittleEndian.PutUint64(e[8:], d.BaseUnit)
		for i, v := range d.Entries {
			binary.LittleEndian.PutUint16(e[16+2*i:], v)
		}
		b = append(b, e...)
	}
	for _, d := range c.DSEMTS {
		e := put(TypeDSEMTS)
		e[4], e[5] = d.Handle, d.MemoryType
		binary.LittleEndian.PutUint64(e[8:], d.DPAOffset)
		binary.LittleEndian.PutUint64(e[16:], d.DPALength)
		b = append(b, e...)
	}
	binary.LittleEndian.PutUint32(b[0:], uint32(len(b)))
	var sum byte
	for _, v := range b {
		sum += v
	}
	b[5] = -sum
	return b
}

// checkHeader validates the CDAT header's length and checksum and returns
// the table cut to its stated length.
func checkHeader(b []byte) ([]byte, error) {
	if len(b) < cdatHeaderLen {
		return nil, fmt.Errorf("%w: %d bytes, header needs %d", ErrCDAT, len(b), cdatHeaderLen)
	}
	n := binary.LittleEndian.Uint32(b)
	if n < cdatHeaderLen || uint64(n) > uint64(len(b)) {
		return nil, fmt.Errorf("%w: header Length %d with %d bytes present", ErrCDAT, n, len(b))
	}
	b = b[:n]
	var sum byte
	for _, v := range b {
		sum += v
	}
	if sum != 0 {
		return nil, fmt.Errorf("%w: CDAT checksum mismatch (bytes sum to 0x%02X)", ErrCDAT, sum)
	}
	return b, nil
}

// structures walks the common structure headers (Type(1) Reserved(1)
// Length(2)) after the CDAT header.
func structures(b []byte, fn func(off int, e []byte) error) error {
	for off := cdatHeaderLen; off < len(b); {
		if len(b)-off < 4 {
			return fmt.Errorf("%w: truncated structure header at 0x%X", ErrCDAT, off)
		}
		n := int(binary.LittleEndian.Uint16(b[off+2:]))
		if n < 4 || off+n > len(b) {
			return fmt.Errorf("%w: structure type %d at 0x%X has Length %d (%d bytes left)", ErrCDAT, b[off], off, n, len(b)-off)
		}
		if err := fn(off, b[off:off+n]); err != nil {
			return err
		}
		off += n
	}
	return nil
}

var typeNames = map[uint8]string{TypeDSMAS: "DSMAS", TypeDSLBIS: "DSLBIS", TypeDSMSCIS: "DSMSCIS", TypeDSIS: "DSIS",
	TypeDSEMTS: "DSEMTS", TypeSSLBIS: "SSLBIS"}

// DecodeCDAT parses a CDAT image. Like Linux's cdat_dsmas_handler() and
// cdat_dslbis_handler(), a DSMAS, DSLBIS or DSEMTS of any length but 24 is
// malformed; other structure types are counted in Unknown.
func DecodeCDAT(b []byte) (*CDAT, error) {
	b, err := checkHeader(b)
	if err != nil {
		return nil, err
	}
	c := &CDAT{Revision: b[4], Sequence: binary.LittleEndian.Uint32(b[12:])}
	err = structures(b, func(off int, e []byte) error {
		switch e[0] {
		case TypeDSMAS, TypeDSLBIS, TypeDSEMTS:
			if len(e) != structLen {
				return fmt.Errorf("%w: %s at 0x%X has Length %d, want %d", ErrCDAT, typeNames[e[0]], off, len(e), structLen)
			}
		}
		switch e[0] {
		case TypeDSMAS:
			c.DSMAS = append(c.DSMAS, DSMAS{Handle: e[4], Flags: e[5], DPABase: binary.LittleEndian.Uint64(e[8:]),
				DPALength: binary.LittleEndian.Uint64(e[16:])})
		case TypeDSLBIS:
			d := DSLBIS{Handle: e[4], Flags: e[5], DataType: e[6], BaseUnit: binary.LittleEndian.Uint64(e[8:])}
			for i := range d.Entries {
				d.Entries[i] = binary.LittleEndian.Uint16(e[16+2*i:])
			}
			c.DSLBIS = append(c.DSLBIS, d)
		case TypeDSEMTS:
			c.DSEMTS = append(c.DSEMTS, DSEMTS{Handle: e[4], MemoryType: e[5], DPAOffset: binary.LittleEndian.Uint64(e[8:]),
				DPALength: binary.LittleEndian.Uint64(e[16:])})
		default:
			c.Unknown++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// perf is Linux's cdat_dslbis_handler() lookup: the memory-hierarchy DSLBIS
// of this data type for a handle that names a DSMAS, Entries[0]*BaseUnit.
// A product that overflows 64 bits is reported as absent, not wrapped.
func (c *CDAT) perf(handle, dataType uint8) (uint64, bool) {
	known := false
	for _, d := range c.DSMAS {
		known = known || d.Handle == handle
	}
	if !known {
		return 0, false
	}
	for _, d := range c.DSLBIS {
		if d.Handle != handle || d.DataType != dataType || d.Flags&0xF != 0 {
			continue
		}
		hi, lo := bits.Mul64(uint64(d.Entries[0]), d.BaseUnit)
		if hi != 0 {
			return 0, false
		}
		return lo, true
	}
	return 0, false
}

// Latency is the DSLBIS latency (AccessLatency, ReadLatency or WriteLatency)
// of the DSMAS range with this handle, in picoseconds.
func (c *CDAT) Latency(handle uint8, dataType uint8) (ps uint64, ok bool) {
	if dataType > WriteLatency {
		return 0, false
	}
	return c.perf(handle, dataType)
}

// Bandwidth is the DSLBIS bandwidth (AccessBandwidth, ReadBandwidth or
// WriteBandwidth) of the DSMAS range with this handle, in MB/s.
func (c *CDAT) Bandwidth(handle uint8, dataType uint8) (mbps uint64, ok bool) {
	if dataType < AccessBandwidth || dataType > WriteBandwidth {
		return 0, false
	}
	return c.perf(handle, dataType)
}

// listing prints iasl-style lines, `[off hex, off dec, size] name : value`,
// in the same columns as the firmware package's ACPI disassembly.
type listing struct{ strings.Builder }

func (l *listing) field(off, size int, name, value string) {
	fmt.Fprintf(&l.Builder, "[%03Xh %04d %3d] %28s : %s\n", off, off, size, name, value)
}

func (l *listing) flag(name string, v uint8) {
	fmt.Fprintf(&l.Builder, "%45s : %d\n", name, v)
}

var dataTypeNames = []string{"Access Latency", "Read Latency", "Write Latency", "Access Bandwidth", "Read Bandwidth", "Write Bandwidth"}

var memoryTypeNames = []string{"EfiConventionalMemory", "EfiConventionalMemory, EFI_MEMORY_SP", "EfiReservedMemoryType"}

// DisassembleCDAT renders a CDAT image the way `iasl -d` (20221020 and
// later) does.
func DisassembleCDAT(b []byte) (string, error) {
	c, err := DecodeCDAT(b)
	if err != nil {
		return "", err
	}
	b = b[:binary.LittleEndian.Uint32(b)]
	var l listing
	l.field(0, 4, "CDAT Table Length", fmt.Sprintf("%08X", len(b)))
	l.field(4, 1, "Revision", fmt.Sprintf("%02X", c.Revision))
	l.field(5, 1, "Checksum", fmt.Sprintf("%02X", b[5]))
	l.field(6, 6, "Reserved", fmt.Sprintf("% X", b[6:12]))
	l.field(12, 4, "Sequence", fmt.Sprintf("%08X", c.Sequence))
	u64 := func(e []byte, o int) string { return fmt.Sprintf("%016X", binary.LittleEndian.Uint64(e[o:])) }
	err = structures(b, func(off int, e []byte) error {
		l.WriteString("\n")
		switch e[0] {
		case TypeDSMAS:
			l.field(off, 1, "Subtable Type", "00 [Device Scoped Memory Affinity Structure]")
			l.field(off+1, 1, "Reserved", fmt.Sprintf("%02X", e[1]))
			l.field(off+2, 2, "Length", fmt.Sprintf("%04X", len(e)))
			l.field(off+4, 1, "DSMAD Handle", fmt.Sprintf("%02X", e[4]))
			l.field(off+5, 1, "Flags (decoded below)", fmt.Sprintf("%02X", e[5]))
			l.flag("Non-Volatile", e[5]>>2&1)
			l.flag("Shareable", e[5]>>3&1)
			l.flag("Read-Only", e[5]>>6&1)
			l.field(off+6, 2, "Reserved", fmt.Sprintf("%04X", binary.LittleEndian.Uint16(e[6:])))
			l.field(off+8, 8, "DPA Base Address", u64(e, 8))
			l.field(off+16, 8, "DPA Address Length", u64(e, 16))
		case TypeDSLBIS:
			dt := fmt.Sprintf("%02X", e[6])
			if int(e[6]) < len(dataTypeNames) {
				dt += " [" + dataTypeNames[e[6]] + "]"
			}
			l.field(off, 1, "Subtable Type", "01 [Device Scoped Latency and Bandwidth Information Structure]")
			l.field(off+1, 1, "Reserved", fmt.Sprintf("%02X", e[1]))
			l.field(off+2, 2, "Length", fmt.Sprintf("%04X", len(e)))
			l.field(off+4, 1, "Handle", fmt.Sprintf("%02X", e[4]))
			l.field(off+5, 1, "Flags (decoded below)", fmt.Sprintf("%02X", e[5]))
			l.flag("Memory Hierarchy", e[5]&0xF)
			l.field(off+6, 1, "Data Type", dt)
			l.field(off+7, 1, "Reserved", fmt.Sprintf("%02X", e[7]))
			l.field(off+8, 8, "Entry Base Unit", u64(e, 8))
			for i := range 3 {
				l.field(off+16+2*i, 2, fmt.Sprintf("Entry%d", i), fmt.Sprintf("%04X", binary.LittleEndian.Uint16(e[16+2*i:])))
			}
			l.field(off+22, 2, "Reserved", fmt.Sprintf("%04X", binary.LittleEndian.Uint16(e[22:])))
		case TypeDSEMTS:
			mt := fmt.Sprintf("%02X", e[5])
			if int(e[5]) < len(memoryTypeNames) {
				mt += " [" + memoryTypeNames[e[5]] + "]"
			}
			l.field(off, 1, "Subtable Type", "04 [Device Scoped EFI Memory Type Structure]")
			l.field(off+1, 1, "Reserved", fmt.Sprintf("%02X", e[1]))
			l.field(off+2, 2, "Length", fmt.Sprintf("%04X", len(e)))
			l.field(off+4, 1, "DSMAS Handle", fmt.Sprintf("%02X", e[4]))
			l.field(off+5, 1, "Memory Type", mt)
			l.field(off+6, 2, "Reserved", fmt.Sprintf("%04X", binary.LittleEndian.Uint16(e[6:])))
			l.field(off+8, 8, "DPA Offset", u64(e, 8))
			l.field(off+16, 8, "DPA Range Length", u64(e, 16))
		default:
			name := typeNames[e[0]]
			if name == "" {
				name = "Unknown Subtable Type"
			}
			l.field(off, 1, "Subtable Type", fmt.Sprintf("%02X [%s]", e[0], name))
			l.field(off+2, 2, "Length", fmt.Sprintf("%04X", len(e)))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return l.String(), nil
}

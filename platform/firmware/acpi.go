package firmware

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// ACPI tables are built as real binary images (ACPI 6.5 layouts, little
// endian, checksummed) so `ctl acpi srat|hmat` can show an iasl-style
// disassembly of exactly the bytes an OS would parse.

// ErrTable is returned for a malformed ACPI table image.
var ErrTable = errors.New("acpi: malformed table")

// Header is the common ACPI system description table header (36 bytes).
type Header struct {
	Signature       string `json:"signature"`
	Length          uint32 `json:"length"`
	Revision        uint8  `json:"revision"`
	Checksum        uint8  `json:"checksum"`
	OEMID           string `json:"oem_id"`
	OEMTableID      string `json:"oem_table_id"`
	OEMRevision     uint32 `json:"oem_revision"`
	CreatorID       string `json:"creator_id"`
	CreatorRevision uint32 `json:"creator_revision"`
}

const headerLen = 36

func newHeader(sig string, rev uint8) Header {
	return Header{Signature: sig, Revision: rev, OEMID: "BMCEMU", OEMTableID: "BMCEMU  ", OEMRevision: 1,
		CreatorID: "BEMU", CreatorRevision: 1}
}

func putFixed(b []byte, s string) {
	for i := range b {
		b[i] = ' '
	}
	copy(b, s)
}

func (h Header) put(b []byte) {
	putFixed(b[0:4], h.Signature)
	binary.LittleEndian.PutUint32(b[4:], h.Length)
	b[8] = h.Revision
	b[9] = 0
	putFixed(b[10:16], h.OEMID)
	putFixed(b[16:24], h.OEMTableID)
	binary.LittleEndian.PutUint32(b[24:], h.OEMRevision)
	putFixed(b[28:32], h.CreatorID)
	binary.LittleEndian.PutUint32(b[32:], h.CreatorRevision)
}

// seal sets the length and checksum of a finished table image.
func seal(b []byte) []byte {
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
	b[9] = 0
	var sum byte
	for _, c := range b {
		sum += c
	}
	b[9] = -sum
	return b
}

func parseHeader(b []byte, sig string) (Header, []byte, error) {
	if len(b) < headerLen {
		return Header{}, nil, fmt.Errorf("%w: %d bytes, header needs %d", ErrTable, len(b), headerLen)
	}
	h := Header{
		Signature: string(b[0:4]), Length: binary.LittleEndian.Uint32(b[4:]), Revision: b[8], Checksum: b[9],
		OEMID: string(b[10:16]), OEMTableID: string(b[16:24]), OEMRevision: binary.LittleEndian.Uint32(b[24:]),
		CreatorID: string(b[28:32]), CreatorRevision: binary.LittleEndian.Uint32(b[32:]),
	}
	if h.Signature != sig {
		return h, nil, fmt.Errorf("%w: signature %q, want %q", ErrTable, h.Signature, sig)
	}
	if h.Length < headerLen || uint64(h.Length) > uint64(len(b)) {
		return h, nil, fmt.Errorf("%w: length %d with %d bytes present", ErrTable, h.Length, len(b))
	}
	b = b[:h.Length]
	var sum byte
	for _, c := range b {
		sum += c
	}
	if sum != 0 {
		return h, nil, fmt.Errorf("%w: checksum does not sum to zero (off by 0x%02X)", ErrTable, sum)
	}
	return h, b, nil
}

// SRAT memory affinity flags.
const (
	SRATEnabled      uint32 = 1
	SRATHotPluggable uint32 = 2
	SRATNonVolatile  uint32 = 4
)

// MemoryAffinity is an SRAT Memory Affinity structure (type 1).
type MemoryAffinity struct {
	ProximityDomain uint32 `json:"proximity_domain"`
	Base            uint64 `json:"base"`
	Length          uint64 `json:"length"`
	Flags           uint32 `json:"flags"`
}

// X2APICAffinity is an SRAT Processor Local x2APIC Affinity structure (type 2).
type X2APICAffinity struct {
	ProximityDomain uint32 `json:"proximity_domain"`
	X2APICID        uint32 `json:"x2apic_id"`
	Flags           uint32 `json:"flags"`
	ClockDomain     uint32 `json:"clock_domain"`
}

// Generic Port Affinity flags (ACPI 6.5 Table 5.60, shared with the
// Generic Initiator Affinity structure).
const (
	GenericPortEnabled                   uint32 = 1
	GenericPortArchitecturalTransactions uint32 = 2
)

// GenericPortAffinity is an SRAT Generic Port Affinity structure (type 6,
// ACPI 6.5 §5.2.16.7) with an ACPI device handle (type 0): it gives a CXL
// host bridge (ACPI0016, matched by _UID as Linux's
// acpi_get_genport_coordinates() does) a proximity domain so the OS can
// combine HMAT numbers up to the port with the device's CDAT numbers.
type GenericPortAffinity struct {
	ProximityDomain uint32 `json:"proximity_domain"`
	HID             string `json:"hid"` // device handle type 0 (ACPI): _HID, 8 chars, e.g. "ACPI0016"
	UID             uint32 `json:"uid"`
	Flags           uint32 `json:"flags"` // bit 0 Enabled, bit 1 Architectural Transactions
}

const (
	sratTypeGenericPort = 6
	genericPortLen      = 32
	deviceHandleACPI    = 0
)

// SRAT is the System Resource Affinity Table.
type SRAT struct {
	Header Header           `json:"header"`
	CPUs   []X2APICAffinity `json:"cpus"`
	Memory []MemoryAffinity `json:"memory"`
	// GenericPorts follow the memory entries in the encoded table.
	GenericPorts []GenericPortAffinity `json:"generic_ports,omitempty"`
	// Unknown counts subtables of types this decoder skips.
	Unknown int `json:"unknown,omitempty"`
}

const sratFixed = headerLen + 12

// Encode renders the table (revision 3). A HID longer than the 8-byte
// device handle field is cut to 8 bytes; a shorter one is NUL-padded.
func (s *SRAT) Encode() []byte {
	b := make([]byte, sratFixed, sratFixed+24*len(s.CPUs)+40*len(s.Memory)+genericPortLen*len(s.GenericPorts))
	h := s.Header
	if h.Signature == "" {
		h = newHeader("SRAT", 3)
	}
	h.put(b)
	binary.LittleEndian.PutUint32(b[36:], 1) // reserved, must be 1
	for _, c := range s.CPUs {
		e := make([]byte, 24)
		e[0], e[1] = 2, 24
		binary.LittleEndian.PutUint32(e[4:], c.ProximityDomain)
		binary.LittleEndian.PutUint32(e[8:], c.X2APICID)
		binary.LittleEndian.PutUint32(e[12:], c.Flags)
		binary.LittleEndian.PutUint32(e[16:], c.ClockDomain)
		b = append(b, e...)
	}
	for _, m := range s.Memory {
		e := make([]byte, 40)
		e[0], e[1] = 1, 40
		binary.LittleEndian.PutUint32(e[2:], m.ProximityDomain)
		binary.LittleEndian.PutUint64(e[8:], m.Base)
		binary.LittleEndian.PutUint64(e[16:], m.Length)
		binary.LittleEndian.PutUint32(e[28:], m.Flags)
		b = append(b, e...)
	}
	for _, g := range s.GenericPorts {
		e := make([]byte, genericPortLen)
		e[0], e[1], e[3] = sratTypeGenericPort, genericPortLen, deviceHandleACPI
		binary.LittleEndian.PutUint32(e[4:], g.ProximityDomain)
		copy(e[8:16], g.HID)
		binary.LittleEndian.PutUint32(e[16:], g.UID)
		binary.LittleEndian.PutUint32(e[24:], g.Flags)
		b = append(b, e...)
	}
	return seal(b)
}

// DecodeSRAT parses an SRAT image.
func DecodeSRAT(b []byte) (*SRAT, error) {
	h, b, err := parseHeader(b, "SRAT")
	if err != nil {
		return nil, err
	}
	if len(b) < sratFixed {
		return nil, fmt.Errorf("%w: SRAT shorter than its fixed part", ErrTable)
	}
	s := &SRAT{Header: h}
	for off := sratFixed; off < len(b); {
		if len(b)-off < 2 {
			return nil, fmt.Errorf("%w: truncated subtable at 0x%X", ErrTable, off)
		}
		typ, n := b[off], int(b[off+1])
		if n < 2 || off+n > len(b) {
			return nil, fmt.Errorf("%w: subtable at 0x%X has length %d", ErrTable, off, n)
		}
		e := b[off : off+n]
		switch {
		case typ == 1 && n == 40:
			s.Memory = append(s.Memory, MemoryAffinity{ProximityDomain: binary.LittleEndian.Uint32(e[2:]),
				Base: binary.LittleEndian.Uint64(e[8:]), Length: binary.LittleEndian.Uint64(e[16:]),
				Flags: binary.LittleEndian.Uint32(e[28:])})
		case typ == 2 && n == 24:
			s.CPUs = append(s.CPUs, X2APICAffinity{ProximityDomain: binary.LittleEndian.Uint32(e[4:]),
				X2APICID: binary.LittleEndian.Uint32(e[8:]), Flags: binary.LittleEndian.Uint32(e[12:]),
				ClockDomain: binary.LittleEndian.Uint32(e[16:])})
		case typ == sratTypeGenericPort && n == genericPortLen && e[3] == deviceHandleACPI:
			s.GenericPorts = append(s.GenericPorts, GenericPortAffinity{ProximityDomain: binary.LittleEndian.Uint32(e[4:]),
				HID: strings.TrimRight(string(e[8:16]), "\x00"), UID: binary.LittleEndian.Uint32(e[16:]),
				Flags: binary.LittleEndian.Uint32(e[24:])})
		case typ == 1 || typ == 2 || typ == sratTypeGenericPort && n != genericPortLen:
			return nil, fmt.Errorf("%w: subtable type %d at 0x%X has length %d", ErrTable, typ, off, n)
		default:
			// Includes Generic Ports named by a PCI device handle (type 1),
			// which GenericPortAffinity does not model.
			s.Unknown++
		}
		off += n
	}
	return s, nil
}

// HMAT data types of a System Locality Latency and Bandwidth structure.
const (
	HMATAccessLatency   uint8 = 0
	HMATReadLatency     uint8 = 1
	HMATWriteLatency    uint8 = 2
	HMATAccessBandwidth uint8 = 3
	HMATReadBandwidth   uint8 = 4
	HMATWriteBandwidth  uint8 = 5
)

// ProximityAttributes is an HMAT Memory Proximity Domain Attributes
// structure (type 0).
type ProximityAttributes struct {
	Flags       uint16 `json:"flags"` // bit 0: InitiatorPD valid
	InitiatorPD uint32 `json:"initiator_pd"`
	MemoryPD    uint32 `json:"memory_pd"`
}

// Locality is an HMAT System Locality Latency and Bandwidth Information
// structure (type 1). Entries are row-major by initiator; a value is
// Entry*BaseUnit picoseconds (latency) or MB/s (bandwidth).
type Locality struct {
	Flags           uint8    `json:"flags"` // bits 3:0 memory hierarchy (0 = memory)
	DataType        uint8    `json:"data_type"`
	MinTransferSize uint8    `json:"min_transfer_size"`
	BaseUnit        uint64   `json:"base_unit"`
	Initiators      []uint32 `json:"initiators"`
	Targets         []uint32 `json:"targets"`
	Entries         []uint16 `json:"entries"`
}

// Entry returns the raw entry for an initiator/target pair.
func (l Locality) Entry(initiator, target uint32) (uint16, bool) {
	for i, in := range l.Initiators {
		for j, t := range l.Targets {
			if in == initiator && t == target && i*len(l.Targets)+j < len(l.Entries) {
				return l.Entries[i*len(l.Targets)+j], true
			}
		}
	}
	return 0, false
}

// HMAT is the Heterogeneous Memory Attribute Table.
type HMAT struct {
	Header    Header                `json:"header"`
	Proximity []ProximityAttributes `json:"proximity"`
	Locality  []Locality            `json:"locality"`
	Unknown   int                   `json:"unknown,omitempty"`
}

const hmatFixed = headerLen + 4

// Encode renders the table (revision 2).
func (t *HMAT) Encode() []byte {
	b := make([]byte, hmatFixed)
	h := t.Header
	if h.Signature == "" {
		h = newHeader("HMAT", 2)
	}
	h.put(b)
	for _, p := range t.Proximity {
		e := make([]byte, 40)
		binary.LittleEndian.PutUint16(e[0:], 0)
		binary.LittleEndian.PutUint32(e[4:], 40)
		binary.LittleEndian.PutUint16(e[8:], p.Flags)
		binary.LittleEndian.PutUint32(e[12:], p.InitiatorPD)
		binary.LittleEndian.PutUint32(e[16:], p.MemoryPD)
		b = append(b, e...)
	}
	for _, l := range t.Locality {
		ni, nt := len(l.Initiators), len(l.Targets)
		n := 32 + 4*ni + 4*nt + 2*ni*nt
		e := make([]byte, n)
		binary.LittleEndian.PutUint16(e[0:], 1)
		binary.LittleEndian.PutUint32(e[4:], uint32(n))
		e[8], e[9], e[10] = l.Flags, l.DataType, l.MinTransferSize
		binary.LittleEndian.PutUint32(e[12:], uint32(ni))
		binary.LittleEndian.PutUint32(e[16:], uint32(nt))
		binary.LittleEndian.PutUint64(e[24:], l.BaseUnit)
		o := 32
		for _, v := range l.Initiators {
			binary.LittleEndian.PutUint32(e[o:], v)
			o += 4
		}
		for _, v := range l.Targets {
			binary.LittleEndian.PutUint32(e[o:], v)
			o += 4
		}
		for i := 0; i < ni*nt; i++ {
			var v uint16
			if i < len(l.Entries) {
				v = l.Entries[i]
			}
			binary.LittleEndian.PutUint16(e[o:], v)
			o += 2
		}
		b = append(b, e...)
	}
	return seal(b)
}

// DecodeHMAT parses an HMAT image.
func DecodeHMAT(b []byte) (*HMAT, error) {
	h, b, err := parseHeader(b, "HMAT")
	if err != nil {
		return nil, err
	}
	if len(b) < hmatFixed {
		return nil, fmt.Errorf("%w: HMAT shorter than its fixed part", ErrTable)
	}
	t := &HMAT{Header: h}
	for off := hmatFixed; off < len(b); {
		if len(b)-off < 8 {
			return nil, fmt.Errorf("%w: truncated structure at 0x%X", ErrTable, off)
		}
		typ := binary.LittleEndian.Uint16(b[off:])
		n := uint64(binary.LittleEndian.Uint32(b[off+4:]))
		if n < 8 || uint64(off)+n > uint64(len(b)) {
			return nil, fmt.Errorf("%w: structure at 0x%X has length %d", ErrTable, off, n)
		}
		e := b[off : off+int(n)]
		switch typ {
		case 0:
			if n != 40 {
				return nil, fmt.Errorf("%w: proximity structure at 0x%X has length %d", ErrTable, off, n)
			}
			t.Proximity = append(t.Proximity, ProximityAttributes{Flags: binary.LittleEndian.Uint16(e[8:]),
				InitiatorPD: binary.LittleEndian.Uint32(e[12:]), MemoryPD: binary.LittleEndian.Uint32(e[16:])})
		case 1:
			if n < 32 {
				return nil, fmt.Errorf("%w: locality structure at 0x%X has length %d", ErrTable, off, n)
			}
			ni := uint64(binary.LittleEndian.Uint32(e[12:]))
			nt := uint64(binary.LittleEndian.Uint32(e[16:]))
			if ni > 1<<16 || nt > 1<<16 || 32+4*ni+4*nt+2*ni*nt != n {
				return nil, fmt.Errorf("%w: locality structure at 0x%X: %d initiators x %d targets in %d bytes", ErrTable, off, ni, nt, n)
			}
			l := Locality{Flags: e[8], DataType: e[9], MinTransferSize: e[10], BaseUnit: binary.LittleEndian.Uint64(e[24:])}
			o := 32
			for range ni {
				l.Initiators = append(l.Initiators, binary.LittleEndian.Uint32(e[o:]))
				o += 4
			}
			for range nt {
				l.Targets = append(l.Targets, binary.LittleEndian.Uint32(e[o:]))
				o += 4
			}
			for range ni * nt {
				l.Entries = append(l.Entries, binary.LittleEndian.Uint16(e[o:]))
				o += 2
			}
			t.Locality = append(t.Locality, l)
		default:
			t.Unknown++
		}
		off += int(n)
	}
	return t, nil
}

// dis prints iasl-style disassembly lines: [offset hex, offset dec, size] name : value.
type dis struct{ strings.Builder }

func (d *dis) field(off, size int, name, value string) {
	fmt.Fprintf(&d.Builder, "[%03Xh %04d %3d] %28s : %s\n", off, off, size, name, value)
}

func (d *dis) flag(name string, v uint64) {
	fmt.Fprintf(&d.Builder, "%45s : %d\n", name, v)
}

func (d *dis) header(h Header, title string) {
	d.field(0, 4, "Signature", fmt.Sprintf("%q    [%s]", h.Signature, title))
	d.field(4, 4, "Table Length", fmt.Sprintf("%08X", h.Length))
	d.field(8, 1, "Revision", fmt.Sprintf("%02X", h.Revision))
	d.field(9, 1, "Checksum", fmt.Sprintf("%02X", h.Checksum))
	d.field(10, 6, "Oem ID", fmt.Sprintf("%q", h.OEMID))
	d.field(16, 8, "Oem Table ID", fmt.Sprintf("%q", h.OEMTableID))
	d.field(24, 4, "Oem Revision", fmt.Sprintf("%08X", h.OEMRevision))
	d.field(28, 4, "Asl Compiler ID", fmt.Sprintf("%q", h.CreatorID))
	d.field(32, 4, "Asl Compiler Revision", fmt.Sprintf("%08X", h.CreatorRevision))
	d.WriteString("\n")
}

// DisassembleSRAT renders an SRAT image the way `iasl -d` does.
func DisassembleSRAT(b []byte) (string, error) {
	s, err := DecodeSRAT(b)
	if err != nil {
		return "", err
	}
	var d dis
	d.header(s.Header, "System Resource Affinity Table")
	d.field(36, 4, "Table Revision", fmt.Sprintf("%08X", binary.LittleEndian.Uint32(b[36:])))
	d.field(40, 8, "Reserved", fmt.Sprintf("%016X", binary.LittleEndian.Uint64(b[40:])))
	for off := sratFixed; off < int(s.Header.Length); off += int(b[off+1]) {
		d.WriteString("\n")
		e := b[off : off+int(b[off+1])]
		switch {
		case e[0] == 1 && len(e) == 40:
			d.field(off, 1, "Subtable Type", "01 [Memory Affinity]")
			d.field(off+1, 1, "Length", fmt.Sprintf("%02X", e[1]))
			d.field(off+2, 4, "Proximity Domain", fmt.Sprintf("%08X", binary.LittleEndian.Uint32(e[2:])))
			d.field(off+6, 2, "Reserved1", fmt.Sprintf("%04X", binary.LittleEndian.Uint16(e[6:])))
			d.field(off+8, 8, "Base Address", fmt.Sprintf("%016X", binary.LittleEndian.Uint64(e[8:])))
			d.field(off+16, 8, "Address Length", fmt.Sprintf("%016X", binary.LittleEndian.Uint64(e[16:])))
			d.field(off+24, 4, "Reserved2", fmt.Sprintf("%08X", binary.LittleEndian.Uint32(e[24:])))
			f := binary.LittleEndian.Uint32(e[28:])
			d.field(off+28, 4, "Flags (decoded below)", fmt.Sprintf("%08X", f))
			d.flag("Enabled", uint64(f&1))
			d.flag("Hot Pluggable", uint64(f>>1&1))
			d.flag("Non-Volatile", uint64(f>>2&1))
			d.field(off+32, 8, "Reserved3", fmt.Sprintf("%016X", binary.LittleEndian.Uint64(e[32:])))
		case e[0] == 2 && len(e) == 24:
			d.field(off, 1, "Subtable Type", "02 [Processor Local x2APIC Affinity]")
			d.field(off+1, 1, "Length", fmt.Sprintf("%02X", e[1]))
			d.field(off+2, 2, "Reserved1", fmt.Sprintf("%04X", binary.LittleEndian.Uint16(e[2:])))
			d.field(off+4, 4, "Proximity Domain", fmt.Sprintf("%08X", binary.LittleEndian.Uint32(e[4:])))
			d.field(off+8, 4, "Apic ID", fmt.Sprintf("%08X", binary.LittleEndian.Uint32(e[8:])))
			f := binary.LittleEndian.Uint32(e[12:])
			d.field(off+12, 4, "Flags (decoded below)", fmt.Sprintf("%08X", f))
			d.flag("Enabled", uint64(f&1))
			d.field(off+16, 4, "Clock Domain", fmt.Sprintf("%08X", binary.LittleEndian.Uint32(e[16:])))
			d.field(off+20, 4, "Reserved2", fmt.Sprintf("%08X", binary.LittleEndian.Uint32(e[20:])))
		case e[0] == sratTypeGenericPort && len(e) == genericPortLen:
			d.field(off, 1, "Subtable Type", "06 [Generic Port Affinity]")
			d.field(off+1, 1, "Length", fmt.Sprintf("%02X", e[1]))
			d.field(off+2, 1, "Reserved1", fmt.Sprintf("%02X", e[2]))
			ht := fmt.Sprintf("%02X", e[3])
			switch e[3] {
			case deviceHandleACPI:
				ht += " [ACPI]"
			case 1:
				ht += " [PCI]"
			}
			d.field(off+3, 1, "Device Handle Type", ht)
			d.field(off+4, 4, "Proximity Domain", fmt.Sprintf("%08X", binary.LittleEndian.Uint32(e[4:])))
			h := fmt.Sprintf("% X", e[8:24])
			if e[3] == deviceHandleACPI {
				h += fmt.Sprintf(" [_HID %q _UID %d]", strings.TrimRight(string(e[8:16]), "\x00"), binary.LittleEndian.Uint32(e[16:]))
			}
			d.field(off+8, 16, "Device Handle", h)
			f := binary.LittleEndian.Uint32(e[24:])
			d.field(off+24, 4, "Flags (decoded below)", fmt.Sprintf("%08X", f))
			d.flag("Enabled", uint64(f&1))
			d.flag("Architectural Transactions", uint64(f>>1&1))
			d.field(off+28, 4, "Reserved2", fmt.Sprintf("%08X", binary.LittleEndian.Uint32(e[28:])))
		default:
			d.field(off, 1, "Subtable Type", fmt.Sprintf("%02X [Unknown Subtable Type]", e[0]))
			d.field(off+1, 1, "Length", fmt.Sprintf("%02X", e[1]))
		}
	}
	return d.String(), nil
}

var hmatDataTypes = []string{"Access Latency", "Read Latency", "Write Latency", "Access Bandwidth", "Read Bandwidth", "Write Bandwidth"}

// DisassembleHMAT renders an HMAT image the way `iasl -d` does.
func DisassembleHMAT(b []byte) (string, error) {
	t, err := DecodeHMAT(b)
	if err != nil {
		return "", err
	}
	var d dis
	d.header(t.Header, "Heterogeneous Memory Attributes Table")
	d.field(36, 4, "Reserved", fmt.Sprintf("%08X", binary.LittleEndian.Uint32(b[36:])))
	for off := hmatFixed; off < int(t.Header.Length); {
		e := b[off : off+int(binary.LittleEndian.Uint32(b[off+4:]))]
		typ := binary.LittleEndian.Uint16(e)
		d.WriteString("\n")
		switch typ {
		case 0:
			d.field(off, 2, "Structure Type", "0000 [Memory Proximity Domain Attributes]")
			d.field(off+2, 2, "Reserved", "0000")
			d.field(off+4, 4, "Length", fmt.Sprintf("%08X", len(e)))
			f := binary.LittleEndian.Uint16(e[8:])
			d.field(off+8, 2, "Flags (decoded below)", fmt.Sprintf("%04X", f))
			d.flag("Processor Proximity Domain Valid", uint64(f&1))
			d.field(off+10, 2, "Reserved1", "0000")
			d.field(off+12, 4, "Attached Initiator Proximity Domain", fmt.Sprintf("%08X", binary.LittleEndian.Uint32(e[12:])))
			d.field(off+16, 4, "Memory Proximity Domain", fmt.Sprintf("%08X", binary.LittleEndian.Uint32(e[16:])))
			d.field(off+20, 4, "Reserved2", "00000000")
			d.field(off+24, 8, "Reserved3", "0000000000000000")
			d.field(off+32, 8, "Reserved4", "0000000000000000")
		case 1:
			dt := e[9]
			name := fmt.Sprintf("%02X", dt)
			if int(dt) < len(hmatDataTypes) {
				name += " [" + hmatDataTypes[dt] + "]"
			}
			d.field(off, 2, "Structure Type", "0001 [System Locality Latency and Bandwidth Information]")
			d.field(off+2, 2, "Reserved", "0000")
			d.field(off+4, 4, "Length", fmt.Sprintf("%08X", len(e)))
			d.field(off+8, 1, "Flags (decoded below)", fmt.Sprintf("%02X", e[8]))
			d.flag("Memory Hierarchy", uint64(e[8]&0xf))
			d.field(off+9, 1, "Data Type", name)
			d.field(off+10, 1, "Minimum Transfer Size", fmt.Sprintf("%02X", e[10]))
			d.field(off+11, 1, "Reserved1", "00")
			ni := int(binary.LittleEndian.Uint32(e[12:]))
			nt := int(binary.LittleEndian.Uint32(e[16:]))
			d.field(off+12, 4, "Initiator Proximity Domains #", fmt.Sprintf("%08X", ni))
			d.field(off+16, 4, "Target Proximity Domains #", fmt.Sprintf("%08X", nt))
			d.field(off+20, 4, "Reserved2", "00000000")
			d.field(off+24, 8, "Entry Base Unit", fmt.Sprintf("%016X", binary.LittleEndian.Uint64(e[24:])))
			o := 32
			for range ni {
				d.field(off+o, 4, "Initiator Proximity Domain List", fmt.Sprintf("%08X", binary.LittleEndian.Uint32(e[o:])))
				o += 4
			}
			for range nt {
				d.field(off+o, 4, "Target Proximity Domain List", fmt.Sprintf("%08X", binary.LittleEndian.Uint32(e[o:])))
				o += 4
			}
			for range ni * nt {
				d.field(off+o, 2, "Entry", fmt.Sprintf("%04X", binary.LittleEndian.Uint16(e[o:])))
				o += 2
			}
		default:
			d.field(off, 2, "Structure Type", fmt.Sprintf("%04X [Unknown Structure Type]", typ))
			d.field(off+4, 4, "Length", fmt.Sprintf("%08X", len(e)))
		}
		off += len(e)
	}
	return d.String(), nil
}

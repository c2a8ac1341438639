package firmware

import (
	"encoding/binary"
	"fmt"
)

// The CXL Early Discovery Table (CXL 3.1 §9.18) tells the OS, before any
// PCIe enumeration, where each CXL host bridge keeps its component registers
// (CHBS) and which host physical address windows the platform has set aside
// for CXL memory (CFMWS). Linux's cxl_acpi driver (drivers/cxl/acpi.c) turns
// every window into a root decoder; a window it rejects is simply absent, so
// DecodeCEDT refuses what cxl_acpi_cfmws_verify() refuses.

// CHBS is a CXL Host Bridge Structure (CEDT type 0, 32 bytes).
type CHBS struct {
	UID        uint32 `json:"uid"`         // the host bridge's _UID (ACPI0016)
	CXLVersion uint32 `json:"cxl_version"` // CHBSVersionRCH or CHBSVersionCXL2
	Base       uint64 `json:"base"`        // CHBCR (component registers) base
	Length     uint64 `json:"length"`      // 0x2000 for RCH, 0x10000 for CXL 2.0+
}

// CHBS CXL Version values (CXL 3.1 Table 9-21).
const (
	CHBSVersionRCH  uint32 = 0
	CHBSVersionCXL2 uint32 = 1
)

// CHBS register block lengths the spec requires per version; Linux's
// cxl_get_chbs_iter() ignores a CHBS whose length does not match.
const (
	CHBSLengthRCH  uint64 = 0x2000
	CHBSLengthCXL2 uint64 = 0x10000
)

// Usable reports whether Linux's cxl_get_chbs_iter() would take this CHBS:
// a known version with its matching register length and a non-zero base.
func (c CHBS) Usable() bool {
	switch c.CXLVersion {
	case CHBSVersionRCH:
		return c.Length == CHBSLengthRCH && c.Base != 0
	case CHBSVersionCXL2:
		return c.Length == CHBSLengthCXL2 && c.Base != 0
	}
	return false
}

// CFMWS is a CXL Fixed Memory Window Structure (CEDT type 1, 36 + 4*NIW bytes).
type CFMWS struct {
	BaseHPA              uint64   `json:"base_hpa"`
	WindowSize           uint64   `json:"window_size"`
	InterleaveWays       int      `json:"interleave_ways"`       // decoded from ENIW: 1,2,4,8,16,3,6,12
	InterleaveArithmetic uint8    `json:"interleave_arithmetic"` // 0 modulo, 1 XOR
	GranularityBytes     uint32   `json:"granularity_bytes"`     // 256 << HBIG (256 B .. 16 KiB)
	Restrictions         uint16   `json:"restrictions"`
	QTGID                uint16   `json:"qtg_id"`
	Targets              []uint32 `json:"targets"` // host bridge UIDs, len == InterleaveWays
}

// CFMWS Window Restrictions (CXL 3.1 Table 9-22).
const (
	CFMWSDeviceCoherent   uint16 = 1 << 0 // type 2
	CFMWSHostOnlyCoherent uint16 = 1 << 1 // type 3
	CFMWSVolatile         uint16 = 1 << 2
	CFMWSPersistent       uint16 = 1 << 3
	CFMWSFixedConfig      uint16 = 1 << 4
)

// CFMWS Interleave Arithmetic values.
const (
	CFMWSArithmeticModulo uint8 = 0
	CFMWSArithmeticXOR    uint8 = 1
)

// CEDT is the CXL Early Discovery Table.
type CEDT struct {
	Header      Header  `json:"header"`
	HostBridges []CHBS  `json:"host_bridges"`
	Windows     []CFMWS `json:"windows"`
	Unknown     int     `json:"unknown,omitempty"` // subtables of other types (CXIMS, RDPAS, CSDS) skipped
}

const (
	cedtTypeCHBS  = 0
	cedtTypeCFMWS = 1
	chbsLen       = 32
	cfmwsFixedLen = 36
	// cfmwsAlign is the 256 MiB alignment cxl_acpi_cfmws_verify() demands of
	// a window's base and size.
	cfmwsAlign = 256 << 20
	// maxHBIG is CXL_DECODER_MAX_ENCODED_IG: granularity tops out at 16 KiB.
	maxHBIG = 6
)

// eniwToWays decodes the Encoded Number of Interleave Ways (CXL 3.1 §8.2.4.20.7,
// Linux eiw_to_ways()): 0..4 are powers of two, 8..10 are 3, 6 and 12.
func eniwToWays(eniw uint8) (int, bool) {
	switch {
	case eniw <= 4:
		return 1 << eniw, true
	case eniw >= 8 && eniw <= 10:
		return 3 << (eniw - 8), true
	}
	return 0, false
}

// waysToENIW is the inverse of eniwToWays (Linux ways_to_eiw()).
func waysToENIW(ways int) (uint8, bool) {
	for e := uint8(0); e <= 10; e++ {
		if w, ok := eniwToWays(e); ok && w == ways {
			return e, true
		}
	}
	return 0, false
}

// granularityToHBIG is Linux granularity_to_eig(): 256 B .. 16 KiB, power of two.
func granularityToHBIG(g uint32) (uint32, bool) {
	for n := uint32(0); n <= maxHBIG; n++ {
		if g == 256<<n {
			return n, true
		}
	}
	return 0, false
}

// Encode renders the table (revision 1). It refuses windows Linux would
// refuse, so an emulated platform cannot publish a CEDT its own OS ignores.
func (t *CEDT) Encode() ([]byte, error) {
	b := make([]byte, headerLen, headerLen+chbsLen*len(t.HostBridges)+(cfmwsFixedLen+16)*len(t.Windows))
	h := t.Header
	if h.Signature == "" {
		h = newHeader("CEDT", 1)
	}
	h.put(b)
	for _, c := range t.HostBridges {
		e := make([]byte, chbsLen)
		e[0] = cedtTypeCHBS
		binary.LittleEndian.PutUint16(e[2:], chbsLen)
		binary.LittleEndian.PutUint32(e[4:], c.UID)
		binary.LittleEndian.PutUint32(e[8:], c.CXLVersion)
		binary.LittleEndian.PutUint64(e[16:], c.Base)
		binary.LittleEndian.PutUint64(e[24:], c.Length)
		b = append(b, e...)
	}
	for i, w := range t.Windows {
		eniw, ok := waysToENIW(w.InterleaveWays)
		if !ok {
			return nil, fmt.Errorf("%w: CFMWS %d: interleave ways %d has no ENIW encoding (1,2,4,8,16,3,6,12)", ErrTable, i, w.InterleaveWays)
		}
		if len(w.Targets) != w.InterleaveWays {
			return nil, fmt.Errorf("%w: CFMWS %d: %d interleave targets for %d ways", ErrTable, i, len(w.Targets), w.InterleaveWays)
		}
		hbig, ok := granularityToHBIG(w.GranularityBytes)
		if !ok {
			return nil, fmt.Errorf("%w: CFMWS %d: granularity %d is not 256<<n with n<=%d (HBIG)", ErrTable, i, w.GranularityBytes, maxHBIG)
		}
		if w.BaseHPA%cfmwsAlign != 0 || w.WindowSize%cfmwsAlign != 0 {
			return nil, fmt.Errorf("%w: CFMWS %d: window %#x+%#x not 256 MiB aligned", ErrTable, i, w.BaseHPA, w.WindowSize)
		}
		if w.InterleaveArithmetic != CFMWSArithmeticModulo && w.InterleaveArithmetic != CFMWSArithmeticXOR {
			return nil, fmt.Errorf("%w: CFMWS %d: interleave arithmetic %d", ErrTable, i, w.InterleaveArithmetic)
		}
		n := cfmwsFixedLen + 4*len(w.Targets)
		e := make([]byte, n)
		e[0] = cedtTypeCFMWS
		binary.LittleEndian.PutUint16(e[2:], uint16(n))
		binary.LittleEndian.PutUint64(e[8:], w.BaseHPA)
		binary.LittleEndian.PutUint64(e[16:], w.WindowSize)
		e[24], e[25] = eniw, w.InterleaveArithmetic
		binary.LittleEndian.PutUint32(e[28:], hbig)
		binary.LittleEndian.PutUint16(e[32:], w.Restrictions)
		binary.LittleEndian.PutUint16(e[34:], w.QTGID)
		for j, tgt := range w.Targets {
			binary.LittleEndian.PutUint32(e[cfmwsFixedLen+4*j:], tgt)
		}
		b = append(b, e...)
	}
	return seal(b), nil
}

// cedtSubtables walks the subtable headers (Type(1) Reserved(1) RecordLength(2))
// and calls fn with each record.
func cedtSubtables(b []byte, fn func(off int, e []byte) error) error {
	for off := headerLen; off < len(b); {
		if len(b)-off < 4 {
			return fmt.Errorf("%w: CEDT: truncated subtable header at 0x%X", ErrTable, off)
		}
		n := int(binary.LittleEndian.Uint16(b[off+2:]))
		if n < 4 || off+n > len(b) {
			return fmt.Errorf("%w: CEDT: subtable type %d at 0x%X has record length %d (%d bytes left)", ErrTable, b[off], off, n, len(b)-off)
		}
		if err := fn(off, b[off:off+n]); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// decodeCFMWS applies cxl_acpi_cfmws_verify() and eig_to_granularity().
func decodeCFMWS(off int, e []byte) (CFMWS, error) {
	if len(e) < cfmwsFixedLen {
		return CFMWS{}, fmt.Errorf("%w: CFMWS at 0x%X: record length %d, fixed part is %d", ErrTable, off, len(e), cfmwsFixedLen)
	}
	w := CFMWS{BaseHPA: binary.LittleEndian.Uint64(e[8:]), WindowSize: binary.LittleEndian.Uint64(e[16:]),
		InterleaveArithmetic: e[25], Restrictions: binary.LittleEndian.Uint16(e[32:]), QTGID: binary.LittleEndian.Uint16(e[34:])}
	if w.InterleaveArithmetic != CFMWSArithmeticModulo && w.InterleaveArithmetic != CFMWSArithmeticXOR {
		return w, fmt.Errorf("%w: CFMWS at 0x%X: unknown Interleave Arithmetic %d", ErrTable, off, w.InterleaveArithmetic)
	}
	if w.BaseHPA%cfmwsAlign != 0 {
		return w, fmt.Errorf("%w: CFMWS at 0x%X: Base HPA %#x not 256MB aligned", ErrTable, off, w.BaseHPA)
	}
	if w.WindowSize%cfmwsAlign != 0 {
		return w, fmt.Errorf("%w: CFMWS at 0x%X: Window Size %#x not 256MB aligned", ErrTable, off, w.WindowSize)
	}
	ways, ok := eniwToWays(e[24])
	if !ok {
		return w, fmt.Errorf("%w: CFMWS at 0x%X: ENIW (Interleave Ways) %d invalid", ErrTable, off, e[24])
	}
	w.InterleaveWays = ways
	if want := cfmwsFixedLen + 4*ways; len(e) < want {
		return w, fmt.Errorf("%w: CFMWS at 0x%X: record length %d less than expected %d for %d interleave targets", ErrTable, off, len(e), want, ways)
	}
	hbig := binary.LittleEndian.Uint32(e[28:])
	if hbig > maxHBIG {
		return w, fmt.Errorf("%w: CFMWS at 0x%X: HBIG (Host Bridge Interleave Granularity) %d > %d", ErrTable, off, hbig, maxHBIG)
	}
	w.GranularityBytes = 256 << hbig
	for j := range ways {
		w.Targets = append(w.Targets, binary.LittleEndian.Uint32(e[cfmwsFixedLen+4*j:]))
	}
	return w, nil
}

// DecodeCEDT parses a CEDT image. A CFMWS longer than its target list needs
// is accepted (Linux only notes it at debug level); one shorter is refused.
func DecodeCEDT(b []byte) (*CEDT, error) {
	h, b, err := parseHeader(b, "CEDT")
	if err != nil {
		return nil, err
	}
	t := &CEDT{Header: h}
	err = cedtSubtables(b, func(off int, e []byte) error {
		switch e[0] {
		case cedtTypeCHBS:
			if len(e) != chbsLen {
				return fmt.Errorf("%w: CHBS at 0x%X: record length %d, want %d", ErrTable, off, len(e), chbsLen)
			}
			t.HostBridges = append(t.HostBridges, CHBS{UID: binary.LittleEndian.Uint32(e[4:]),
				CXLVersion: binary.LittleEndian.Uint32(e[8:]), Base: binary.LittleEndian.Uint64(e[16:]),
				Length: binary.LittleEndian.Uint64(e[24:])})
		case cedtTypeCFMWS:
			w, err := decodeCFMWS(off, e)
			if err != nil {
				return err
			}
			t.Windows = append(t.Windows, w)
		default:
			t.Unknown++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

var cfmwsRestrictionNames = []string{"Device Coherent (Type 2)", "Host-Only Coherent (Type 3)", "Volatile", "Persistent", "Fixed Config"}

var ordinalTargets = []string{"First Target", "Second Target", "Third Target", "Fourth Target"}

// DisassembleCEDT renders a CEDT image the way `iasl -d` (20221020 and
// later, which know CEDT) does.
func DisassembleCEDT(b []byte) (string, error) {
	t, err := DecodeCEDT(b)
	if err != nil {
		return "", err
	}
	b = b[:t.Header.Length]
	var d dis
	d.header(t.Header, "CXL Early Discovery Table")
	err = cedtSubtables(b, func(off int, e []byte) error {
		d.WriteString("\n")
		switch e[0] {
		case cedtTypeCHBS:
			d.field(off, 1, "Subtable Type", "00 [CXL Host Bridge Structure]")
			d.field(off+1, 1, "Reserved", fmt.Sprintf("%02X", e[1]))
			d.field(off+2, 2, "Length", fmt.Sprintf("%04X", len(e)))
			d.field(off+4, 4, "Associated host bridge", fmt.Sprintf("%08X", binary.LittleEndian.Uint32(e[4:])))
			v := binary.LittleEndian.Uint32(e[8:])
			name := fmt.Sprintf("%08X", v)
			switch v {
			case CHBSVersionRCH:
				name += " [RCH (CXL 1.1)]"
			case CHBSVersionCXL2:
				name += " [CXL 2.0 or later]"
			}
			d.field(off+8, 4, "Specification version", name)
			d.field(off+12, 4, "Reserved", fmt.Sprintf("%08X", binary.LittleEndian.Uint32(e[12:])))
			d.field(off+16, 8, "Register base", fmt.Sprintf("%016X", binary.LittleEndian.Uint64(e[16:])))
			d.field(off+24, 8, "Register length", fmt.Sprintf("%016X", binary.LittleEndian.Uint64(e[24:])))
		case cedtTypeCFMWS:
			d.field(off, 1, "Subtable Type", "01 [CXL Fixed Memory Window Structure]")
			d.field(off+1, 1, "Reserved", fmt.Sprintf("%02X", e[1]))
			d.field(off+2, 2, "Length", fmt.Sprintf("%04X", len(e)))
			d.field(off+4, 4, "Reserved", fmt.Sprintf("%08X", binary.LittleEndian.Uint32(e[4:])))
			d.field(off+8, 8, "Window base address", fmt.Sprintf("%016X", binary.LittleEndian.Uint64(e[8:])))
			d.field(off+16, 8, "Window size", fmt.Sprintf("%016X", binary.LittleEndian.Uint64(e[16:])))
			ways, _ := eniwToWays(e[24])
			d.field(off+24, 1, "Interleave Members (2^n)", fmt.Sprintf("%02X [%d way]", e[24], ways))
			arith := "Modulo"
			if e[25] == CFMWSArithmeticXOR {
				arith = "XOR"
			}
			d.field(off+25, 1, "Interleave Arithmetic", fmt.Sprintf("%02X [%s]", e[25], arith))
			d.field(off+26, 2, "Reserved", fmt.Sprintf("%04X", binary.LittleEndian.Uint16(e[26:])))
			hbig := binary.LittleEndian.Uint32(e[28:])
			d.field(off+28, 4, "Granularity", fmt.Sprintf("%08X [%d bytes]", hbig, 256<<hbig))
			r := binary.LittleEndian.Uint16(e[32:])
			d.field(off+32, 2, "Restrictions (decoded below)", fmt.Sprintf("%04X", r))
			for i, n := range cfmwsRestrictionNames {
				d.flag(n, uint64(r>>i&1))
			}
			d.field(off+34, 2, "QtgId", fmt.Sprintf("%04X", binary.LittleEndian.Uint16(e[34:])))
			for j := range ways {
				name := "Next Target"
				if j < len(ordinalTargets) {
					name = ordinalTargets[j]
				}
				o := cfmwsFixedLen + 4*j
				d.field(off+o, 4, name, fmt.Sprintf("%08X", binary.LittleEndian.Uint32(e[o:])))
			}
		default:
			d.field(off, 1, "Subtable Type", fmt.Sprintf("%02X [Unknown Subtable Type]", e[0]))
			d.field(off+2, 2, "Length", fmt.Sprintf("%04X", len(e)))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

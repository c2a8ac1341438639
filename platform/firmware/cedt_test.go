package firmware

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// sampleCEDT is two CXL 2.0 host bridges and one 2-way window across them,
// as in Linux's Documentation/driver-api/cxl example "Cross-Host-Bridge
// Interleave".
func sampleCEDT() *CEDT {
	return &CEDT{
		HostBridges: []CHBS{{UID: 7, CXLVersion: CHBSVersionCXL2, Base: 0x10370400000, Length: CHBSLengthCXL2},
			{UID: 6, CXLVersion: CHBSVersionCXL2, Base: 0x10380800000, Length: CHBSLengthCXL2}},
		Windows: []CFMWS{{BaseHPA: 0x1000000000, WindowSize: 0x200000000, InterleaveWays: 2, GranularityBytes: 256,
			Restrictions: CFMWSHostOnlyCoherent | CFMWSVolatile, QTGID: 1, Targets: []uint32{7, 6}}},
	}
}

// mustHex reads hex bytes, one structure field per line, "//" starting a
// comment.
func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	var h strings.Builder
	for line := range strings.Lines(s) {
		line, _, _ = strings.Cut(line, "//")
		h.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(h.String())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCEDTGoldenLayout pins the subtable bytes against CXL 3.1 Table 9-20
// (CHBS) and Table 9-22 (CFMWS), offsets counted by hand.
func TestCEDTGoldenLayout(t *testing.T) {
	c := &CEDT{HostBridges: sampleCEDT().HostBridges[:1], Windows: []CFMWS{{BaseHPA: 0x1000000000, WindowSize: 0x200000000,
		InterleaveWays: 3, InterleaveArithmetic: CFMWSArithmeticXOR, GranularityBytes: 4096,
		Restrictions: CFMWSHostOnlyCoherent | CFMWSVolatile | CFMWSFixedConfig, QTGID: 0x0102, Targets: []uint32{7, 6, 5}}}}
	b, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	chbs := mustHex(t, `
		00 00 2000  // Type 0, Reserved, RecordLength 32
		07000000  // UID 7
		01000000  // CXL Version 1 (CXL 2.0)
		00000000  // Reserved
		0000407003010000  // Base 0x10370400000
		0000010000000000  // Length 0x10000`)
	cfmws := mustHex(t, `
		01 00 3000  // Type 1, Reserved, RecordLength 36+4*3 = 48
		00000000  // Reserved
		0000000010000000  // Base HPA 0x10_0000_0000
		0000000002000000  // Window Size 0x2_0000_0000
		08 01 0000  // ENIW 8 (3 ways), Arithmetic 1 (XOR), Reserved
		04000000  // HBIG 4 (256<<4 = 4096)
		1600  // Restrictions: host-only coherent | volatile | fixed
		0201  // QTG ID 0x0102
		07000000 06000000 05000000  // Interleave Target List`)
	if len(b) != headerLen+32+48 || binary32(b[4:]) != uint32(len(b)) || string(b[:4]) != "CEDT" || b[8] != 1 {
		t.Fatalf("header: % X", b[:headerLen])
	}
	if got := b[headerLen : headerLen+32]; !bytes.Equal(got, chbs) {
		t.Fatalf("CHBS\n got % X\nwant % X", got, chbs)
	}
	if got := b[headerLen+32:]; !bytes.Equal(got, cfmws) {
		t.Fatalf("CFMWS\n got % X\nwant % X", got, cfmws)
	}
	back, err := DecodeCEDT(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.HostBridges, c.HostBridges) || !reflect.DeepEqual(back.Windows, c.Windows) {
		t.Fatalf("round trip: %+v", back)
	}
}

func binary32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func TestCEDTEveryInterleaveWay(t *testing.T) {
	for _, ways := range []int{1, 2, 4, 8, 16, 3, 6, 12} {
		for n := range maxHBIG + 1 {
			w := CFMWS{BaseHPA: 1 << 40, WindowSize: uint64(ways) << 28, InterleaveWays: ways, GranularityBytes: 256 << n}
			for i := range ways {
				w.Targets = append(w.Targets, uint32(100+i))
			}
			b, err := (&CEDT{Windows: []CFMWS{w}}).Encode()
			if err != nil {
				t.Fatalf("%d ways, %d B: %v", ways, w.GranularityBytes, err)
			}
			back, err := DecodeCEDT(b)
			if err != nil || !reflect.DeepEqual(back.Windows, []CFMWS{w}) {
				t.Fatalf("%d ways, %d B: %v %+v", ways, w.GranularityBytes, err, back)
			}
		}
	}
}

func TestCEDTEncodeRefuses(t *testing.T) {
	good := sampleCEDT().Windows[0]
	for _, tc := range []struct {
		name string
		mut  func(*CFMWS)
		want string
	}{
		{"5 ways", func(w *CFMWS) { w.InterleaveWays, w.Targets = 5, []uint32{1, 2, 3, 4, 5} }, "interleave ways 5"},
		{"targets", func(w *CFMWS) { w.Targets = []uint32{7} }, "1 interleave targets for 2 ways"},
		{"granularity 512+1", func(w *CFMWS) { w.GranularityBytes = 513 }, "granularity 513"},
		{"granularity 32K", func(w *CFMWS) { w.GranularityBytes = 32768 }, "HBIG"},
		{"base", func(w *CFMWS) { w.BaseHPA += 1 << 20 }, "not 256 MiB aligned"},
		{"size", func(w *CFMWS) { w.WindowSize = 3 << 20 }, "not 256 MiB aligned"},
		{"arithmetic", func(w *CFMWS) { w.InterleaveArithmetic = 2 }, "interleave arithmetic 2"},
	} {
		w := good
		w.Targets = append([]uint32(nil), good.Targets...)
		tc.mut(&w)
		_, err := (&CEDT{Windows: []CFMWS{w}}).Encode()
		if !errors.Is(err, ErrTable) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestDecodeCEDTRefuses corrupts one field of a good image at a time (and
// re-seals it) and expects cxl_acpi_cfmws_verify()'s verdict, naming the field.
func TestDecodeCEDTRefuses(t *testing.T) {
	good, err := sampleCEDT().Encode()
	if err != nil {
		t.Fatal(err)
	}
	cf := headerLen + 2*32 // the CFMWS
	for _, tc := range []struct {
		name string
		mut  func(b []byte) []byte
		want string
	}{
		{"ENIW 5", func(b []byte) []byte { b[cf+24] = 5; return b }, "ENIW (Interleave Ways) 5 invalid"},
		{"ENIW 11", func(b []byte) []byte { b[cf+24] = 11; return b }, "ENIW (Interleave Ways) 11 invalid"},
		{"ENIW 4 in 44 bytes", func(b []byte) []byte { b[cf+24] = 4; return b }, "record length 44 less than expected 100"},
		{"HBIG 7", func(b []byte) []byte { b[cf+28] = 7; return b }, "HBIG (Host Bridge Interleave Granularity) 7"},
		{"arithmetic", func(b []byte) []byte { b[cf+25] = 2; return b }, "Interleave Arithmetic 2"},
		{"base", func(b []byte) []byte { b[cf+10] = 0x10; return b }, "Base HPA"},
		{"size", func(b []byte) []byte { b[cf+18] = 0x10; return b }, "Window Size"},
		{"CFMWS short", func(b []byte) []byte { b[cf+2] = 20; return append(b[:cf+20], b[cf+44:]...) }, "record length 20, fixed part is 36"},
		{"CHBS length", func(b []byte) []byte { b[headerLen+2] = 28; return append(b[:headerLen+28], b[headerLen+32:]...) }, "CHBS at 0x24: record length 28"},
		{"record past end", func(b []byte) []byte { b[cf+2] = 0xFF; return b }, "record length 255"},
		{"record length 0", func(b []byte) []byte { b[cf+2] = 0; return b }, "record length 0"},
		{"truncated header", func(b []byte) []byte { return append(b, 1, 0) }, "truncated subtable header"},
	} {
		b := seal(tc.mut(append([]byte(nil), good...)))
		_, err := DecodeCEDT(b)
		if !errors.Is(err, ErrTable) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if _, err := DisassembleCEDT(b); err == nil {
			t.Errorf("%s: disassembles", tc.name)
		}
	}
	bad := append([]byte(nil), good...)
	bad[cf+8] ^= 0x10
	if _, err := DecodeCEDT(bad); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("unsealed corruption: %v", err)
	}
}

// TestDecodeCEDTTolerates: what Linux accepts, DecodeCEDT accepts — a CFMWS
// longer than its targets need, and subtable types it does not know.
func TestDecodeCEDTTolerates(t *testing.T) {
	good, _ := sampleCEDT().Encode()
	cf := headerLen + 2*32
	b := append([]byte(nil), good[:cf+44]...)
	b[cf+2] = 48
	b = append(b, 0xAA, 0xBB, 0xCC, 0xDD)              // a spare target slot
	b = append(b, 2, 0, 8, 0, 0, 0, 0, 0)              // a CXIMS-typed record
	b = append(b, 5, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0) // a CSDS-typed record
	c, err := DecodeCEDT(seal(b))
	if err != nil {
		t.Fatal(err)
	}
	if c.Unknown != 2 || !reflect.DeepEqual(c.Windows, sampleCEDT().Windows) || len(c.HostBridges) != 2 {
		t.Fatalf("%+v", c)
	}
}

func TestCHBSUsable(t *testing.T) {
	for _, tc := range []struct {
		c    CHBS
		want bool
	}{
		{CHBS{CXLVersion: CHBSVersionCXL2, Base: 1 << 32, Length: CHBSLengthCXL2}, true},
		{CHBS{CXLVersion: CHBSVersionRCH, Base: 1 << 32, Length: CHBSLengthRCH}, true},
		{CHBS{CXLVersion: CHBSVersionCXL2, Base: 1 << 32, Length: CHBSLengthRCH}, false},
		{CHBS{CXLVersion: CHBSVersionCXL2, Length: CHBSLengthCXL2}, false},
		{CHBS{CXLVersion: 2, Base: 1 << 32, Length: CHBSLengthCXL2}, false},
	} {
		if got := tc.c.Usable(); got != tc.want {
			t.Errorf("%+v: %v", tc.c, got)
		}
	}
}

func TestDisassembleCEDT(t *testing.T) {
	b, err := sampleCEDT().Encode()
	if err != nil {
		t.Fatal(err)
	}
	txt, err := DisassembleCEDT(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`[000h 0000   4]                    Signature : "CEDT"    [CXL Early Discovery Table]`,
		"[024h 0036   1]                Subtable Type : 00 [CXL Host Bridge Structure]",
		"[028h 0040   4]       Associated host bridge : 00000007",
		"[034h 0052   8]                Register base : 0000010370400000",
		"[064h 0100   1]                Subtable Type : 01 [CXL Fixed Memory Window Structure]",
		"[06Ch 0108   8]          Window base address : 0000001000000000",
		"[07Ch 0124   1]     Interleave Members (2^n) : 01 [2 way]",
		"[084h 0132   2] Restrictions (decoded below) : 0006",
		"Host-Only Coherent (Type 3) : 1",
		"Volatile : 1",
		"Persistent : 0",
		"[088h 0136   4]                 First Target : 00000007",
		"[08Ch 0140   4]                Second Target : 00000006",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("disassembly lacks %q:\n%s", want, txt)
		}
	}
}

func sampleGenericPort() GenericPortAffinity {
	return GenericPortAffinity{ProximityDomain: 2, HID: "ACPI0016", UID: 7, Flags: GenericPortEnabled}
}

// TestSRATGenericPortGolden pins the type 6 layout (ACPI 6.5 Table 5.59/5.61).
func TestSRATGenericPortGolden(t *testing.T) {
	s := sampleSRAT()
	plain := s.Encode()
	s.GenericPorts = []GenericPortAffinity{sampleGenericPort()}
	b := s.Encode()
	want := mustHex(t, `
		06 20 00 00  // Type 6, Length 32, Reserved, Device Handle Type 0 (ACPI)
		02000000  // Proximity Domain 2
		4143504930303136  // _HID "ACPI0016"
		07000000  // _UID 7
		00000000  // Reserved
		01000000  // Flags: Enabled
		00000000  // Reserved`)
	if len(b) != len(plain)+32 || !bytes.Equal(b[len(plain):], want) {
		t.Fatalf("generic port\n got % X\nwant % X", b[len(plain):], want)
	}
	if !bytes.Equal(b[sratFixed:len(plain)], plain[sratFixed:]) {
		t.Fatal("generic port moved the CPU and memory entries")
	}
	back, err := DecodeSRAT(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Unknown != 0 || !reflect.DeepEqual(back.GenericPorts, s.GenericPorts) || !reflect.DeepEqual(back.Memory, s.Memory) {
		t.Fatalf("%+v", back)
	}
	txt, err := DisassembleSRAT(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Subtable Type : 06 [Generic Port Affinity]", "Device Handle Type : 00 [ACPI]",
		`_HID "ACPI0016" _UID 7`, "Architectural Transactions : 0"} {
		if !strings.Contains(txt, w) {
			t.Errorf("disassembly lacks %q:\n%s", w, txt)
		}
	}
	// A PCI device handle (type 1) is a valid Generic Port this model does
	// not carry: skipped and counted, like any other unknown subtable.
	pci := append([]byte(nil), b...)
	pci[len(plain)+3] = 1
	if back, err := DecodeSRAT(seal(pci)); err != nil || back.Unknown != 1 || len(back.GenericPorts) != 0 {
		t.Fatalf("PCI handle: %v %+v", err, back)
	}
	short := append(append([]byte(nil), b[:len(plain)]...), 6, 24)
	short = append(short, make([]byte, 22)...)
	if _, err := DecodeSRAT(seal(short)); !errors.Is(err, ErrTable) || !strings.Contains(err.Error(), "type 6") {
		t.Fatalf("24-byte generic port: %v", err)
	}
}

// TestSRATBytesUnchanged: a table without generic ports encodes exactly as
// before they existed (header, reserved dword, CPU then memory entries).
func TestSRATBytesUnchanged(t *testing.T) {
	b := sampleSRAT().Encode()
	if len(b) != sratFixed+2*24+3*40 {
		t.Fatalf("length %d", len(b))
	}
	if b[sratFixed] != 2 || b[sratFixed+2*24] != 1 {
		t.Fatalf("entry order % X", b[sratFixed:sratFixed+2])
	}
}

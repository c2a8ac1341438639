package cxl

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// sampleCDAT is a 256 GiB type-3 expander: one volatile range, access
// latency 250 ns and bandwidth 32 GB/s at the device port, soft-reserved.
func sampleCDAT() *CDAT {
	return &CDAT{
		Revision: CDATRevision, Sequence: 3,
		DSMAS: []DSMAS{{Handle: 0, DPABase: 0, DPALength: 256 << 30}, {Handle: 1, Flags: DSMASNonVolatile, DPABase: 256 << 30, DPALength: 64 << 30}},
		DSLBIS: []DSLBIS{
			{Handle: 0, DataType: AccessLatency, BaseUnit: 1000, Entries: [3]uint16{250}},
			{Handle: 0, DataType: AccessBandwidth, BaseUnit: 1000, Entries: [3]uint16{32}},
			{Handle: 1, DataType: ReadLatency, BaseUnit: 10000, Entries: [3]uint16{60}},
		},
		DSEMTS: []DSEMTS{{Handle: 0, MemoryType: EfiMemorySP, DPAOffset: 0, DPALength: 256 << 30}},
	}
}

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

// TestCDATGoldenLayout pins the header and one DSMAS and DSLBIS against
// CDAT 1.04 Tables 1-4, offsets counted by hand.
func TestCDATGoldenLayout(t *testing.T) {
	c := &CDAT{Revision: 1, Sequence: 0x01020304,
		DSMAS:  []DSMAS{{Handle: 5, Flags: DSMASNonVolatile | DSMASReadOnly, DPABase: 0x40000000, DPALength: 0x4000000000}},
		DSLBIS: []DSLBIS{{Handle: 5, Flags: 0, DataType: ReadBandwidth, BaseUnit: 0x10, Entries: [3]uint16{0x1234, 0, 0xABCD}}}}
	b := c.Encode()
	want := mustHex(t, `
		40000000          // Length 64 = 16 + 2*24
		01 CC             // Revision 1, Checksum
		000000000000      // Reserved
		04030201          // Sequence
		00 00 1800        // DSMAS: Type 0, Reserved, Length 24
		05 44 0000        // DSMAD Handle 5, Flags NonVolatile|ReadOnly, Reserved
		0000004000000000  // DPA Base 0x4000_0000
		0000000040000000  // DPA Length 0x40_0000_0000
		01 00 1800        // DSLBIS: Type 1, Reserved, Length 24
		05 00 04 00       // Handle 5, Flags 0 (memory), Data Type 4 (read bandwidth), Reserved
		1000000000000000  // Entry Base Unit 16
		3412 0000 CDAB    // Entry[0..2]
		0000              // Reserved`)
	var sum byte
	for _, v := range b {
		sum += v
	}
	want[5] = b[5] // the checksum byte is checked by summing, below
	if !bytes.Equal(b, want) || sum != 0 {
		t.Fatalf("CDAT (sum 0x%02X)\n got % X\nwant % X", sum, b, want)
	}
	back, err := DecodeCDAT(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip\n got %+v\nwant %+v", back, c)
	}
}

func TestCDATRoundTrip(t *testing.T) {
	c := sampleCDAT()
	back, err := DecodeCDAT(c.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("\n got %+v\nwant %+v", back, c)
	}
	if _, err := DecodeCDAT((&CDAT{}).Encode()); err != nil {
		t.Fatalf("header-only CDAT: %v", err)
	}
}

func TestDecodeCDATRefuses(t *testing.T) {
	good := sampleCDAT().Encode()
	reseal := func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b, uint32(len(b)))
		b[5] = 0
		var s byte
		for _, v := range b {
			s += v
		}
		b[5] = -s
		return b
	}
	for _, tc := range []struct {
		name string
		b    func() []byte
		want string
	}{
		{"short", func() []byte { return good[:10] }, "header needs 16"},
		{"length past end", func() []byte { b := bytes.Clone(good); b[0]++; return b }, "header Length"},
		{"length under header", func() []byte { b := bytes.Clone(good); binary.LittleEndian.PutUint32(b, 8); return b }, "header Length 8"},
		{"checksum", func() []byte { b := bytes.Clone(good); b[30] ^= 1; return b }, "CDAT checksum mismatch"},
		{"DSMAS length", func() []byte {
			b := bytes.Clone(good[:16+20])
			b[18] = 20
			return reseal(b)
		}, "DSMAS at 0x10 has Length 20, want 24"},
		{"DSLBIS length", func() []byte {
			b := append(bytes.Clone(good[:16]), 1, 0, 28, 0)
			return reseal(append(b, make([]byte, 24)...))
		}, "DSLBIS at 0x10 has Length 28"},
		{"structure length 2", func() []byte { b := bytes.Clone(good); b[18], b[19] = 2, 0; return reseal(b) }, "Length 2"},
		{"structure past end", func() []byte { b := bytes.Clone(good); b[19] = 1; return reseal(b) }, "Length 280"},
		{"truncated structure header", func() []byte { return reseal(append(bytes.Clone(good), 0, 0)) }, "truncated structure header"},
	} {
		_, err := DecodeCDAT(tc.b())
		if !errors.Is(err, ErrCDAT) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// Unknown structure types (DSMSCIS, DSIS, SSLBIS, reserved) are skipped.
	b := append(bytes.Clone(good), TypeDSIS, 0, 8, 0, 1, 0, 0, 0, 0xFE, 0, 4, 0)
	c, err := DecodeCDAT(reseal(b))
	if err != nil || c.Unknown != 2 || len(c.DSMAS) != 2 {
		t.Fatalf("unknown structures: %v %+v", err, c)
	}
}

func TestLatencyBandwidth(t *testing.T) {
	c := sampleCDAT()
	for _, tc := range []struct {
		name      string
		got       func() (uint64, bool)
		want      uint64
		wantFound bool
	}{
		{"access latency", func() (uint64, bool) { return c.Latency(0, AccessLatency) }, 250_000, true},
		{"access bandwidth", func() (uint64, bool) { return c.Bandwidth(0, AccessBandwidth) }, 32_000, true},
		{"read latency handle 1", func() (uint64, bool) { return c.Latency(1, ReadLatency) }, 600_000, true},
		{"no write latency", func() (uint64, bool) { return c.Latency(0, WriteLatency) }, 0, false},
		{"bandwidth type asked as latency", func() (uint64, bool) { return c.Latency(0, AccessBandwidth) }, 0, false},
		{"latency type asked as bandwidth", func() (uint64, bool) { return c.Bandwidth(0, AccessLatency) }, 0, false},
		{"no such DSMAS", func() (uint64, bool) { return c.Latency(9, AccessLatency) }, 0, false},
	} {
		got, ok := tc.got()
		if got != tc.want || ok != tc.wantFound {
			t.Errorf("%s: %d %v, want %d %v", tc.name, got, ok, tc.want, tc.wantFound)
		}
	}
	// A DSLBIS for a DSMAS that does not exist is ignored (Linux: "No
	// matching DSMAS entry"), as is one not describing memory.
	c.DSLBIS = append(c.DSLBIS, DSLBIS{Handle: 7, DataType: WriteLatency, BaseUnit: 1, Entries: [3]uint16{5}},
		DSLBIS{Handle: 1, Flags: 1, DataType: AccessBandwidth, BaseUnit: 1, Entries: [3]uint16{5}})
	if _, ok := c.Latency(7, WriteLatency); ok {
		t.Error("latency for a handle without DSMAS")
	}
	if _, ok := c.Bandwidth(1, AccessBandwidth); ok {
		t.Error("bandwidth from a non-memory-hierarchy DSLBIS")
	}
	c.DSLBIS = []DSLBIS{{Handle: 0, DataType: AccessLatency, BaseUnit: 1 << 63, Entries: [3]uint16{4}}}
	if _, ok := c.Latency(0, AccessLatency); ok {
		t.Error("overflowing latency reported")
	}
}

func TestDisassembleCDAT(t *testing.T) {
	txt, err := DisassembleCDAT(sampleCDAT().Encode())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"[000h 0000   4]            CDAT Table Length : 000000A0",
		"[00Ch 0012   4]                     Sequence : 00000003",
		"[010h 0016   1]                Subtable Type : 00 [Device Scoped Memory Affinity Structure]",
		"[030h 0048   8]             DPA Base Address : 0000004000000000",
		"Non-Volatile : 1",
		"Subtable Type : 01 [Device Scoped Latency and Bandwidth Information Structure]",
		"Data Type : 03 [Access Bandwidth]",
		"Entry0 : 00FA",
		"Memory Type : 01 [EfiConventionalMemory, EFI_MEMORY_SP]",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("disassembly lacks %q:\n%s", want, txt)
		}
	}
	if _, err := DisassembleCDAT([]byte{1, 2}); !errors.Is(err, ErrCDAT) {
		t.Fatalf("garbage: %v", err)
	}
}

func FuzzDecodeCDAT(f *testing.F) {
	f.Add(sampleCDAT().Encode())
	f.Add((&CDAT{Revision: 1}).Encode())
	f.Add(append(sampleCDAT().Encode(), TypeSSLBIS, 0, 4, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCDAT(b)
		if err != nil {
			if !errors.Is(err, ErrCDAT) {
				t.Fatalf("error does not wrap ErrCDAT: %v", err)
			}
			return
		}
		if _, err := DisassembleCDAT(b); err != nil {
			t.Fatalf("decodes but does not disassemble: %v", err)
		}
		enc := c.Encode()
		again, err := DecodeCDAT(enc)
		if err != nil {
			t.Fatalf("re-encoded table does not decode: %v", err)
		}
		again.Unknown = c.Unknown // unknown structures are skipped, not carried
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip changed the table:\n%+v\n%+v", c, again)
		}
		if c.Unknown == 0 && len(enc) > int(binary.LittleEndian.Uint32(b)) {
			t.Fatalf("re-encoding grew the table from %d to %d bytes", binary.LittleEndian.Uint32(b), len(enc))
		}
	})
}

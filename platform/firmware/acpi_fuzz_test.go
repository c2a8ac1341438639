package firmware

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func sampleSRAT() *SRAT {
	return &SRAT{
		CPUs: []X2APICAffinity{{ProximityDomain: 0, X2APICID: 0, Flags: 1}, {ProximityDomain: 1, X2APICID: 64, Flags: 1}},
		Memory: []MemoryAffinity{{0, 0, LowMMIOBase, SRATEnabled}, {0, fourGiB, 64 * GiB, SRATEnabled},
			{1, 128 * GiB, 32 * GiB, SRATEnabled | SRATHotPluggable}},
	}
}

func sampleHMAT() *HMAT {
	return &HMAT{
		Proximity: []ProximityAttributes{{Flags: 1, InitiatorPD: 0, MemoryPD: 0}, {Flags: 1, InitiatorPD: 1, MemoryPD: 1}},
		Locality: []Locality{{DataType: HMATAccessLatency, BaseUnit: 100, Initiators: []uint32{0, 1}, Targets: []uint32{0, 1},
			Entries: []uint16{900, 1400, 1400, 900}}},
	}
}

func TestTableChecksumAndCorruption(t *testing.T) {
	b := sampleSRAT().Encode()
	var sum byte
	for _, c := range b {
		sum += c
	}
	if sum != 0 {
		t.Fatalf("checksum sums to %#x", sum)
	}
	b[60] ^= 1
	if _, err := DecodeSRAT(b); !errors.Is(err, ErrTable) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("corrupt SRAT: %v", err)
	}
	if _, err := DecodeHMAT(sampleSRAT().Encode()); !errors.Is(err, ErrTable) {
		t.Fatalf("SRAT parsed as HMAT: %v", err)
	}
	txt, err := DisassembleSRAT(sampleSRAT().Encode())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[000h 0000   4]                    Signature : \"SRAT\"", "Subtable Type : 01 [Memory Affinity]",
		"Base Address : 0000000100000000", "Processor Local x2APIC Affinity"} {
		if !strings.Contains(txt, want) {
			t.Fatalf("disassembly lacks %q:\n%s", want, txt)
		}
	}
}

func FuzzDecodeSRAT(f *testing.F) {
	f.Add(sampleSRAT().Encode())
	f.Add((&SRAT{}).Encode())
	f.Add([]byte("SRAT"))
	gp := sampleSRAT()
	gp.GenericPorts = []GenericPortAffinity{sampleGenericPort(), {ProximityDomain: 3, HID: "ACPI0016", UID: 8,
		Flags: GenericPortEnabled | GenericPortArchitecturalTransactions}}
	f.Add(gp.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSRAT(b)
		if err != nil {
			return
		}
		if _, err := DisassembleSRAT(b); err != nil {
			t.Fatalf("decodes but does not disassemble: %v", err)
		}
		again, err := DecodeSRAT(s.Encode())
		if err != nil {
			t.Fatalf("re-encoded table does not decode: %v", err)
		}
		if !reflect.DeepEqual(again.CPUs, s.CPUs) || !reflect.DeepEqual(again.Memory, s.Memory) ||
			!reflect.DeepEqual(again.GenericPorts, s.GenericPorts) {
			t.Fatalf("round trip changed entries")
		}
	})
}

func FuzzDecodeCEDT(f *testing.F) {
	if b, err := sampleCEDT().Encode(); err == nil {
		f.Add(b)
	}
	xor := sampleCEDT()
	xor.Windows = append(xor.Windows, CFMWS{BaseHPA: 0x2000000000, WindowSize: 0x300000000, InterleaveWays: 12,
		InterleaveArithmetic: CFMWSArithmeticXOR, GranularityBytes: 16384, Restrictions: CFMWSHostOnlyCoherent | CFMWSPersistent,
		Targets: []uint32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}})
	if b, err := xor.Encode(); err == nil {
		f.Add(b)
	}
	if b, err := (&CEDT{}).Encode(); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCEDT(b)
		if err != nil {
			return
		}
		if _, err := DisassembleCEDT(b); err != nil {
			t.Fatalf("decodes but does not disassemble: %v", err)
		}
		for _, w := range c.Windows {
			if len(w.Targets) != w.InterleaveWays || w.GranularityBytes < 256 || w.GranularityBytes > 16384 {
				t.Fatalf("decoded window breaks its invariants: %+v", w)
			}
		}
		enc, err := c.Encode()
		if err != nil {
			t.Fatalf("decoded table does not re-encode: %v", err)
		}
		again, err := DecodeCEDT(enc)
		if err != nil {
			t.Fatalf("re-encoded table does not decode: %v", err)
		}
		again.Header.Length, again.Header.Checksum = c.Header.Length, c.Header.Checksum
		again.Unknown = c.Unknown // unknown subtables are skipped, not carried
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip changed the table:\n%+v\n%+v", c, again)
		}
	})
}

func FuzzDecodeHMAT(f *testing.F) {
	f.Add(sampleHMAT().Encode())
	f.Add((&HMAT{}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHMAT(b)
		if err != nil {
			return
		}
		if _, err := DisassembleHMAT(b); err != nil {
			t.Fatalf("decodes but does not disassemble: %v", err)
		}
		again, err := DecodeHMAT(h.Encode())
		if err != nil {
			t.Fatalf("re-encoded table does not decode: %v", err)
		}
		if !reflect.DeepEqual(again.Proximity, h.Proximity) || !reflect.DeepEqual(again.Locality, h.Locality) {
			t.Fatalf("round trip changed structures")
		}
	})
}

package spd

import (
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	cases := []Spec{
		{Type: DDR5, BaseModule: RDIMM, CapacityGiB: 32, Ranks: 1, SpeedMTs: 4800, Manufacturer: "Samsung", PartNumber: "M321R4GA3BB6-CQK", SerialNumber: 0x1234ABCD, ManufactureYW: 0x2514},
		{Type: DDR5, BaseModule: RDIMM, CapacityGiB: 64, Ranks: 2, SpeedMTs: 5600, Manufacturer: "Micron", PartNumber: "MTC40F2046S1RC56BD1", SerialNumber: 1},
		{Type: DDR5, BaseModule: RDIMM, CapacityGiB: 96, Ranks: 2, SpeedMTs: 5600, Manufacturer: "SK hynix", PartNumber: "HMCGM4MGBRB240N", SerialNumber: 2},
		{Type: DDR5, BaseModule: RDIMM, CapacityGiB: 128, Ranks: 2, SpeedMTs: 4800, Manufacturer: "Samsung", PartNumber: "M321RAGA0B20-CWK", SerialNumber: 3},
		{Type: DDR4, BaseModule: RDIMM, CapacityGiB: 32, Ranks: 2, SpeedMTs: 3200, Manufacturer: "Samsung", PartNumber: "M393A4K40EB3-CWE", SerialNumber: 4},
		{Type: DDR4, BaseModule: UDIMM, CapacityGiB: 16, Ranks: 2, SpeedMTs: 2666, Manufacturer: "Kingston", PartNumber: "KSM26ED8/16HD", SerialNumber: 5},
	}
	for _, c := range cases {
		img, err := Encode(c)
		if err != nil {
			t.Fatalf("Encode(%+v): %v", c, err)
		}
		m, err := Decode(img)
		if err != nil {
			t.Fatalf("Decode(%+v): %v", c, err)
		}
		if m.Type != c.Type || m.BaseModule != c.BaseModule || m.CapacityMiB != uint64(c.CapacityGiB)*1024 ||
			m.Ranks != c.Ranks || m.SpeedMTs != c.SpeedMTs || m.PartNumber != c.PartNumber || !m.ECC() {
			t.Errorf("round trip of %+v gave %+v", c, m)
		}
		if m.ManufactureYW != c.ManufactureYW {
			t.Errorf("date: got %04x want %04x", m.ManufactureYW, c.ManufactureYW)
		}
	}
}

func TestDecodeDetectsCorruption(t *testing.T) {
	img, err := Encode(Spec{Type: DDR5, BaseModule: RDIMM, CapacityGiB: 32, Ranks: 1, SpeedMTs: 4800, Manufacturer: "Samsung", PartNumber: "X"})
	if err != nil {
		t.Fatal(err)
	}
	img[4] ^= 0x01
	if _, err := Decode(img); !errors.Is(err, ErrCRC) {
		t.Fatalf("flipped density bit: got %v, want ErrCRC", err)
	}
	if _, err := Decode(img[:100]); !errors.Is(err, ErrTruncated) {
		t.Fatalf("short image: got %v, want ErrTruncated", err)
	}
}

func TestEncodeRejects(t *testing.T) {
	base := Spec{Type: DDR5, BaseModule: RDIMM, CapacityGiB: 32, Ranks: 1, SpeedMTs: 4800, Manufacturer: "Samsung"}
	bad := []func(*Spec){
		func(s *Spec) { s.CapacityGiB = 33 },
		func(s *Spec) { s.Ranks = 0 },
		func(s *Spec) { s.Type = "DDR3" },
		func(s *Spec) { s.Manufacturer = "Acme" },
		func(s *Spec) { s.BaseModule = "SIMM" },
		func(s *Spec) { s.PartNumber = "ä" },
		func(s *Spec) { s.SpeedMTs = 0 },
	}
	for i, f := range bad {
		s := base
		f(&s)
		if _, err := Encode(s); !errors.Is(err, ErrUnsupported) {
			t.Errorf("case %d (%+v): got %v, want ErrUnsupported", i, s, err)
		}
	}
}

// CRC-16/XMODEM check value from the CRC catalogue.
func TestCRC16(t *testing.T) {
	if got := CRC16([]byte("123456789")); got != 0x31C3 {
		t.Fatalf("CRC16 check value = %04X, want 31C3", got)
	}
}

func FuzzDecode(f *testing.F) {
	img, _ := Encode(Spec{Type: DDR5, BaseModule: RDIMM, CapacityGiB: 32, Ranks: 1, SpeedMTs: 4800, Manufacturer: "Samsung", PartNumber: "M321R4GA3BB6-CQK"})
	f.Add(img)
	img4, _ := Encode(Spec{Type: DDR4, BaseModule: RDIMM, CapacityGiB: 32, Ranks: 2, SpeedMTs: 3200, Manufacturer: "Samsung"})
	f.Add(img4)
	f.Add([]byte{0, 0, 0x12})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		// Whatever decodes must be a module firmware could size.
		if m.CapacityMiB == 0 || m.Ranks < 1 || m.DataWidthBits == 0 {
			t.Fatalf("decoded nonsense %+v", m)
		}
	})
}

package ipmi

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
)

func parseFRU(t *testing.T, data []byte) *types.FRU {
	t.Helper()
	f, err := types.ParseFRU(data)
	if err != nil {
		t.Fatalf("ParseFRU: %v", err)
	}
	return f
}

func TestSystemFRU(t *testing.T) {
	snap := newPlatform(t).Snapshot()
	data, err := fruImage(snap, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := parseFRU(t, data)
	sys := snap.System
	b, pr := f.BoardInfoArea, f.ProductInfoArea
	if b == nil || pr == nil {
		t.Fatalf("board %v product %v: want both areas", b, pr)
	}
	for name, got := range map[string][2]string{
		"board mfg":       {string(b.Manufacturer), sys.Manufacturer},
		"board product":   {string(b.ProductName), sys.Model},
		"board serial":    {string(b.SerialNumber), sys.SerialNumber},
		"board part":      {string(b.PartNumber), sys.PartNumber},
		"product mfg":     {string(pr.Manufacturer), sys.Manufacturer},
		"product name":    {string(pr.Name), sys.Model},
		"product serial":  {string(pr.SerialNumber), sys.SerialNumber},
		"product part no": {string(pr.PartModel), sys.PartNumber},
	} {
		if got[0] != got[1] {
			t.Errorf("%s = %q, want %q", name, got[0], got[1])
		}
	}
}

func TestDIMMFRU(t *testing.T) {
	p := newPlatform(t)
	mod := insert64(t, p, "CPU0_DIMM_A2")
	snap := p.Snapshot()
	slot, _ := snap.Slot("CPU0_DIMM_A2")

	data, err := fruImage(snap, fruDeviceID(slot.Ordinal))
	if err != nil {
		t.Fatal(err)
	}
	f := parseFRU(t, data)
	b := f.BoardInfoArea
	if string(b.Manufacturer) != mod.Manufacturer || string(b.SerialNumber) != mod.SerialNumber || string(b.PartNumber) != mod.PartNumber {
		t.Errorf("board = %q %q %q, want %q %q %q", b.Manufacturer, b.SerialNumber, b.PartNumber, mod.Manufacturer, mod.SerialNumber, mod.PartNumber)
	}
	if got := string(b.ProductName); got != "64 GiB DDR5 RDIMM 4800 MT/s" {
		t.Errorf("board product = %q", got)
	}
	if want := manufactureDate(mod.ManufactureYW); !b.MfgDateTime.Equal(want) || want.IsZero() {
		t.Errorf("mfg date = %v, want %v", b.MfgDateTime, want)
	}
	var extra []string
	for _, c := range b.Custom {
		extra = append(extra, string(c.Data))
	}
	if got := strings.Join(extra, "|"); !strings.Contains(got, "Capacity: 65536 MiB") || !strings.Contains(got, "Slot: CPU0_DIMM_A2") {
		t.Errorf("board extra = %q", got)
	}
	if string(f.ProductInfoArea.PartModel) != mod.PartNumber || string(f.ProductInfoArea.SerialNumber) != mod.SerialNumber {
		t.Errorf("product area = %+v", f.ProductInfoArea)
	}

	ids := fruDeviceIDs(snap)
	if len(ids) != 1+snap.Populated()+4 || ids[0] != 0 || !slices.Equal(ids[len(ids)-4:], []uint8{0x60, 0x61, 0x68, 0x69}) {
		t.Errorf("device IDs = %v, want board + %d DIMMs + CPU0, CPU1, LOM, NIC1", ids, snap.Populated())
	}
}

// The processors' and NICs' FRUs carry what the platform says of them.
func TestPartFRUs(t *testing.T) {
	snap := newPlatform(t).Snapshot()
	for _, c := range snap.Hardware.Processors {
		data, err := fruImage(snap, uint8(0x60+c.Socket))
		if err != nil {
			t.Fatal(err)
		}
		f := parseFRU(t, data)
		b, pr := f.BoardInfoArea, f.ProductInfoArea
		var extra []string
		for _, x := range b.Custom {
			extra = append(extra, string(x.Data))
		}
		if string(b.Manufacturer) != c.Manufacturer || string(b.ProductName) != c.Model || string(b.SerialNumber) != c.SerialNumber ||
			string(pr.Version) != c.Microcode || strings.Join(extra, "|") != "Socket: "+c.ID+"|Cores: 32 Threads: 64|Speed: 2100 MHz, max 4100 MHz|TDP: 225 W|Microcode: 0x2b0004d0" {
			t.Errorf("%s FRU board %+v extra %q product %+v", c.ID, b, extra, pr)
		}
	}
	for i, n := range snap.Hardware.NICs {
		data, err := fruImage(snap, uint8(0x68+i))
		if err != nil {
			t.Fatal(err)
		}
		f := parseFRU(t, data)
		b := f.BoardInfoArea
		var extra []string
		for _, x := range b.Custom {
			extra = append(extra, string(x.Data))
		}
		want := []string{fmt.Sprintf("Ports: 2 x %d Mb/s", n.SpeedMbps), "MAC 1: " + strings.ToUpper(n.Ports[0].MAC), "MAC 2: " + strings.ToUpper(n.Ports[1].MAC), "PXE: yes"}
		if string(b.ProductName) != n.Model || string(b.SerialNumber) != n.SerialNumber || string(b.PartNumber) != n.PartNumber ||
			string(f.ProductInfoArea.Version) != n.FirmwareVersion || !slices.Equal(extra, want) {
			t.Errorf("%s FRU board %+v extra %q", n.ID, b, extra)
		}
	}
	// LOM port 1 is the boot port inventories already know.
	if lom := snap.Hardware.NICs[0]; lom.Ports[0].MAC != platform.HostNICMAC(snap.System.SerialNumber).String() {
		t.Errorf("LOM port 1 MAC %s", lom.Ports[0].MAC)
	}
	for _, id := range []uint8{0x62, 0x6A, 0x70} {
		if _, err := fruImage(snap, id); !errors.Is(err, hal.ErrNotFound) {
			t.Errorf("fruImage(%#x) err = %v, want ErrNotFound", id, err)
		}
	}
}

func TestFRUMissingDevices(t *testing.T) {
	snap := newPlatform(t).Snapshot()
	empty, _ := snap.Slot("CPU0_DIMM_B2")
	for _, id := range []uint8{fruDeviceID(empty.Ordinal), 200, 0xFF} {
		if _, err := fruImage(snap, id); !errors.Is(err, hal.ErrNotFound) {
			t.Errorf("fruImage(%d) err = %v, want ErrNotFound", id, err)
		}
	}
}

func TestFRUField(t *testing.T) {
	for in, want := range map[string]string{"": "", "X": "X ", "ok": "ok", "caf\u00e9": "caf?", strings.Repeat("a", 70): strings.Repeat("a", 63)} {
		tl, b := field(in)
		if string(b) != want || int(tl.Length()) != len(want) || tl.TypeCode() != 3 {
			t.Errorf("field(%q) = %#02x %q, want %q", in, uint8(tl), b, want)
		}
		if uint8(tl) == 0xC1 {
			t.Errorf("field(%q) encodes as the end-of-fields marker", in)
		}
	}
}

func TestManufactureDate(t *testing.T) {
	for yw, want := range map[uint16]time.Time{
		0x2514: time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC),
		0x2540: time.Date(2025, 9, 29, 0, 0, 0, 0, time.UTC),
		0x2101: time.Date(2021, 1, 4, 0, 0, 0, 0, time.UTC),
		0x0000: {}, // week 0
		0x2554: {}, // week 54
		0x1A10: {}, // not BCD
		0x250F: {},
	} {
		if got := manufactureDate(yw); !got.Equal(want) {
			t.Errorf("manufactureDate(%#04x) = %v, want %v", yw, got, want)
		}
	}
}

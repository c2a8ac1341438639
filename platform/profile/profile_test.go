package profile

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestDefault(t *testing.T) {
	p := Default()
	if n := p.ReservePerSlotGiB(); n != 64 || p.AddressBits() != 46 {
		t.Fatalf("reservation %d GiB per slot, %d address bits", n, p.AddressBits())
	}
	if n := len(p.SlotNames()); n != 32 {
		t.Fatalf("%d slots", n)
	}
	if _, ok := p.ModuleFor("CPU1_DIMM_H1"); !ok {
		t.Fatal("slot 1 of channel H not populated")
	}
	if _, ok := p.ModuleFor("CPU1_DIMM_H2"); ok {
		t.Fatal("slot 2 populated")
	}
}

func TestErrorsNameLineAndField(t *testing.T) {
	base := string(defaultYAML)
	cases := []struct {
		name, src string
		line      int
		want      string
	}{
		{"unknown field", strings.Replace(base, "  sockets: 2", "  sockets: 2\n  sokets: 3", 1), 16, "field sokets not found"},
		{"range", strings.Replace(base, "  sockets: 2", "  sockets: 12", 1), 15, "memory.sockets: must be at most 8"},
		{"type", strings.Replace(base, "  sockets: 2", "  sockets: two", 1), 15, "cannot unmarshal"},
		{"enum", strings.Replace(base, "base_module: RDIMM", "base_module: SIMM", 1), 23, "modules[0].base_module: must be one of"},
		{"missing", strings.Replace(base, "  serial_number: BMCEMU0001\n", "", 1), 5, "system.serial_number: is required"},
		{"slot pattern", strings.Replace(base, `["*1"]`, `["CPU4_*"]`, 1), 20, "matches no slot"},
		{"organisation", strings.Replace(base, "capacity_gib: 32", "capacity_gib: 33", 1), 20, "no JEDEC organisation"},
		{"syntax", base + "\n  : [", 0, "did not find expected"},
		{"controllers", strings.Replace(base, "controllers_per_socket: 4", "controllers_per_socket: 13", 1), 16, "memory.controllers_per_socket: must be at most 12"},
		{"channels", strings.Replace(base, "channels_per_controller: 2", "channels_per_controller: 5", 1), 17, "memory.channels_per_controller: must be at most 4"},
		{"channels per socket", strings.Replace(strings.Replace(base, "controllers_per_socket: 4", "controllers_per_socket: 12", 1),
			"channels_per_controller: 2", "channels_per_controller: 3", 1), 17, "memory.channels_per_controller: 12 controllers of 3 channels make 36 channels per socket; at most 32"},
		{"slots", strings.Replace(base, "slots_per_channel: 2", "slots_per_channel: 4", 1), 18, "memory.slots_per_channel: must be at most 3"},
		{"sockets", strings.Replace(base, "  sockets: 2", "  sockets: 9", 1), 15, "memory.sockets: must be at most 8"},
		{"reservation zero", strings.Replace(base, "reserve_per_slot_gib: 64", "reserve_per_slot_gib: 0", 1), 32, "hotplug.reserve_per_slot_gib: must be at least 1 (got 0)"},
		{"reservation negative", strings.Replace(base, "reserve_per_slot_gib: 64", "reserve_per_slot_gib: -8", 1), 32, "hotplug.reserve_per_slot_gib: must be at least 1 (got -8)"},
		{"reservation past the address space", strings.Replace(base, "reserve_per_slot_gib: 64", "reserve_per_slot_gib: 8192", 1), 32,
			"hotplug.reserve_per_slot_gib: 8192 GiB for each of the 16 empty slots (hotplug.reserve_per_slot_gib) and 512 GiB of modules do not fit below the 46-bit physical address space (65536 GiB)"},
		{"reservation past a narrower address space", strings.Replace(strings.Replace(base, "reserve_per_slot_gib: 64", "reserve_per_slot_gib: 1024", 1),
			"  slots_per_channel: 2", "  slots_per_channel: 2\n  physical_address_bits: 42", 1), 33, "do not fit below the 42-bit physical address space (4096 GiB)"},
		{"address bits", strings.Replace(base, "  slots_per_channel: 2", "  slots_per_channel: 2\n  physical_address_bits: 40", 1), 19, "memory.physical_address_bits: must be at least 41"},
	}
	for _, tc := range cases {
		_, err := Parse("p.yaml", []byte(tc.src))
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("%s: got %v, want *Error", tc.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || (tc.line != 0 && pe.Line != tc.line) {
			t.Errorf("%s: got %q (line %d), want line %d containing %q", tc.name, err, pe.Line, tc.line, tc.want)
		}
	}
	if _, err := Parse("e.yaml", nil); err == nil {
		t.Error("empty profile accepted")
	}
}

// TestReservationDefault: unset, the per-slot reservation is the largest
// module the profile fits, at least 64 GiB.
func TestReservationDefault(t *testing.T) {
	base := strings.Replace(string(defaultYAML), "hotplug:\n  reserve_per_slot_gib: 64\n", "", 1)
	for _, tc := range []struct {
		gib, want int
	}{{32, 64}, {128, 128}, {256, 256}} {
		src := strings.Replace(strings.Replace(base, "capacity_gib: 32", fmt.Sprintf("capacity_gib: %d", tc.gib), 1), "ranks: 1", "ranks: 2", 1)
		p, err := Parse("p.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.ReservePerSlotGiB(); got != tc.want {
			t.Errorf("%d GiB modules: %d GiB per slot, want %d", tc.gib, got, tc.want)
		}
	}
}

func TestChannelLetter(t *testing.T) {
	for ch, want := range map[int]string{0: "A", 11: "L", 25: "Z", 26: "AA", 31: "AF"} {
		if got := ChannelLetter(ch); got != want {
			t.Errorf("channel %d: %q, want %q", ch, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(defaultYAML)
	f.Add([]byte("name: x\n"))
	f.Add([]byte("memory: {sockets: -1}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse("fuzz.yaml", b)
		if err == nil && len(p.SlotNames()) == 0 {
			t.Fatal("valid profile without slots")
		}
	})
}

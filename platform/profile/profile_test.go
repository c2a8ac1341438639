package profile

import (
	"errors"
	"strings"
	"testing"
)

func TestDefault(t *testing.T) {
	p := Default()
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

package platform

import (
	"testing"

	"github.com/bmcemu/bmcemu/platform/profile"
)

// The model's numbers, worked by hand: a slot at ordinal 7 sits 2 °C above
// idle (7 mod 5), half that at ambient; 60% of the OS's memory in use adds
// 6 °C.
func TestDIMMTemperatureModel(t *testing.T) {
	seated := Slot{Ordinal: 7, Power: "Nominal", Module: &Module{}}
	k := KernelSummary{TotalRAMBytes: 100 << 20, FreeBytes: 40 << 20}
	for _, c := range []struct {
		name    string
		powerOn bool
		k       KernelSummary
		s       Slot
		want    int
	}{
		{"loaded", true, k, seated, 35 + 2 + 6},
		{"idle", true, KernelSummary{TotalRAMBytes: 100, FreeBytes: 100}, seated, 35 + 2},
		{"full", true, KernelSummary{TotalRAMBytes: 100}, seated, 35 + 2 + 10},
		{"host off", false, k, seated, 24 + 1},
		{"rail off", true, k, Slot{Ordinal: 7, Power: "Off", Module: &Module{}}, 24 + 1},
		{"no kernel", true, KernelSummary{}, seated, 35 + 2},
	} {
		got := dimmTemperature(c.powerOn, c.k, c.s)
		if got == nil || *got != c.want {
			t.Errorf("%s: %v, want %d", c.name, got, c.want)
		}
	}
	if got := dimmTemperature(true, k, Slot{Ordinal: 7, Power: "Off"}); got != nil {
		t.Errorf("empty slot reads %d", *got)
	}
}

// The snapshot carries the model's reading for every seated module and
// none for an empty slot, and follows the host's power.
func TestSnapshotTemperatures(t *testing.T) {
	p, err := New(profile.Default(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Snapshot()
	for _, sl := range s.Slots {
		want := dimmTemperature(s.PowerOn, s.Kernel, sl)
		switch {
		case sl.Module == nil && sl.TemperatureC != nil:
			t.Errorf("%s: empty slot reads %d °C", sl.Name, *sl.TemperatureC)
		case sl.Module != nil && (sl.TemperatureC == nil || *sl.TemperatureC != *want):
			t.Errorf("%s: snapshot %v, model %d", sl.Name, sl.TemperatureC, *want)
		case sl.Module != nil && *sl.TemperatureC < DIMMIdleC:
			t.Errorf("%s: host on, %d °C is below idle", sl.Name, *sl.TemperatureC)
		}
	}
	if err := p.SetPower(false); err != nil {
		t.Fatal(err)
	}
	for _, sl := range p.Snapshot().Slots {
		if sl.Module != nil && (sl.TemperatureC == nil || *sl.TemperatureC != AmbientC+sl.Ordinal%DIMMSlotSpread/2) {
			t.Errorf("%s: host off reads %v", sl.Name, sl.TemperatureC)
		}
	}
}

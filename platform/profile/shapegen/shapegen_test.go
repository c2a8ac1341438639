package shapegen

import (
	"testing"
)

// TestGenerateStaysInLimits: every case parses (Generate panics
// otherwise), keeps to its limits, covers every RAS mode, and its script
// adds each planned module once before removing it.
func TestGenerateStaysInLimits(t *testing.T) {
	modes := map[string]int{}
	for seed := uint64(0); seed < 400; seed++ {
		c := Generate(seed, Limits{MaxSlots: 48, MaxModuleGiB: 64})
		modes[c.Mode]++
		m := c.Profile.Memory
		if n := m.Sockets * m.ControllersPerSocket * m.ChannelsPerController * m.SlotsPerChannel; n > 48 {
			t.Fatalf("seed %d: %d slots", seed, n)
		}
		if len(c.Boot) == 0 {
			t.Fatalf("seed %d: nothing to boot on\n%s", seed, c)
		}
		for _, a := range append(c.Boot, c.Adds...) {
			if a.CapacityGiB > 64 {
				t.Fatalf("seed %d: %d GiB module\n%s", seed, a.CapacityGiB, c)
			}
		}
		seated := map[string]bool{}
		for _, st := range c.Steps() {
			if st.Add == seated[st.Module.Slot] {
				t.Fatalf("seed %d: step %+v with the slot seated=%v\n%s", seed, st, seated[st.Module.Slot], c)
			}
			seated[st.Module.Slot] = st.Add && !c.Refused
		}
		for slot, in := range seated {
			if in {
				t.Fatalf("seed %d: %s still seated at the end of the script", seed, slot)
			}
		}
	}
	for _, mode := range Modes {
		if modes[mode] == 0 {
			t.Errorf("no case in %s: %v", mode, modes)
		}
	}
}

package platform

import (
	"fmt"
	"slices"
	"testing"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// TestBuiltinsPassProfileCheck: every built-in profile dry-boots.
func TestBuiltinsPassProfileCheck(t *testing.T) {
	t.Parallel()
	names := profile.BuiltinNames()
	for _, want := range []string{"default", "12ch-12mc", "12ch-6mc"} {
		if !slices.Contains(names, want) {
			t.Fatalf("built-in profiles %v lack %s", names, want)
		}
	}
	for _, name := range names {
		prof, err := profile.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Check(prof)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if rep.RASConfigError != "" {
			t.Errorf("%s boots with a RAS configuration error: %s", name, rep.RASConfigError)
		}
	}
}

// TestTwelveChannelBuiltinsInEveryRASMode boots both twelve-channel
// built-ins in each RAS mode: each mode the population allows applies and
// hot-adds (a matched pair when mirrored); RAID5, which needs five memory
// controllers in all, falls back to AdvancedECC with a configuration error.
func TestTwelveChannelBuiltinsInEveryRASMode(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"12ch-12mc", "12ch-6mc"} {
		for _, mode := range []string{"AdvancedECC", "RankSparing", "Mirroring", "AddressRangeMirror", "RAID5"} {
			t.Run(name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				r := newRASRig(t, name, func(p *profile.Profile) { p.RAS.Mode = mode })
				ras := r.p.Snapshot().RAS
				if mode == "RAID5" {
					if ras.Mode != "AdvancedECC" || ras.ConfigError == "" {
						t.Fatalf("RAID5 on 12 controllers: %+v", ras)
					}
				} else if ras.Mode != mode || ras.ConfigError != "" {
					t.Fatalf("mode %s not applied: %+v", mode, ras)
				}
				gib := 64
				if name == "12ch-6mc" {
					gib = 32
				}
				src := fmt.Sprintf("built-in %s, ras mode %s", name, mode)
				if mode == "Mirroring" {
					online := r.p.Snapshot().Kernel.OnlineBytes
					r.insertWait("CPU1_DIMM_K2", gib, 2)
					r.insertWait("CPU1_DIMM_L2", gib, 2)
					if h, ok := find[events.MemoryHotAdded](r.drain()); !ok || h.Slot != "CPU1_DIMM_K2" {
						t.Fatalf("pair not hot-added: %+v", h)
					}
					if got := r.p.Snapshot().Kernel.OnlineBytes; got != online+uint64(gib)<<30 {
						t.Fatalf("online %d -> %d", online, got)
					}
					r.invariants()
					return
				}
				r.mustHotAdd(src, "CPU0_DIMM_E2", gib, 2)
				r.mustHotAdd(src, "CPU1_DIMM_L2", gib, 2)
				r.removeWait("CPU0_DIMM_E2")
				r.invariants()
			})
		}
	}
}

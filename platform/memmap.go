package platform

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// MemoryMap is the firmware's memory map, socket by socket: what `profile
// check` prints after a dry boot and `ctl memmap` after the UEFI map.
type MemoryMap struct {
	// AddressBits is the physical address width the layout fits below.
	AddressBits int `json:"address_bits"`
	// ReservePerSlotBytes is the hot-plug window of each slot empty at boot.
	ReservePerSlotBytes uint64            `json:"reserve_per_slot_bytes"`
	Sockets             []SocketMemoryMap `json:"sockets"`
	MMIO                []firmware.Region `json:"mmio"`
}

// SocketMemoryMap is one socket (NUMA node) of the memory map.
type SocketMemoryMap struct {
	Socket    int              `json:"socket"`
	Boot      []firmware.Range `json:"boot"`
	BootBytes uint64           `json:"boot_bytes"`
	// Sets are the interleave sets the boot memory is decoded through now
	// (at boot, or after a hot-add mapped a controller out).
	Sets []firmware.InterleaveSet `json:"sets"`
	// Reserve is the hot-plug reservation: EmptySlots windows, plus what a
	// RAID5 array may grow into.
	Reserve      []firmware.Range `json:"reserve"`
	ReserveBytes uint64           `json:"reserve_bytes"`
	EmptySlots   int              `json:"empty_slots"`
	FreeBytes    uint64           `json:"free_bytes"`
}

// MemoryMap returns the current memory map.
func (p *Platform) MemoryMap() MemoryMap {
	fw := p.l().fw // one boot's firmware throughout
	l := fw.Layout()
	tad := fw.TAD()
	mm := MemoryMap{AddressBits: p.prof.AddressBits(), ReservePerSlotBytes: uint64(p.prof.ReservePerSlotGiB()) << 30}
	mm.MMIO = append(mm.MMIO, l.Holes...)
	windows := fw.HotplugWindows()
	for s := range l.Boot {
		sm := SocketMemoryMap{Socket: s, Boot: slices.Clone(l.Boot[s]), Reserve: slices.Clone(l.Reserve[s])}
		for _, r := range sm.Boot {
			sm.BootBytes += r.Length
		}
		for _, r := range sm.Reserve {
			sm.ReserveBytes += r.Length
		}
		for _, r := range fw.FreeReservation(s) {
			sm.FreeBytes += r.Length
		}
		for _, set := range tad.Sets {
			if set.Socket == s {
				sm.Sets = append(sm.Sets, set)
			}
		}
		for _, sl := range p.slots {
			if _, ok := windows[sl.Name]; ok && sl.Socket == s {
				sm.EmptySlots++
			}
		}
		mm.Sockets = append(mm.Sockets, sm)
	}
	return mm
}

// Text prints the map for people.
func (m MemoryMap) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "physical address width %d bits; hot-plug reservation %s per empty slot\n", m.AddressBits, gibText(m.ReservePerSlotBytes))
	for _, s := range m.Sockets {
		fmt.Fprintf(&b, "socket %d (node %d): boot memory %s", s.Socket, s.Socket, gibText(s.BootBytes))
		for _, r := range s.Boot {
			fmt.Fprintf(&b, " %v", r)
		}
		b.WriteString("\n")
		for _, set := range s.Sets {
			kind := fmt.Sprintf("%d-way interleave set", set.Ways)
			switch set.Linear {
			case "map-out":
				kind = "1-way (controller mapped out)"
			case "mirrored":
				kind = "1-way (address-range mirror)"
			}
			fmt.Fprintf(&b, "  %s, channel%s %s: %s", kind, plural(len(set.Channels)), strings.Join(set.Channels, " "), gibText(set.Bytes))
			for _, r := range set.Ranges {
				fmt.Fprintf(&b, " %v", r)
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "  hot-plug reservation %s for %d empty slot%s", gibText(s.ReserveBytes), s.EmptySlots, plural(s.EmptySlots))
		for _, r := range s.Reserve {
			fmt.Fprintf(&b, " %v", r)
		}
		fmt.Fprintf(&b, ", %s free\n", gibText(s.FreeBytes))
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func gibText(n uint64) string {
	if n%firmware.GiB == 0 {
		return fmt.Sprintf("%d GiB", n/firmware.GiB)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

// BootReport is what a dry boot of a profile found: the memory map, the
// RAS mode in effect and the sizes of the ACPI tables it built.
type BootReport struct {
	Map       MemoryMap `json:"map"`
	Slots     int       `json:"slots"`
	Populated int       `json:"populated"`
	RASMode   string    `json:"ras_mode"`
	// RASConfigError is why the requested RAS mode fell back to
	// AdvancedECC (the population does not support it), as the firmware
	// reports it at boot: not a profile error.
	RASConfigError string `json:"ras_config_error,omitempty"`
	SRATBytes      int    `json:"srat_bytes"`
	HMATBytes      int    `json:"hmat_bytes"`
	UsableBytes    uint64 `json:"usable_bytes"`
}

// Check boots prof without serving it: the SMC, the firmware's boot-time
// work (address map, interleave sets, hot-plug reservation, SRAT and HMAT)
// and the kernel on the map, on a stepped clock with nothing saved. An
// error is what `serve` would fail with; a profile it accepts, serve
// boots. Errors about a profile field are *profile.Error, located.
func Check(prof *profile.Profile) (*BootReport, error) {
	p, err := New(prof, Options{Clock: clock.NewManual(time.Unix(0, 0).UTC())})
	if err != nil {
		return nil, err
	}
	srat := p.l().fw.SRAT().Encode()
	if _, err := firmware.DisassembleSRAT(srat); err != nil {
		return nil, fmt.Errorf("platform: SRAT: %w", err)
	}
	hmat := p.l().fw.HMAT().Encode()
	if _, err := firmware.DisassembleHMAT(hmat); err != nil {
		return nil, fmt.Errorf("platform: HMAT: %w", err)
	}
	if err := p.CheckInvariants(); err != nil {
		return nil, errors.Join(errors.New("platform: the booted server is inconsistent"), err)
	}
	snap := p.Snapshot()
	rep := &BootReport{Map: p.MemoryMap(), Slots: len(snap.Slots), RASMode: snap.RAS.Mode, RASConfigError: snap.RAS.ConfigError,
		SRATBytes: len(srat), HMATBytes: len(hmat), UsableBytes: snap.RAS.UsableBytes}
	for _, s := range snap.Slots {
		if s.Module != nil {
			rep.Populated++
		}
	}
	return rep, nil
}

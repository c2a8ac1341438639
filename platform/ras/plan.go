package ras

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/bmcemu/bmcemu/platform/ras/mirror"
	"github.com/bmcemu/bmcemu/platform/ras/raid5"
	"github.com/bmcemu/bmcemu/platform/ras/sparing"
)

// Mode is a memory RAS mode, a firmware setting applied at boot.
type Mode string

// Modes (HPE's AdvancedMemoryProtection / Dell's MemOpMode names in the
// comments).
const (
	AdvancedECC Mode = "AdvancedECC" // plain ECC; Dell AdvEccMode / OptimizerMode
	RankSparing Mode = "RankSparing" // HPE OnlineSpareRank; Dell SpareMode
	Mirroring   Mode = "Mirroring"   // full mirror; Dell MirrorMode
	RAID5       Mode = "RAID5"       // HPE RAIDXOR-style RAID memory over five cartridges
	// AddressRangeMirror mirrors part of the address space (Intel Address
	// Range Mirroring; Dell FaultResilientMode): the first channel pairs
	// of each socket, the rest plain ECC.
	AddressRangeMirror Mode = "AddressRangeMirror"
)

// PlanConfig tunes a plan: how many channel pairs per socket
// AddressRangeMirror mirrors (0: one).
type PlanConfig struct {
	MirroredChannelPairs int
}

// Module is an installed module as the RAS planner sees it.
type Module struct {
	Slot      string
	Socket    int
	Channel   int // within the socket
	Position  int // 1-based slot within the channel
	Capacity  uint64
	Ranks     int
	Cartridge int // RAID5 memory board 0..4; -1 when not on a cartridge
}

// Plan is what firmware decides at boot for a requested mode and a
// population: the mode in effect (AdvancedECC with ConfigError when the
// population does not support the request), the raw and usable (OS
// visible) capacities, and the mode's resources.
type Plan struct {
	Requested   Mode
	Mode        Mode
	ConfigError string // why the requested mode was refused; empty when applied
	Raw         uint64
	Usable      uint64
	// Spares are the spare ranks (RankSparing), one per populated channel:
	// the last rank of the channel's last module.
	Spares []sparing.Rank
	// MirrorPairs are the mirrored channel pairs (Mirroring) as
	// [socket, primary channel, secondary channel].
	MirrorPairs [][3]int
	// CartridgeBytes is each RAID5 cartridge's capacity.
	CartridgeBytes uint64
}

type chanKey struct{ socket, channel int }

// NewPlan decides how a population boots in the requested mode.
func NewPlan(req Mode, mods []Module) Plan { return NewPlanConfig(req, mods, PlanConfig{}) }

// NewPlanConfig is NewPlan with tuning.
func NewPlanConfig(req Mode, mods []Module, cfg PlanConfig) Plan {
	p := Plan{Requested: req, Mode: req}
	for _, m := range mods {
		p.Raw += m.Capacity
	}
	var err error
	switch req {
	case AdvancedECC:
		p.Usable = p.Raw
	case RankSparing:
		err = p.sparing(mods)
	case Mirroring:
		err = p.mirroring(mods)
	case RAID5:
		err = p.raid(mods)
	case AddressRangeMirror:
		err = p.rangeMirror(mods, max(cfg.MirroredChannelPairs, 1))
	default:
		err = fmt.Errorf("unknown RAS mode %q", req)
	}
	if err != nil {
		p = Plan{Requested: req, Mode: AdvancedECC, ConfigError: err.Error(), Raw: p.Raw, Usable: p.Raw}
	}
	return p
}

func byChannel(mods []Module) (map[chanKey][]Module, []chanKey) {
	ch := map[chanKey][]Module{}
	for _, m := range mods {
		k := chanKey{m.Socket, m.Channel}
		ch[k] = append(ch[k], m)
	}
	keys := slices.SortedFunc(maps.Keys(ch), func(a, b chanKey) int {
		return cmp.Or(cmp.Compare(a.socket, b.socket), cmp.Compare(a.channel, b.channel))
	})
	for _, k := range keys {
		slices.SortFunc(ch[k], func(a, b Module) int { return cmp.Compare(a.Position, b.Position) })
	}
	return ch, keys
}

// sparing: every populated channel needs two ranks or more, all of one
// size (the spare must hold any rank); one rank per channel is reserved.
func (p *Plan) sparing(mods []Module) error {
	ch, keys := byChannel(mods)
	for _, k := range keys {
		ms := ch[k]
		n, size := 0, uint64(0)
		for _, m := range ms {
			if m.Ranks < 1 || m.Capacity%uint64(m.Ranks) != 0 {
				return fmt.Errorf("rank sparing: %s has %d ranks", m.Slot, m.Ranks)
			}
			rs := m.Capacity / uint64(m.Ranks)
			if size != 0 && rs != size {
				return fmt.Errorf("rank sparing: socket %d channel %d mixes rank sizes", k.socket, k.channel)
			}
			size, n = rs, n+m.Ranks
		}
		if n < 2 {
			return fmt.Errorf("rank sparing: socket %d channel %d has a single rank", k.socket, k.channel)
		}
		last := ms[len(ms)-1]
		p.Spares = append(p.Spares, sparing.Rank{Module: last.Slot, Rank: last.Ranks - 1})
		p.Usable += sparing.Usable(n, size)
	}
	return nil
}

// mirroring: channels pair up (2k with 2k+1) and each pair's two channels
// hold identical modules position by position.
func (p *Plan) mirroring(mods []Module) error {
	ch, keys := byChannel(mods)
	done := map[chanKey]bool{}
	for _, k := range keys {
		if done[k] {
			continue
		}
		a := chanKey{k.socket, k.channel &^ 1}
		b := chanKey{k.socket, k.channel | 1}
		done[a], done[b] = true, true
		ma, mb := ch[a], ch[b]
		same := len(ma) == len(mb)
		for i := 0; same && i < len(ma); i++ {
			same = ma[i].Position == mb[i].Position && ma[i].Capacity == mb[i].Capacity && ma[i].Ranks == mb[i].Ranks
		}
		if !same {
			return fmt.Errorf("mirroring: socket %d channels %d and %d are not populated identically", k.socket, a.channel, b.channel)
		}
		p.MirrorPairs = append(p.MirrorPairs, [3]int{k.socket, a.channel, b.channel})
	}
	p.Usable = mirror.Usable(p.Raw)
	return nil
}

// rangeMirror: the first pairs channel pairs of every populated socket
// are mirrored (and must be populated identically); everything else is
// plain memory. The mirrored range costs its secondaries' capacity.
func (p *Plan) rangeMirror(mods []Module, pairs int) error {
	ch, _ := byChannel(mods)
	sockets := map[int]bool{}
	for _, m := range mods {
		sockets[m.Socket] = true
	}
	p.Usable = p.Raw
	for _, s := range slices.Sorted(maps.Keys(sockets)) {
		for k := range pairs {
			a, b := chanKey{s, 2 * k}, chanKey{s, 2*k + 1}
			ma, mb := ch[a], ch[b]
			same := len(ma) > 0 && len(ma) == len(mb)
			for i := 0; same && i < len(ma); i++ {
				same = ma[i].Position == mb[i].Position && ma[i].Capacity == mb[i].Capacity && ma[i].Ranks == mb[i].Ranks
			}
			if !same {
				return fmt.Errorf("address-range mirroring: socket %d channels %d and %d are not populated identically", s, a.channel, b.channel)
			}
			p.MirrorPairs = append(p.MirrorPairs, [3]int{s, a.channel, b.channel})
			for _, m := range mb {
				p.Usable -= m.Capacity
			}
		}
	}
	return nil
}

// raid: every module on a cartridge, all five cartridges populated with
// the same capacity.
func (p *Plan) raid(mods []Module) error {
	var per [raid5.Cartridges]uint64
	for _, m := range mods {
		if m.Cartridge < 0 || m.Cartridge >= raid5.Cartridges {
			return fmt.Errorf("RAID memory: %s is not on a memory cartridge", m.Slot)
		}
		per[m.Cartridge] += m.Capacity
	}
	for c, b := range per {
		if b == 0 || b != per[0] {
			return fmt.Errorf("RAID memory: cartridge %d holds %d bytes, cartridge 0 %d; five identical cartridges are needed", c, b, per[0])
		}
	}
	p.CartridgeBytes = per[0]
	p.Usable = raid5.Usable(per[0])
	return nil
}

// Package shapegen generates server profiles of every shape the profile
// validator allows, with a population the chosen RAS mode accepts, and the
// hot-add plan for their empty slots: the input of the property tests and
// fuzz targets that check every board boots and hot-adds (platform,
// redfish and ipmi). A case carries the YAML that reproduces it.
package shapegen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// Limits bound a generated case so a short run stays short. Zero fields
// take the validator's limits.
type Limits struct {
	// MaxSlots bounds sockets x channels x slots per channel.
	MaxSlots int
	// MaxModuleGiB bounds every module's capacity.
	MaxModuleGiB int
}

// Module is one module: where it goes and what it is.
type Module struct {
	Slot        string
	Socket      int
	Channel     int
	Position    int
	CapacityGiB int
	Ranks       int
}

// Case is a generated server: its profile and the modules to hot-add.
type Case struct {
	Seed    uint64
	YAML    string
	Profile *profile.Profile
	Mode    string // RAS mode requested
	// Boot are the modules the profile seats at power-on.
	Boot []Module
	// Adds are modules for empty slots, in a random order. For Mirroring
	// the two slots of a pair hold the same module; the last channel of
	// a socket with an odd channel count has no partner and no add.
	Adds []Module
	// Refused is set when the mode refuses hot-add outright (RAID5 grows
	// only by upgrading whole cartridges): every add is expected to fail.
	Refused bool
}

// SurfaceLimits are the smaller shapes the Redfish and IPMI tests run the
// platform's script on: each step is checked through a whole protocol
// surface, so they take fewer and smaller cases than the platform's own
// property test.
var SurfaceLimits = Limits{MaxSlots: 24, MaxModuleGiB: 32}

// SurfaceCases are the cases of seeds 1 to 12 (1 to 3 when short) under
// SurfaceLimits: the surfaces' tests check the same boards.
func SurfaceCases(short bool) []Case {
	n := 12
	if short {
		n = 3
	}
	cs := make([]Case, n)
	for i := range cs {
		cs[i] = Generate(uint64(i+1), SurfaceLimits)
	}
	return cs
}

// Modes are the RAS modes a case may request.
var Modes = []string{"AdvancedECC", "RankSparing", "Mirroring", "AddressRangeMirror", "RAID5"}

// combos are the (capacity, ranks) pairs a DDR type has a JEDEC
// organisation for, up to 256 GiB (the SMC's largest module).
func combos(t spd.DeviceType, maxGiB int) [][2]int {
	var out [][2]int
	for _, c := range []int{4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256} {
		for _, r := range []int{1, 2, 4} {
			if c > maxGiB {
				continue
			}
			if _, err := spd.Encode(spd.Spec{Type: t, BaseModule: spd.RDIMM, CapacityGiB: c, Ranks: r, SpeedMTs: 4800, Manufacturer: "Samsung"}); err == nil {
				out = append(out, [2]int{c, r})
			}
		}
	}
	return out
}

// Generate draws a case from r: a RAS mode, a shape the mode can run on,
// a population it accepts (mixed sizes and ranks, partly empty channels
// and sockets), a hot-plug reservation large enough for every add, and
// the adds in random order.
func Generate(seed uint64, lim Limits) Case {
	r := rand.New(rand.NewPCG(seed, 0x5A4E))
	if lim.MaxSlots == 0 {
		lim.MaxSlots = 8 * profile.MaxChannelsPerSocket * 3
	}
	if lim.MaxModuleGiB == 0 {
		lim.MaxModuleGiB = 256
	}
	c := Case{Seed: seed, Mode: Modes[r.IntN(len(Modes))]}
	typ := []spd.DeviceType{spd.DDR4, spd.DDR5}[r.IntN(2)]
	var sockets, ctls, chans, slots int
	for {
		sockets, ctls, chans, slots = 1+r.IntN(8), 1+r.IntN(12), 1+r.IntN(4), 1+r.IntN(3)
		switch c.Mode {
		case "RAID5":
			sockets, ctls = 1, 5 // five memory cartridges in all
		case "Mirroring", "AddressRangeMirror":
			if ctls*chans < 2 {
				continue
			}
		}
		if ctls*chans <= profile.MaxChannelsPerSocket && sockets*ctls*chans*slots <= lim.MaxSlots {
			break
		}
	}
	chPerSock := ctls * chans
	all := combos(typ, lim.MaxModuleGiB)
	pick := func(maxRanks int) [2]int {
		for {
			m := all[r.IntN(len(all))]
			if m[1] <= maxRanks {
				return m
			}
		}
	}
	// A channel's population by position (capacity, ranks; zero: empty).
	type channel [][2]int
	newChannel := func(sparing bool) channel {
		ch := make(channel, slots)
		if r.IntN(4) == 0 {
			return ch // an empty channel
		}
		fourRanks := false
		var rankGiB int
		for pos := range slots {
			if pos > 0 && r.IntN(3) == 0 {
				continue // a partly empty channel
			}
			maxRanks := 2
			if !fourRanks {
				maxRanks = 4 // one 4-rank module a channel at most: 8 ranks with hot-adds
			}
			m := pick(maxRanks)
			if sparing {
				// One rank size per channel, so any rank can be the spare.
				for try := 0; rankGiB != 0 && m[0]/m[1] != rankGiB; try++ {
					if try == 1000 {
						m = [2]int{}
						break
					}
					m = pick(maxRanks)
				}
				if m == [2]int{} {
					continue
				}
				rankGiB = m[0] / m[1]
			}
			fourRanks = fourRanks || m[1] == 4
			ch[pos] = m
		}
		if sparing {
			ranks := 0
			for _, m := range ch {
				ranks += m[1]
			}
			if ranks == 1 {
				return make(channel, slots) // sparing needs two ranks: leave it empty
			}
		}
		return ch
	}
	pop := make([][]channel, sockets)
	for s := range sockets {
		pop[s] = make([]channel, chPerSock)
		for ch := range chPerSock {
			pop[s][ch] = newChannel(c.Mode == "RankSparing")
		}
		switch c.Mode {
		case "Mirroring":
			// Channel pairs (A,B), (C,D)... identical; a last odd channel
			// has no partner and stays empty.
			for ch := 0; ch < chPerSock; ch += 2 {
				if ch+1 < chPerSock {
					pop[s][ch+1] = slices.Clone(pop[s][ch])
				} else {
					pop[s][ch] = make(channel, slots)
				}
			}
		case "AddressRangeMirror":
			// The first pair mirrored: populated, and alike.
			for pop[s][0][0] == [2]int{} {
				pop[s][0] = newChannel(false)
			}
			pop[s][1] = slices.Clone(pop[s][0])
		}
	}
	// A server boots on some memory: socket 0's first channel at least.
	if !slices.ContainsFunc(pop[0], func(ch channel) bool { return slices.ContainsFunc(ch, func(m [2]int) bool { return m != [2]int{} }) }) {
		for pop[0][0][0] == [2]int{} {
			pop[0][0] = newChannel(c.Mode == "RankSparing")
		}
		if c.Mode == "Mirroring" {
			pop[0][1] = slices.Clone(pop[0][0])
		}
	}
	if c.Mode == "RAID5" {
		// Five cartridges (controllers) of equal capacity: the first
		// controller's population on every controller.
		if !slices.ContainsFunc(pop[0][:chans], func(ch channel) bool { return slices.ContainsFunc(ch, func(m [2]int) bool { return m != [2]int{} }) }) {
			pop[0][0][0] = pick(2)
		}
		for ch := chans; ch < chPerSock; ch++ {
			pop[0][ch] = slices.Clone(pop[0][ch%chans])
		}
	}
	// Boot modules and the YAML that seats them, grouped by kind.
	largest := 0
	groups := map[[2]int][]string{}
	var order [][2]int
	for s := range sockets {
		for ch := range chPerSock {
			for pos, m := range pop[s][ch] {
				if m == [2]int{} {
					continue
				}
				name := profile.SlotName(s, ch, pos+1)
				c.Boot = append(c.Boot, Module{Slot: name, Socket: s, Channel: ch, Position: pos + 1, CapacityGiB: m[0], Ranks: m[1]})
				if groups[m] == nil {
					order = append(order, m)
				}
				groups[m] = append(groups[m], name)
				largest = max(largest, m[0])
			}
		}
	}
	// The hot-plug plan: a module for every empty slot (a pair's two
	// slots the same one), no larger than the per-slot reservation, ranks
	// within the channel's eight.
	reserve := max(largest, profile.DefaultReservePerSlotGiB)
	explicit := r.IntN(3) == 0
	if explicit {
		reserve = []int{16, 32, 48, 64, 96, 128, 256}[r.IntN(7)]
	}
	hot := make(map[string]Module)
	for s := range sockets {
		for ch := range chPerSock {
			ranks := 0
			for _, m := range pop[s][ch] {
				ranks += m[1]
			}
			for pos, m := range pop[s][ch] {
				if m != [2]int{} {
					continue
				}
				name := profile.SlotName(s, ch, pos+1)
				if c.Mode == "Mirroring" && ch%2 == 1 {
					if p, ok := hot[profile.SlotName(s, ch-1, pos+1)]; ok {
						p.Slot, p.Channel = name, ch
						hot[name] = p
					}
					continue
				}
				if c.Mode == "Mirroring" && ch+1 >= chPerSock {
					continue // no partner channel
				}
				var a [2]int
				for {
					a = pick(2)
					if a[0] <= min(reserve, lim.MaxModuleGiB) && ranks+a[1] <= 8 {
						break
					}
				}
				ranks += a[1]
				hot[name] = Module{Slot: name, Socket: s, Channel: ch, Position: pos + 1, CapacityGiB: a[0], Ranks: a[1]}
			}
		}
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range hot {
			if !yield(k) {
				return
			}
		}
	}) {
		c.Adds = append(c.Adds, hot[name])
	}
	r.Shuffle(len(c.Adds), func(i, j int) { c.Adds[i], c.Adds[j] = c.Adds[j], c.Adds[i] })
	// The kernel takes each added range's memmap (64 bytes per 4 KiB page)
	// from free memory: keep the adds within what half the boot memory
	// can hold, so an add fails only if the model is wrong.
	var bootGiB uint64
	for _, m := range c.Boot {
		bootGiB += uint64(m.CapacityGiB)
	}
	budget := bootGiB * 32
	kept := c.Adds[:0]
	for _, a := range c.Adds {
		if c.Mode == "Mirroring" && a.Channel%2 == 1 {
			kept = append(kept, a) // the secondary maps nothing; its primary was counted
			continue
		}
		if uint64(a.CapacityGiB) > budget {
			continue
		}
		budget -= uint64(a.CapacityGiB)
		kept = append(kept, a)
	}
	c.Adds = kept
	if c.Mode == "Mirroring" {
		// A secondary whose primary was dropped has nothing to pair with.
		have := map[string]bool{}
		for _, a := range c.Adds {
			have[a.Slot] = true
		}
		c.Adds = slices.DeleteFunc(c.Adds, func(a Module) bool {
			return a.Channel%2 == 1 && !have[profile.SlotName(a.Socket, a.Channel-1, a.Position)]
		})
	}
	c.Refused = c.Mode == "RAID5"

	// The address width: 46 bits unless boot memory and reservations
	// need more (with room for alignment and the 1 TiB-aligned MMIO window).
	emptySlots := sockets*chPerSock*slots - len(c.Boot)
	need := (bootGiB + uint64(emptySlots)*uint64(reserve+2) + uint64(sockets)*16 + 1024 + 256) << 30
	var b strings.Builder
	fmt.Fprintf(&b, "# shapegen seed %d\nname: shape-%d\n", seed, seed)
	fmt.Fprintf(&b, "system: {manufacturer: bmcemu, model: Shape, serial_number: SHAPE%d}\n", seed%1000000)
	fmt.Fprintf(&b, "memory:\n  type: %s\n  speed_mts: %d\n  sockets: %d\n  controllers_per_socket: %d\n  channels_per_controller: %d\n  slots_per_channel: %d\n",
		typ, map[spd.DeviceType]int{spd.DDR4: 3200, spd.DDR5: 4800}[typ], sockets, ctls, chans, slots)
	if need >= uint64(1)<<profile.DefaultAddressBits {
		b.WriteString("  physical_address_bits: 52\n")
	}
	b.WriteString("modules:\n")
	for _, m := range order {
		fmt.Fprintf(&b, "  - {slots: [%s], capacity_gib: %d, ranks: %d, base_module: RDIMM, manufacturer: Samsung}\n",
			strings.Join(groups[m], ", "), m[0], m[1])
	}
	if c.Mode != "AdvancedECC" || r.IntN(2) == 0 {
		fmt.Fprintf(&b, "ras: {mode: %s}\n", c.Mode)
	}
	if explicit {
		fmt.Fprintf(&b, "hotplug: {reserve_per_slot_gib: %d}\n", reserve)
	}
	c.YAML = b.String()
	p, err := profile.Parse(fmt.Sprintf("shapegen-%d.yaml", seed), []byte(c.YAML))
	if err != nil {
		// The generator only writes profiles the validator accepts; a
		// refusal is a bug in one of the two, shown with its input.
		panic(fmt.Sprintf("shapegen: seed %d: generated profile refused: %v\n%s", seed, err, c.YAML))
	}
	c.Profile = p
	return c
}

// Step is one operator action: hot-add Module (attention, insert, wait)
// or hot-remove it (attention, wait for the eject, pull).
type Step struct {
	Add    bool
	Module Module
}

// Steps is the case's script: every add in order; then, unless the mode
// refuses adds, a random half of them removed (a mirrored pair as one:
// primary first, then secondary), added again in a random order, and at
// last everything hot-added removed, which must give the boot views back.
func (c Case) Steps() []Step {
	var out []Step
	for _, a := range c.Adds {
		out = append(out, Step{Add: true, Module: a})
	}
	if c.Refused {
		return out // each refused module is pulled as it is refused
	}
	byslot := map[string]Module{}
	for _, a := range c.Adds {
		byslot[a.Slot] = a
	}
	var units [][]Module
	for _, a := range c.Adds {
		switch {
		case c.Mode != "Mirroring":
			units = append(units, []Module{a})
		case a.Channel%2 == 0:
			units = append(units, []Module{a, byslot[profile.SlotName(a.Socket, a.Channel+1, a.Position)]})
		}
	}
	r := rand.New(rand.NewPCG(c.Seed, 0xADD))
	r.Shuffle(len(units), func(i, j int) { units[i], units[j] = units[j], units[i] })
	half := slices.Clone(units[:len(units)/2])
	for _, u := range half {
		for _, m := range u {
			out = append(out, Step{Module: m})
		}
	}
	r.Shuffle(len(half), func(i, j int) { half[i], half[j] = half[j], half[i] })
	for _, u := range half {
		for _, i := range r.Perm(len(u)) {
			out = append(out, Step{Add: true, Module: u[i]})
		}
	}
	for _, u := range units {
		for _, m := range u {
			out = append(out, Step{Module: m})
		}
	}
	return out
}

// String describes the case for a failure message: the profile that
// reproduces it and the order of the adds.
func (c Case) String() string {
	var adds []string
	for _, a := range c.Adds {
		adds = append(adds, fmt.Sprintf("%s=%dGx%d", a.Slot, a.CapacityGiB, a.Ranks))
	}
	return fmt.Sprintf("--- profile (shapegen seed %d, mode %s) ---\n%s--- adds in order: %s\n", c.Seed, c.Mode, c.YAML, strings.Join(adds, " "))
}

// Hardware is what a step drives, as the technician's hands: the slot's
// attention button, seating a module, pulling one, and waiting for the
// simulated hardware to finish what each started. The tests of every
// surface drive their platform through it, so they run one script alike.
type Hardware struct {
	Attention func(slot string) error
	Insert    func(m Module) error
	Remove    func(slot string) error
	Settle    func()
}

// Apply performs st: attention, then seat the module (and pull it again
// when the case's mode refuses it) or pull it. The error names the action
// that failed.
func (c Case) Apply(st Step, hw Hardware) error {
	a := st.Module
	if err := hw.Attention(a.Slot); err != nil {
		return fmt.Errorf("attention %s: %w", a.Slot, err)
	}
	hw.Settle()
	if !st.Add {
		if err := hw.Remove(a.Slot); err != nil {
			return fmt.Errorf("remove %s: %w", a.Slot, err)
		}
		hw.Settle()
		return nil
	}
	if err := hw.Insert(a); err != nil {
		return fmt.Errorf("insert %s: %w", a.Slot, err)
	}
	hw.Settle()
	if c.Refused {
		if err := hw.Remove(a.Slot); err != nil {
			return fmt.Errorf("pull %s: %w", a.Slot, err)
		}
		hw.Settle()
	}
	return nil
}

// Hands is the platform a Hardware drives: platform.Platform, whose
// Insert and Remove return its *Module. The type parameter keeps this
// package from importing platform, whose own tests import it.
type Hands[M any] interface {
	PressAttention(slot string) error
	NewModuleSpec(slot string, s spd.Spec) spd.Spec
	Insert(slot string, img []byte) (M, error)
	Remove(slot string) (M, error)
}

// HardwareOf is the Hardware that drives p as a technician does: the
// module seated is the one the platform would build for the slot (its
// board's type and speed) with the case's capacity and ranks, and settle
// waits for the simulated hardware.
func HardwareOf[M any](p Hands[M], settle func()) Hardware {
	return Hardware{
		Attention: p.PressAttention,
		Insert: func(a Module) error {
			img, err := spd.Encode(p.NewModuleSpec(a.Slot, spd.Spec{CapacityGiB: a.CapacityGiB, Ranks: a.Ranks}))
			if err != nil {
				return fmt.Errorf("SPD for %s: %w", a.Slot, err)
			}
			_, err = p.Insert(a.Slot, img)
			return err
		},
		Remove: func(slot string) error { _, err := p.Remove(slot); return err },
		Settle: settle,
	}
}

package platform

import (
	"time"

	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// Snapshot is a consistent, immutable view of the server at one generation.
type Snapshot struct {
	// Generation increases with every change; surfaces derive ETags from it.
	Generation uint64         `json:"generation"`
	Profile    string         `json:"profile"`
	System     profile.System `json:"system"`
	BMC        profile.BMC    `json:"bmc"`
	Memory     profile.Memory `json:"memory"`
	PowerOn    bool           `json:"power_on"`
	// ChangedAt is when the inventory or power state last changed (persisted).
	ChangedAt time.Time `json:"changed_at"`
	Slots     []Slot    `json:"slots"`
}

// Slot is one DIMM socket on the board.
type Slot struct {
	Name       string `json:"name"`
	Ordinal    int    `json:"ordinal"` // 0-based position in board order
	Socket     int    `json:"socket"`
	Controller int    `json:"controller"` // memory controller within the socket
	Channel    int    `json:"channel"`    // channel within the socket (A=0)
	Position   int    `json:"position"`   // 1-based slot within the channel
	// LocationIndicator is the slot's identify LED, lit to guide a technician.
	LocationIndicator bool    `json:"location_indicator"`
	Module            *Module `json:"module,omitempty"`
}

// Module is a seated DIMM.
type Module struct {
	SPD        spd.Module `json:"spd"`
	Image      []byte     `json:"-"`
	InsertedAt time.Time  `json:"inserted_at"`
}

// ChannelLetter is the silkscreen letter of the slot's channel.
func (s Slot) ChannelLetter() string { return profile.ChannelLetter(s.Channel) }

// Slot finds a slot by name.
func (s *Snapshot) Slot(name string) (Slot, bool) {
	for _, sl := range s.Slots {
		if sl.Name == name {
			return sl, true
		}
	}
	return Slot{}, false
}

// InstalledMiB is the capacity of all present modules.
func (s *Snapshot) InstalledMiB() uint64 {
	var t uint64
	for _, sl := range s.Slots {
		if sl.Module != nil {
			t += sl.Module.SPD.CapacityMiB
		}
	}
	return t
}

// Populated counts present modules.
func (s *Snapshot) Populated() int {
	n := 0
	for _, sl := range s.Slots {
		if sl.Module != nil {
			n++
		}
	}
	return n
}

func (p *Platform) buildSnapshot() *Snapshot {
	s := &Snapshot{
		Generation: p.gen,
		Profile:    p.prof.Name,
		System:     p.prof.System,
		BMC:        p.prof.BMC,
		Memory:     p.prof.Memory,
		PowerOn:    p.powerOn,
		ChangedAt:  p.changed,
		Slots:      make([]Slot, len(p.slots)),
	}
	for i, d := range p.slots {
		s.Slots[i] = Slot{Name: d.name, Ordinal: d.ordinal, Socket: d.socket, Controller: d.controller, Channel: d.channel, Position: d.pos,
			LocationIndicator: p.leds[i]}
		if m := p.modules[i]; m != nil {
			cp := *m // modules are replaced, never mutated; a shallow copy is safe
			s.Slots[i].Module = &cp
		}
	}
	return s
}

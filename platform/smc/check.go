package smc

import (
	"errors"
	"fmt"

	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// Rules is the running configuration a new module must match before the SMC
// applies power to its slot.
type Rules struct {
	Type      spd.DeviceType // DRAM generation the board runs
	VoltageMV int            // VDD the board supplies
	// SpeedMTs is the running bus speed. Faster modules are downclocked to
	// it; slower ones would force the live channel to slow down and are
	// refused unless AllowDownclock is set (then the module runs at its own
	// grade and the check reports it).
	SpeedMTs       int
	AllowDownclock bool
	// MaxModuleGiB bounds one module's capacity; MaxRanks one module's
	// ranks; MaxChannelRanks the ranks of a whole channel.
	MaxModuleGiB    uint64
	MaxRanks        int
	MaxChannelRanks int
	// RequireECC refuses modules without ECC bits.
	RequireECC bool
}

// DefaultRules derives the rules from the board's memory profile.
func DefaultRules(m profile.Memory) Rules {
	v := 1100
	if m.Type == spd.DDR4 {
		v = 1200
	}
	return Rules{
		Type: m.Type, VoltageMV: v, SpeedMTs: m.SpeedMTs,
		MaxModuleGiB: 256, MaxRanks: 4, MaxChannelRanks: 8, RequireECC: true,
	}
}

// CheckReason is a stable code for why the SMC refused a module.
type CheckReason string

// Check reasons.
const (
	ReasonCRC          CheckReason = "crc"
	ReasonTruncated    CheckReason = "truncated"
	ReasonUnsupported  CheckReason = "unsupported"
	ReasonDRAMType     CheckReason = "dram-type"
	ReasonVoltage      CheckReason = "voltage"
	ReasonSpeed        CheckReason = "speed"
	ReasonCapacity     CheckReason = "capacity"
	ReasonRanks        CheckReason = "ranks"
	ReasonChannelRanks CheckReason = "channel-ranks"
	ReasonModuleType   CheckReason = "module-type"
	ReasonECC          CheckReason = "ecc"
	// ReasonReservation: the firmware has no room in the socket's hot-plug
	// reservation for a module this large (see AddressSpace).
	ReasonReservation CheckReason = "hotplug-reservation"
)

// CheckError is a refused module.
type CheckError struct {
	Reason CheckReason
	Detail string
}

func (e *CheckError) Error() string { return fmt.Sprintf("spd check: %s: %s", e.Reason, e.Detail) }

// DecodeError classifies an spd.Decode failure.
func DecodeError(err error) *CheckError {
	switch {
	case errors.Is(err, spd.ErrCRC):
		return &CheckError{ReasonCRC, err.Error()}
	case errors.Is(err, spd.ErrTruncated):
		return &CheckError{ReasonTruncated, err.Error()}
	}
	return &CheckError{ReasonUnsupported, err.Error()}
}

// Check verifies mod against the rules and against the modules already
// running on the same channel. It returns the speed the module will run at.
func (r Rules) Check(mod spd.Module, channel []spd.Module) (int, error) {
	if mod.Type != r.Type {
		return 0, &CheckError{ReasonDRAMType, fmt.Sprintf("%s module on a %s board", mod.Type, r.Type)}
	}
	if r.VoltageMV != 0 && mod.VoltageMV != r.VoltageMV {
		return 0, &CheckError{ReasonVoltage, fmt.Sprintf("module VDD %d mV, board supplies %d mV", mod.VoltageMV, r.VoltageMV)}
	}
	speed := r.SpeedMTs
	if mod.SpeedMTs < r.SpeedMTs {
		if !r.AllowDownclock {
			return 0, &CheckError{ReasonSpeed, fmt.Sprintf("module rated %d MT/s, bus runs %d MT/s and cannot slow down while live", mod.SpeedMTs, r.SpeedMTs)}
		}
		speed = mod.SpeedMTs
	}
	if r.MaxModuleGiB != 0 && mod.CapacityMiB > r.MaxModuleGiB*1024 {
		return 0, &CheckError{ReasonCapacity, fmt.Sprintf("%d GiB module, board supports up to %d GiB", mod.CapacityMiB/1024, r.MaxModuleGiB)}
	}
	if r.MaxRanks != 0 && mod.Ranks > r.MaxRanks {
		return 0, &CheckError{ReasonRanks, fmt.Sprintf("%d ranks, board supports up to %d per module", mod.Ranks, r.MaxRanks)}
	}
	if r.RequireECC && !mod.ECC() {
		return 0, &CheckError{ReasonECC, fmt.Sprintf("module has no ECC (%d-bit bus, %d data bits)", mod.BusWidthBits, mod.DataWidthBits)}
	}
	ranks := mod.Ranks
	for _, o := range channel {
		if o.BaseModule != mod.BaseModule {
			return 0, &CheckError{ReasonModuleType, fmt.Sprintf("%s module on a channel running %s", mod.BaseModule, o.BaseModule)}
		}
		ranks += o.Ranks
	}
	if r.MaxChannelRanks != 0 && ranks > r.MaxChannelRanks {
		return 0, &CheckError{ReasonChannelRanks, fmt.Sprintf("channel would carry %d ranks, limit %d", ranks, r.MaxChannelRanks)}
	}
	return speed, nil
}

package smc

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
)

// FaultKind is a hardware or firmware defect the operator can arm on a slot.
// The SMC acts on the SPD-stage kinds and on bus noise; the firmware
// (platform/firmware) reads the same Faults for the training, pattern-test
// and hang kinds. Every kind is deterministic under the Faults seed.
type FaultKind int

// The fault kinds, in `ctl fault --list` order.
const (
	FaultSPDCRC FaultKind = iota + 1
	FaultVoltageMismatch
	FaultSpeedMismatch
	FaultBusNoiseUE
	FaultTraining
	FaultCalibration
	FaultStuckAt
	FaultFirmwareHang
)

// Stage is where a fault strikes.
type Stage string

// Stages.
const (
	StageSMC      Stage = "smc"
	StageFirmware Stage = "firmware"
)

type faultInfo struct {
	name, desc, outcome string
	stage               Stage
}

var faultInfos = map[FaultKind]faultInfo{
	FaultSPDCRC: {"spd-crc", "the module's SPD EEPROM returns a corrupted byte",
		"SPD CRC check fails: SPDCheckFailed{Reason: crc}, slot stays isolated, attention LED on", StageSMC},
	FaultVoltageMismatch: {"voltage-mismatch", "the module's PMIC reports a VDD the board does not run",
		"SPDCheckFailed{Reason: voltage}, slot stays isolated, attention LED on", StageSMC},
	FaultSpeedMismatch: {"speed-mismatch", "the module's fastest speed grade is below the running bus speed",
		"SPDCheckFailed{Reason: speed}, slot stays isolated, attention LED on", StageSMC},
	FaultBusNoiseUE: {"bus-noise-ue", "inserting into a non-isolated slot also causes an uncorrectable error on each neighbour",
		"BusNoise with Uncorrectable >= 1 per victim, then BusNoiseRecovered", StageSMC},
	FaultTraining: {"training", "one DQ/DQS byte lane finds no passing delay during training",
		"TrainingFailed{Stage: dq-dqs}, FW_FAULT, _OST(0x200, 0x81), module parked, alert", StageFirmware},
	FaultCalibration: {"calibration", "the Vref sweep finds no passing window",
		"TrainingFailed{Stage: vref}, FW_FAULT, _OST(0x200, 0x81), module parked, alert", StageFirmware},
	FaultStuckAt: {"stuck-at", "a data bit is stuck at 0 or 1 over a region of the module",
		"PatternTestCompleted{Passed: false}, FW_FAULT, range unmapped, _OST(0x200, 0x81), module parked, alert", StageFirmware},
	FaultFirmwareHang: {"firmware-hang", "the _L01 handler hangs during memory training",
		"FirmwareTimeout{Stage: training} after the watchdog, FW_FAULT, _OST(0x200, 0x81), module parked, alert", StageFirmware},
}

// FaultKinds lists every kind.
func FaultKinds() []FaultKind {
	out := make([]FaultKind, 0, len(faultInfos))
	for k := range faultInfos {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// String is the kind's stable name ("spd-crc", "training", ...).
func (k FaultKind) String() string {
	if i, ok := faultInfos[k]; ok {
		return i.name
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// Description says what the fault simulates.
func (k FaultKind) Description() string { return faultInfos[k].desc }

// Outcome says what the platform does when the fault strikes.
func (k FaultKind) Outcome() string { return faultInfos[k].outcome }

// Stage says which layer acts on the fault.
func (k FaultKind) Stage() Stage { return faultInfos[k].stage }

// MarshalText implements encoding.TextMarshaler.
func (k FaultKind) MarshalText() ([]byte, error) {
	if _, ok := faultInfos[k]; !ok {
		return nil, fmt.Errorf("smc: unknown fault kind %d", int(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *FaultKind) UnmarshalText(b []byte) error {
	v, err := ParseFaultKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// ParseFaultKind resolves a kind by name.
func ParseFaultKind(s string) (FaultKind, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	names := make([]string, 0, len(faultInfos))
	for _, k := range FaultKinds() {
		if k.String() == s {
			return k, nil
		}
		names = append(names, k.String())
	}
	return 0, fmt.Errorf("smc: unknown fault kind %q (known: %s)", s, strings.Join(names, ", "))
}

// Faults is the fault-injection panel shared by the SMC and the firmware:
// which kinds are armed on which slot, and the seeded random streams that
// make every fault's details (which lane, which bit) reproducible. Armed
// faults persist until cleared, like a defective part stays defective.
type Faults struct {
	seed uint64

	mu    sync.Mutex
	armed map[string]map[FaultKind]bool
	draws map[string]uint64
}

// NewFaults returns an empty panel whose random streams derive from seed.
func NewFaults(seed uint64) *Faults {
	return &Faults{seed: seed, armed: map[string]map[FaultKind]bool{}, draws: map[string]uint64{}}
}

// Seed returns the seed the panel was made with.
func (f *Faults) Seed() uint64 { return f.seed }

// Arm sets kind on slot.
func (f *Faults) Arm(slot string, kind FaultKind) error {
	if _, ok := faultInfos[kind]; !ok {
		return fmt.Errorf("smc: arm %s: unknown fault kind %d", slot, int(kind))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.armed[slot] == nil {
		f.armed[slot] = map[FaultKind]bool{}
	}
	f.armed[slot][kind] = true
	return nil
}

// Clear removes kind from slot; kind 0 clears every fault of the slot.
func (f *Faults) Clear(slot string, kind FaultKind) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if kind == 0 {
		delete(f.armed, slot)
		return
	}
	delete(f.armed[slot], kind)
}

// Armed reports whether kind is armed on slot. A nil panel has no faults.
func (f *Faults) Armed(slot string, kind FaultKind) bool {
	if f == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.armed[slot][kind]
}

// List returns the armed kinds of slot in order.
func (f *Faults) List(slot string) []FaultKind {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []FaultKind
	for k := range f.armed[slot] {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Rand returns a random stream for one operation on slot. Successive calls
// for the same slot and purpose give different but reproducible streams: the
// n-th call depends only on the seed, the slot, the purpose and n.
func (f *Faults) Rand(slot, purpose string) *rand.Rand {
	var seed uint64
	var n uint64
	if f != nil {
		seed = f.seed
		f.mu.Lock()
		key := slot + "\x00" + purpose
		n = f.draws[key]
		f.draws[key] = n + 1
		f.mu.Unlock()
	}
	h := fnv.New64a()
	h.Write([]byte(slot))
	h.Write([]byte{0})
	h.Write([]byte(purpose))
	return rand.New(rand.NewPCG(seed, h.Sum64()^(n*0x9E3779B97F4A7C15)))
}

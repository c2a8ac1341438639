package smc

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// recorder is a Publisher that keeps every event.
type recorder struct {
	mu  sync.Mutex
	evs []events.Event
}

func (r *recorder) Publish(at time.Time, e events.Event) events.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, e)
	return events.Record{Seq: uint64(len(r.evs)), Time: at, Event: e}
}

func (r *recorder) take() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.evs
	r.evs = nil
	return out
}

func kinds(evs []events.Event) string {
	var k []string
	for _, e := range evs {
		k = append(k, e.Kind())
	}
	return strings.Join(k, ",")
}

type sciLog struct {
	mu   sync.Mutex
	scis []SCI
}

func (l *sciLog) RaiseSCI(s SCI) {
	l.mu.Lock()
	l.scis = append(l.scis, s)
	l.mu.Unlock()
}

func (l *sciLog) all() []SCI {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]SCI(nil), l.scis...)
}

type rig struct {
	t      *testing.T
	clk    *clock.Manual
	rec    *recorder
	sci    *sciLog
	faults *Faults
	c      *Controller
}

func image(t testing.TB, s spd.Spec) []byte {
	t.Helper()
	if s.Type == "" {
		s.Type = spd.DDR5
	}
	if s.BaseModule == "" {
		s.BaseModule = spd.RDIMM
	}
	if s.CapacityGiB == 0 {
		s.CapacityGiB = 32
	}
	if s.Ranks == 0 {
		s.Ranks = 1
	}
	if s.SpeedMTs == 0 {
		s.SpeedMTs = 4800
	}
	if s.Manufacturer == "" {
		s.Manufacturer = "Samsung"
	}
	img, err := spd.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// newRig builds the default board: hpSlot 1 of every channel populated.
func newRig(t *testing.T, ueProb float64) *rig {
	t.Helper()
	prof := profile.Default()
	boot := map[string][]byte{}
	for _, d := range Topology(prof.Memory) {
		if d.Position == 1 {
			boot[d.Name] = image(t, spd.Spec{SerialNumber: uint32(d.Ordinal)})
		}
	}
	r := &rig{t: t, clk: clock.NewManual(time.Unix(1_700_000_000, 0)), rec: &recorder{}, sci: &sciLog{}, faults: NewFaults(42)}
	c, err := New(Config{Memory: prof.Memory, Clock: r.clk, Publisher: r.rec, Notifier: r.sci, Faults: r.faults,
		NoiseUEProbability: ueProb, Boot: boot})
	if err != nil {
		t.Fatal(err)
	}
	r.c = c
	return r
}

func (r *rig) must(err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) status(name string) SlotStatus {
	r.t.Helper()
	st, err := r.c.Status(name)
	r.must(err)
	return st
}

func (r *rig) expect(name string, p PowerState, led LED, op Op) SlotStatus {
	r.t.Helper()
	st := r.status(name)
	if st.Power != p || st.LED != led || st.Op != op {
		r.t.Fatalf("%s: power=%s led=%s op=%q, want %s %s %q (fault %q)", name, st.Power, st.LED, st.Op, p, led, op, st.Fault)
	}
	return st
}

const hpSlot = "CPU0_DIMM_A2"

func TestTopologyMatchesProfileNames(t *testing.T) {
	prof := profile.Default()
	top := Topology(prof.Memory)
	names := prof.SlotNames()
	if len(top) != len(names) {
		t.Fatalf("%d slots, profile has %d", len(top), len(names))
	}
	for i, s := range top {
		if s.Name != names[i] || s.Ordinal != i {
			t.Fatalf("hpSlot %d: %+v, want %s", i, s, names[i])
		}
	}
	if s := top[len(top)-1]; s.Socket != 1 || s.Controller != 3 || s.Channel != 7 || s.Position != 2 {
		t.Fatalf("last hpSlot %+v", s)
	}
}

func TestHappyPathInsertion(t *testing.T) {
	r := newRig(t, 0)
	tm := DefaultTiming()
	r.expect(hpSlot, PowerOff, LEDOff, OpNone)
	r.expect("CPU0_DIMM_A1", PowerNominal, LEDOff, OpNone)

	r.must(r.c.PressAttention(hpSlot))
	r.expect(hpSlot, PowerOff, LEDBlinking, OpIsolating)
	if got := kinds(r.rec.take()); got != "AttentionPressed,AttentionIndicatorChanged" {
		t.Fatalf("events after press: %s", got)
	}
	r.clk.Advance(tm.Isolation - time.Millisecond)
	r.expect(hpSlot, PowerOff, LEDBlinking, OpIsolating)
	r.clk.Advance(time.Millisecond)
	r.expect(hpSlot, PowerIsolated, LEDOff, OpReady)
	if got := kinds(r.rec.take()); got != "SlotPowerChanged,AttentionIndicatorChanged,SlotReady" {
		t.Fatalf("events after isolation: %s", got)
	}

	r.must(r.c.OpenLatch(hpSlot))
	img := image(t, spd.Spec{CapacityGiB: 64, Ranks: 2, SpeedMTs: 5600, SerialNumber: 0xABCD})
	r.must(r.c.Insert(hpSlot, img))
	evs := r.rec.take()
	if got := kinds(evs); got != "SlotLatchChanged,SlotPresenceChanged" {
		t.Fatalf("events after insert: %s", got)
	}
	if p := evs[1].(events.SlotPresenceChanged); !p.Present || !p.Isolated {
		t.Fatalf("presence %+v", p)
	}
	r.must(r.c.CloseLatch(hpSlot))
	r.expect(hpSlot, PowerIsolated, LEDBlinking, OpSPDRead)
	r.clk.Advance(tm.SPDRead)
	st := r.expect(hpSlot, PowerRamping, LEDBlinking, OpRamping)
	if st.Module == nil || st.Module.CapacityMiB != 64*1024 || st.SpeedMTs != 4800 {
		t.Fatalf("accepted module %+v speed %d (5600 part must run at the 4800 bus)", st.Module, st.SpeedMTs)
	}
	if got := kinds(r.rec.take()); got != "SlotLatchChanged,AttentionIndicatorChanged,SPDAccepted,SlotPowerChanged" {
		t.Fatalf("events after SPD read: %s", got)
	}
	for i := 1; i < tm.RampSteps; i++ {
		r.clk.Advance(tm.RampStep)
		st := r.expect(hpSlot, PowerRamping, LEDBlinking, OpRamping)
		if want := 1100 * i / tm.RampSteps; st.MilliVolts != want {
			t.Fatalf("ramp step %d: %d mV, want %d", i, st.MilliVolts, want)
		}
		if len(r.sci.all()) != 0 {
			t.Fatal("SCI raised before the rail reached nominal")
		}
	}
	r.clk.Advance(tm.RampStep)
	st = r.expect(hpSlot, PowerNominal, LEDBlinking, OpFirmware)
	if st.MilliVolts != 1100 {
		t.Fatalf("nominal at %d mV", st.MilliVolts)
	}
	scis := r.sci.all()
	if len(scis) != 1 || scis[0].Cause != CauseInsert || scis[0].Method != "_L01" || scis[0].GPE != 1 ||
		scis[0].Slot.Name != hpSlot || scis[0].Module.SerialNumber != "0000ABCD" || scis[0].SpeedMTs != 4800 {
		t.Fatalf("SCI %+v", scis)
	}
	if got := kinds(r.rec.take()); got != "SlotPowerChanged,SCIRaised" {
		t.Fatalf("events at nominal: %s", got)
	}
	r.must(r.c.HotAddDone(hpSlot))
	r.expect(hpSlot, PowerNominal, LEDOff, OpNone)
	if err := r.c.HotAddDone(hpSlot); !errors.Is(err, ErrWrongState) {
		t.Fatalf("second HotAddDone: %v", err)
	}
	if n := r.clk.Pending(); n != 0 {
		t.Fatalf("%d timers left", n)
	}
}

func TestRemovalSequence(t *testing.T) {
	r := newRig(t, 0)
	r.must(r.c.PressAttention("CPU0_DIMM_B1"))
	r.expect("CPU0_DIMM_B1", PowerNominal, LEDBlinking, OpEjecting)
	scis := r.sci.all()
	if len(scis) != 1 || scis[0].Cause != CauseEjectRequest {
		t.Fatalf("SCI %+v", scis)
	}
	// The firmware refuses (boot memory): nothing changes but the LED.
	r.must(r.c.EjectRefused("CPU0_DIMM_B1", "not ejectable"))
	r.expect("CPU0_DIMM_B1", PowerNominal, LEDOff, OpNone)

	// Ask again; this time the firmware runs _EJ0.
	r.must(r.c.PressAttention("CPU0_DIMM_B1"))
	r.must(r.c.PowerOff("CPU0_DIMM_B1"))
	r.expect("CPU0_DIMM_B1", PowerRamping, LEDBlinking, OpPoweringOff)
	r.rec.take()
	r.clk.Advance(DefaultTiming().Isolation)
	st := r.expect("CPU0_DIMM_B1", PowerIsolated, LEDOff, OpNone)
	if st.MilliVolts != 0 || st.Module != nil || !st.Present {
		t.Fatalf("after power off %+v", st)
	}
	if got := kinds(r.rec.take()); got != "SlotPowerChanged,AttentionIndicatorChanged,SlotReady" {
		t.Fatalf("events: %s", got)
	}
	if _, err := r.c.Remove("CPU0_DIMM_B1"); !errors.Is(err, ErrLatchClosed) {
		t.Fatalf("remove with latch closed: %v", err)
	}
	r.must(r.c.OpenLatch("CPU0_DIMM_B1"))
	img, err := r.c.Remove("CPU0_DIMM_B1")
	r.must(err)
	if len(img) != spd.DDR5Size {
		t.Fatalf("removed image %d bytes", len(img))
	}
	r.expect("CPU0_DIMM_B1", PowerOff, LEDOff, OpNone)
	evs := r.rec.take()
	if got := kinds(evs); got != "SlotLatchChanged,SlotPresenceChanged,SlotPowerChanged" {
		t.Fatalf("events: %s", got)
	}
	for _, e := range evs {
		if _, bad := e.(events.BusNoise); bad {
			t.Fatal("safe removal made noise")
		}
	}
}

func TestInsertWithoutAttentionMakesBusNoiseOnNeighboursOnly(t *testing.T) {
	r := newRig(t, 0)
	r.must(r.c.OpenLatch(hpSlot))
	r.must(r.c.Insert(hpSlot, image(t, spd.Spec{})))
	var noise *events.BusNoise
	for _, e := range r.rec.take() {
		if n, ok := e.(events.BusNoise); ok {
			noise = &n
		}
	}
	if noise == nil {
		t.Fatal("no bus noise")
	}
	if noise.Socket != 0 || noise.Channel != 0 || len(noise.Victims) != 1 || noise.Victims[0].Slot != "CPU0_DIMM_A1" ||
		noise.Victims[0].Correctable < 1 || noise.Victims[0].Uncorrectable != 0 {
		t.Fatalf("noise %+v", noise)
	}
	for _, s := range r.c.Slots() {
		if s.Disturbed != (s.Name == "CPU0_DIMM_A1") {
			t.Fatalf("hpSlot %s disturbed=%v", s.Name, s.Disturbed)
		}
	}
	r.clk.Advance(DefaultTiming().NoiseRecovery)
	evs := r.rec.take()
	if got := kinds(evs); got != "BusNoiseRecovered" {
		t.Fatalf("events: %s", got)
	}
	if st := r.status("CPU0_DIMM_A1"); st.Disturbed || st.Power != PowerNominal {
		t.Fatalf("victim after recovery %+v", st)
	}
	// Closing the latch rescues the sequence: isolate, then read and ramp.
	r.must(r.c.CloseLatch(hpSlot))
	r.expect(hpSlot, PowerOff, LEDBlinking, OpIsolating)
	r.clk.Advance(DefaultTiming().Isolation)
	r.expect(hpSlot, PowerIsolated, LEDBlinking, OpSPDRead)
	r.clk.RunUntilIdle(time.Minute)
	r.expect(hpSlot, PowerNominal, LEDBlinking, OpFirmware)
}

func TestBusNoiseUEIsSeededAndForcible(t *testing.T) {
	run := func(prob float64, force bool) []events.NoiseHit {
		r := newRig(t, prob)
		var hits []events.NoiseHit
		for ch := 0; ch < 8; ch++ {
			name := profile.SlotName(0, ch, 2)
			if force {
				r.must(r.faults.Arm(name, FaultBusNoiseUE))
			}
			r.must(r.c.OpenLatch(name))
			r.must(r.c.Insert(name, image(t, spd.Spec{})))
		}
		for _, e := range r.rec.take() {
			if n, ok := e.(events.BusNoise); ok {
				hits = append(hits, n.Victims...)
			}
		}
		return hits
	}
	a, b := run(0.5, false), run(0.5, false)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("same seed, different noise:\n%v\n%v", a, b)
	}
	ues := 0
	for _, h := range a {
		ues += h.Uncorrectable
	}
	if ues == 0 || ues == len(a) {
		t.Fatalf("p=0.5 gave %d UEs over %d victims", ues, len(a))
	}
	for _, h := range run(0, true) {
		if h.Uncorrectable != 1 {
			t.Fatalf("forced UE missing: %+v", h)
		}
	}
}

func TestSurpriseRemoval(t *testing.T) {
	r := newRig(t, 0)
	r.must(r.c.OpenLatch("CPU1_DIMM_C1"))
	_, err := r.c.Remove("CPU1_DIMM_C1")
	r.must(err)
	st := r.expect("CPU1_DIMM_C1", PowerOff, LEDOn, OpNone)
	if st.Fault != "surprise removal" || st.Present {
		t.Fatalf("%+v", st)
	}
	scis := r.sci.all()
	if len(scis) != 1 || scis[0].Cause != CauseSurpriseRemoval || scis[0].Module.SerialNumber == "" {
		t.Fatalf("SCI %+v", scis)
	}
	var surprise bool
	for _, e := range r.rec.take() {
		if s, ok := e.(events.SurpriseRemoval); ok && s.PowerState == "Nominal" {
			surprise = true
		}
		if _, ok := e.(events.BusNoise); ok {
			t.Fatal("no neighbour is populated on CPU1 channel C hpSlot 2; no noise expected")
		}
	}
	if !surprise {
		t.Fatal("no SurpriseRemoval event")
	}
	// Pulling mid-ramp is a surprise too, and cancels the ramp.
	r.must(r.c.PressAttention(hpSlot))
	r.clk.Advance(DefaultTiming().Isolation)
	r.must(r.c.OpenLatch(hpSlot))
	r.must(r.c.Insert(hpSlot, image(t, spd.Spec{})))
	r.must(r.c.CloseLatch(hpSlot))
	r.clk.Advance(DefaultTiming().SPDRead + 3*DefaultTiming().RampStep)
	r.expect(hpSlot, PowerRamping, LEDBlinking, OpRamping)
	r.must(r.c.OpenLatch(hpSlot))
	_, err = r.c.Remove(hpSlot)
	r.must(err)
	r.expect(hpSlot, PowerOff, LEDOn, OpNone)
	r.clk.RunUntilIdle(time.Minute)
	r.expect(hpSlot, PowerOff, LEDOn, OpNone)
	// The next attention press starts over and clears the fault.
	r.must(r.c.PressAttention(hpSlot))
	if st := r.status(hpSlot); st.Fault != "" || st.LED != LEDBlinking {
		t.Fatalf("%+v", st)
	}
}

func TestSPDFaultsAndChecks(t *testing.T) {
	cases := []struct {
		name   string
		fault  FaultKind
		spec   spd.Spec
		reason CheckReason
	}{
		{"crc", FaultSPDCRC, spd.Spec{}, ReasonCRC},
		{"voltage", FaultVoltageMismatch, spd.Spec{}, ReasonVoltage},
		{"speed-fault", FaultSpeedMismatch, spd.Spec{}, ReasonSpeed},
		{"slow-part", 0, spd.Spec{SpeedMTs: 4400}, ReasonSpeed},
		{"ddr4", 0, spd.Spec{Type: spd.DDR4}, ReasonDRAMType},
		{"lrdimm-next-to-rdimm", 0, spd.Spec{BaseModule: spd.LRDIMM}, ReasonModuleType},
		{"too-big", 0, spd.Spec{CapacityGiB: 512, Ranks: 4}, ReasonCapacity},
		{"too-many-ranks", 0, spd.Spec{CapacityGiB: 128, Ranks: 8}, ReasonRanks},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 0)
			if tc.fault != 0 {
				r.must(r.faults.Arm(hpSlot, tc.fault))
			}
			r.must(r.c.PressAttention(hpSlot))
			r.clk.Advance(time.Second)
			r.must(r.c.OpenLatch(hpSlot))
			r.must(r.c.Insert(hpSlot, image(t, tc.spec)))
			r.must(r.c.CloseLatch(hpSlot))
			r.clk.RunUntilIdle(time.Minute)
			st := r.expect(hpSlot, PowerIsolated, LEDOn, OpNone)
			if !strings.HasPrefix(st.Fault, string(tc.reason)+":") || st.Module != nil {
				t.Fatalf("fault %q module %v", st.Fault, st.Module)
			}
			var failed *events.SPDCheckFailed
			for _, e := range r.rec.take() {
				if f, ok := e.(events.SPDCheckFailed); ok {
					failed = &f
				}
			}
			if failed == nil || failed.Reason != string(tc.reason) || failed.Detail == "" {
				t.Fatalf("event %+v", failed)
			}
			if len(r.sci.all()) != 0 {
				t.Fatal("SCI raised for a refused module")
			}
			if tc.fault == 0 {
				return
			}
			// Clear the fault and retry with the attention button.
			r.faults.Clear(hpSlot, 0)
			r.must(r.c.PressAttention(hpSlot))
			r.clk.RunUntilIdle(time.Minute)
			r.expect(hpSlot, PowerNominal, LEDBlinking, OpFirmware)
		})
	}
}

func TestHotAddFailedParksSlot(t *testing.T) {
	r := newRig(t, 0)
	r.must(r.c.PressAttention(hpSlot))
	r.clk.Advance(time.Second)
	r.must(r.c.OpenLatch(hpSlot))
	r.must(r.c.Insert(hpSlot, image(t, spd.Spec{})))
	r.must(r.c.CloseLatch(hpSlot))
	r.clk.RunUntilIdle(time.Minute)
	r.must(r.c.HotAddFailed(hpSlot, "FW_FAULT: calibration"))
	r.expect(hpSlot, PowerRamping, LEDOn, OpPoweringOff)
	r.clk.RunUntilIdle(time.Minute)
	st := r.expect(hpSlot, PowerIsolated, LEDOn, OpNone)
	if st.Fault != "FW_FAULT: calibration" {
		t.Fatalf("%+v", st)
	}
	r.must(r.c.OpenLatch(hpSlot))
	if _, err := r.c.Remove(hpSlot); err != nil {
		t.Fatal(err)
	}
	r.expect(hpSlot, PowerOff, LEDOff, OpNone)
}

func TestErrors(t *testing.T) {
	r := newRig(t, 0)
	if err := r.c.PressAttention("nope"); !errors.Is(err, ErrUnknownSlot) {
		t.Fatal(err)
	}
	if err := r.c.Insert(hpSlot, image(t, spd.Spec{})); !errors.Is(err, ErrLatchClosed) {
		t.Fatal(err)
	}
	r.must(r.c.OpenLatch("CPU0_DIMM_A1"))
	if err := r.c.Insert("CPU0_DIMM_A1", image(t, spd.Spec{})); !errors.Is(err, ErrSlotOccupied) {
		t.Fatal(err)
	}
	if _, err := r.c.Remove(hpSlot); !errors.Is(err, ErrSlotEmpty) {
		t.Fatal(err)
	}
	r.must(r.c.PressAttention(hpSlot))
	if err := r.c.PressAttention(hpSlot); !errors.Is(err, ErrBusy) {
		t.Fatalf("press while isolating: %v", err)
	}
	r.clk.Advance(time.Second)
	// A second press on the isolated empty hpSlot cancels.
	r.must(r.c.PressAttention(hpSlot))
	r.expect(hpSlot, PowerOff, LEDOff, OpNone)
	if err := r.c.PowerOff(hpSlot); !errors.Is(err, ErrWrongState) {
		t.Fatal(err)
	}
	if err := r.c.EjectRefused("CPU0_DIMM_A1", ""); !errors.Is(err, ErrWrongState) {
		t.Fatal(err)
	}
}

func TestFaultKinds(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range FaultKinds() {
		if k.Description() == "" || k.Outcome() == "" || k.Stage() == "" || seen[k.String()] {
			t.Fatalf("kind %d incomplete or duplicate: %q", int(k), k)
		}
		seen[k.String()] = true
		back, err := ParseFaultKind(k.String())
		if err != nil || back != k {
			t.Fatalf("parse %q: %v %v", k, back, err)
		}
		txt, _ := k.MarshalText()
		var u FaultKind
		if err := u.UnmarshalText(txt); err != nil || u != k {
			t.Fatal(err)
		}
	}
	if len(seen) != 8 {
		t.Fatalf("%d kinds", len(seen))
	}
	if _, err := ParseFaultKind("gremlins"); err == nil {
		t.Fatal("unknown kind parsed")
	}
	f := NewFaults(7)
	if err := f.Arm("x", FaultKind(99)); err == nil {
		t.Fatal("armed an unknown kind")
	}
	a, b := NewFaults(7), NewFaults(7)
	if a.Rand("s", "p").Uint64() != b.Rand("s", "p").Uint64() {
		t.Fatal("same seed, different stream")
	}
	if a.Rand("s", "p").Uint64() == b.Rand("s", "q").Uint64() {
		t.Fatal("streams do not depend on purpose or draw count")
	}
	var nilFaults *Faults
	if nilFaults.Armed("s", FaultStuckAt) || nilFaults.List("s") != nil {
		t.Fatal("nil panel has faults")
	}
}

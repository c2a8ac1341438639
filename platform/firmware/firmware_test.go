package firmware

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
	"github.com/bmcemu/bmcemu/platform/smc"
	"github.com/bmcemu/bmcemu/platform/spd"
)

type recorder struct {
	mu  sync.Mutex
	evs []events.Event
}

func (r *recorder) Publish(at time.Time, e events.Event) events.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, e)
	return events.Record{Time: at, Event: e}
}

func (r *recorder) find(kind string) []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []events.Event
	for _, e := range r.evs {
		if e.Kind() == kind {
			out = append(out, e)
		}
	}
	return out
}

// linuxOSPM behaves like acpi_memhotplug: on Device Check it adds an
// enabled device's memory and acknowledges with _OST; on Eject Request it
// offlines (or refuses with "device in use") and runs _EJ0.
type linuxOSPM struct {
	fw       *Firmware
	mu       sync.Mutex
	notifies []string
	refuse   uint32 // insert failure status to return, 0 = succeed
	inUse    bool   // refuse ejects
	silent   bool   // never answer
}

func (o *linuxOSPM) Notify(d Device, code NotifyCode) {
	o.mu.Lock()
	o.notifies = append(o.notifies, fmt.Sprintf("%s:%s:STA=%X", d.Slot, code, d.STA))
	refuse, inUse, silent := o.refuse, o.inUse, o.silent
	o.mu.Unlock()
	if silent {
		return
	}
	switch code {
	case NotifyDeviceCheck:
		if d.STA&STAEnabled == 0 {
			return
		}
		_ = o.fw.OST(d.UID, OSTSourceInsert, OSTInsertInProgress)
		_ = o.fw.OST(d.UID, OSTSourceInsert, refuse)
	case NotifyEjectRequest:
		_ = o.fw.OST(d.UID, OSTSourceEject, OSTEjectInProgress)
		if inUse {
			_ = o.fw.OST(d.UID, OSTSourceEject, OSTEjectInUse)
			return
		}
		if err := o.fw.EJ0(d.UID); err != nil {
			_ = o.fw.OST(d.UID, OSTSourceEject, OSTFailure)
			return
		}
		_ = o.fw.OST(d.UID, OSTSourceEject, OSTSuccess)
	}
}

type rig struct {
	t      *testing.T
	clk    *clock.Manual
	rec    *recorder
	faults *smc.Faults
	smc    *smc.Controller
	fw     *Firmware
	os     *linuxOSPM
}

func image(t testing.TB, gib, ranks int, serial uint32) []byte {
	t.Helper()
	img, err := spd.Encode(spd.Spec{Type: spd.DDR5, BaseModule: spd.RDIMM, CapacityGiB: gib, Ranks: ranks, SpeedMTs: 4800,
		Manufacturer: "Samsung", PartNumber: "M321R4GA3BB6-CQK", SerialNumber: serial})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func newRig(t *testing.T, mut func(*Config)) *rig {
	t.Helper()
	prof := profile.Default()
	boot := map[string][]byte{}
	for _, d := range smc.Topology(prof.Memory) {
		if d.Position == 1 {
			boot[d.Name] = image(t, 32, 1, uint32(d.Ordinal+1))
		}
	}
	r := &rig{t: t, clk: clock.NewManual(time.Unix(1_700_000_000, 0)), rec: &recorder{}, faults: smc.NewFaults(1)}
	c, err := smc.New(smc.Config{Memory: prof.Memory, Clock: r.clk, Publisher: r.rec, Faults: r.faults, Boot: boot})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Memory: prof.Memory, Clock: r.clk, Hardware: c, Publisher: r.rec, Faults: r.faults}
	if mut != nil {
		mut(&cfg)
	}
	fw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetNotifier(fw)
	r.os = &linuxOSPM{fw: fw}
	fw.SetOSPM(r.os)
	r.smc, r.fw = c, fw
	return r
}

func (r *rig) must(err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
}

// hotAdd runs the operator sequence and lets all timers run.
func (r *rig) hotAdd(slot string, img []byte) {
	r.t.Helper()
	r.must(r.smc.PressAttention(slot))
	r.clk.RunUntilIdle(time.Minute)
	r.must(r.smc.OpenLatch(slot))
	r.must(r.smc.Insert(slot, img))
	r.must(r.smc.CloseLatch(slot))
	r.clk.RunUntilIdle(time.Minute)
}

func (r *rig) dev(slot string) Device {
	r.t.Helper()
	d, err := r.fw.DeviceForSlot(slot)
	r.must(err)
	return d
}

func ostSeq(d Device) string {
	var s []string
	for _, o := range d.OST {
		s = append(s, fmt.Sprintf("%s(%#x,%#x)", o.From, o.Source, o.Status))
	}
	return strings.Join(s, " ")
}

func TestBootLayout(t *testing.T) {
	r := newRig(t, nil)
	l := r.fw.Layout()
	// Socket 0: 256 GiB boot memory split around the 32-bit hole.
	if len(l.Boot[0]) != 2 || l.Boot[0][0] != (Range{0, LowMMIOBase}) || l.Boot[0][1].Base != fourGiB ||
		l.Boot[0][0].Length+l.Boot[0][1].Length != 256*GiB {
		t.Fatalf("socket 0 boot %v", l.Boot[0])
	}
	// 8 empty slots x 64 GiB reserved per socket, 2 GiB aligned.
	for s := 0; s < 2; s++ {
		var n uint64
		for _, p := range l.Reserve[s] {
			n += p.Length
			if p.Base%(2*GiB) != 0 {
				t.Fatalf("reservation %v unaligned", p)
			}
		}
		if n != 512*GiB {
			t.Fatalf("socket %d reserves %d GiB", s, n/GiB)
		}
	}
	regs := l.Regions()
	for i := 1; i < len(regs); i++ {
		if regs[i-1].Overlaps(regs[i].Range) {
			t.Fatalf("layout regions overlap: %v %v", regs[i-1], regs[i])
		}
	}
	tad := r.fw.TAD()
	if len(tad.Rules) != 3 || tad.Rules[0].Ways() != 8 || tad.Rules[0].Granularity != InterleaveGranularity {
		t.Fatalf("boot TAD %+v", tad.Rules)
	}
	for _, c := range tad.Controllers {
		if !c.Interleaved || c.MapOut != 0 {
			t.Fatalf("controller %+v", c)
		}
	}
	// Decode spreads consecutive 4 KiB stripes across channels.
	a, _, _ := tad.Decode(0)
	b, _, _ := tad.Decode(4096)
	if a != "CPU0_DIMM_A1" || b != "CPU0_DIMM_B1" {
		t.Fatalf("decode 0 -> %s, 4096 -> %s", a, b)
	}
	if _, _, ok := tad.Decode(LowMMIOBase); ok {
		t.Fatal("MMIO hole decodes to DRAM")
	}
	params := r.fw.MemmapParams()
	if len(params) != 2 || !strings.HasPrefix(params[0], "memmap=512G$0x") {
		t.Fatalf("memmap params %v", params)
	}
	var hp int
	for _, d := range r.fw.EFIMemoryMap() {
		if d.Attribute&EFIMemoryHotPluggable != 0 {
			hp++
			if d.Type != EfiReservedMemoryType {
				t.Fatalf("hot-pluggable descriptor %+v", d)
			}
		}
	}
	if hp != 2 {
		t.Fatalf("%d hot-pluggable EFI descriptors", hp)
	}
	txt := FormatEFIMap(r.fw.EFIMemoryMap())
	if !strings.Contains(txt, "|HP|") || !strings.Contains(txt, "MMIO") {
		t.Fatalf("EFI map text:\n%s", txt)
	}
}

func TestHotAddSuccess(t *testing.T) {
	r := newRig(t, nil)
	const slot = "CPU1_DIMM_C2"
	before := r.fw.TAD()
	r.hotAdd(slot, image(t, 64, 2, 0x77))
	d := r.dev(slot)
	if d.STA != STAOK || len(d.CRS) != 1 || d.CRS[0].Length != 64*GiB || d.PXM != 1 || !d.Ejectable || d.Stage != "" {
		t.Fatalf("device %+v", d)
	}
	if got := ostSeq(d); got != "firmware(0x200,0x80) ospm(0x200,0x80) ospm(0x200,0x0)" {
		t.Fatalf("_OST sequence %s", got)
	}
	if d.Training == nil || !d.Training.Pass || len(d.Training.Lanes) != 9 || d.Pattern == nil || !d.Pattern.Passed {
		t.Fatalf("training %+v pattern %+v", d.Training, d.Pattern)
	}
	st, _ := r.smc.Status(slot)
	if st.Power != smc.PowerNominal || st.LED != smc.LEDOff || st.Op != smc.OpNone {
		t.Fatalf("slot %+v", st)
	}
	// NUMA locality: inside socket 1's reservation.
	inside := false
	for _, p := range r.fw.Layout().Reserve[1] {
		inside = inside || p.Contains(d.CRS[0])
	}
	if !inside {
		t.Fatalf("%v outside socket 1 reservation", d.CRS[0])
	}
	// Atomic swap: a new generation; the old table object is untouched.
	after := r.fw.TAD()
	if after.Generation <= before.Generation || len(before.RulesFor(slot)) != 0 {
		t.Fatalf("generations %d -> %d", before.Generation, after.Generation)
	}
	if s, off, ok := after.Decode(d.CRS[0].Base + 12345); !ok || s != slot || off != 12345 {
		t.Fatalf("decode new range: %s %d %v", s, off, ok)
	}
	// Symmetry broken on socket 1 controller 1 (channels C, D): Map Out.
	ic := r.rec.find("InterleaveChanged")
	if len(ic) != 1 {
		t.Fatalf("interleave events %v", ic)
	}
	if c := ic[0].(events.InterleaveChanged); c.Socket != 1 || c.Controller != 1 || c.Interleaved || c.MapOut != 0b1100 || len(c.Migrate) == 0 {
		t.Fatalf("interleave change %+v", c)
	}
	for _, c := range after.Controllers {
		want := !(c.Socket == 1 && c.Controller == 1)
		if c.Interleaved != want {
			t.Fatalf("controller %+v", c)
		}
	}
	if rs := after.RulesFor("CPU1_DIMM_C1"); len(rs) != 1 || rs[0].Ways() != 1 {
		t.Fatalf("mapped-out boot module rules %+v", rs)
	}
	if rs := after.RulesFor("CPU1_DIMM_A1"); len(rs) != 1 || rs[0].Ways() != 6 {
		t.Fatalf("remaining interleave set %+v", rs)
	}
	if len(r.rec.find("MemoryHotAdded")) != 1 || len(r.rec.find("MemoryTrained")) != 1 {
		t.Fatal("missing MemoryHotAdded/MemoryTrained")
	}

	// SRAT: the module's range is its own Enabled|HotPluggable entry on PXM 1.
	srat := r.fw.SRAT()
	found := false
	for _, m := range srat.Memory {
		if m.Base == d.CRS[0].Base {
			found = m.Length == 64*GiB && m.ProximityDomain == 1 && m.Flags == SRATEnabled|SRATHotPluggable
		}
	}
	if !found {
		t.Fatalf("no SRAT entry for %v in %+v", d.CRS[0], srat.Memory)
	}
	back, err := DecodeSRAT(srat.Encode())
	if err != nil || len(back.Memory) != len(srat.Memory) || len(back.CPUs) != 4 {
		t.Fatalf("SRAT round trip: %v", err)
	}
	txt := r.fw.SRATText()
	if !strings.Contains(txt, "Hot Pluggable : 1") || !strings.Contains(txt, `"SRAT"`) {
		t.Fatalf("SRAT text:\n%s", txt)
	}
}

func TestSRATAndHMATContents(t *testing.T) {
	r := newRig(t, nil)
	srat := r.fw.SRAT()
	var enabled, hot uint64
	for i, m := range srat.Memory {
		if i > 0 && srat.Memory[i-1].Base+srat.Memory[i-1].Length > m.Base {
			t.Fatalf("SRAT entries overlap: %+v %+v", srat.Memory[i-1], m)
		}
		switch m.Flags {
		case SRATEnabled:
			enabled += m.Length
		case SRATEnabled | SRATHotPluggable:
			hot += m.Length
		default:
			t.Fatalf("flags %x", m.Flags)
		}
	}
	if enabled != 512*GiB || hot != 1024*GiB {
		t.Fatalf("enabled %d GiB, hotplug %d GiB", enabled/GiB, hot/GiB)
	}
	h := r.fw.HMAT()
	if len(h.Proximity) != 2 || len(h.Locality) != 2 {
		t.Fatalf("HMAT %+v", h)
	}
	lat, bw := h.Locality[0], h.Locality[1]
	ll, _ := lat.Entry(0, 0)
	rl, _ := lat.Entry(0, 1)
	lb, _ := bw.Entry(1, 1)
	rb, _ := bw.Entry(1, 0)
	if uint64(ll)*lat.BaseUnit != 90_000 || uint64(rl)*lat.BaseUnit != 140_000 {
		t.Fatalf("latency local %d remote %d (x%d ps)", ll, rl, lat.BaseUnit)
	}
	if uint64(lb)*bw.BaseUnit != 8*4800*8 || uint64(rb)*bw.BaseUnit != 96_000 {
		t.Fatalf("bandwidth local %d remote %d (x%d MB/s)", lb, rb, bw.BaseUnit)
	}
	back, err := DecodeHMAT(h.Encode())
	if err != nil || fmt.Sprint(back.Locality) != fmt.Sprint(h.Locality) || fmt.Sprint(back.Proximity) != fmt.Sprint(h.Proximity) {
		t.Fatalf("HMAT round trip %v", err)
	}
	txt := r.fw.HMATText()
	for _, want := range []string{`"HMAT"`, "[Access Latency]", "[Access Bandwidth]", "Memory Proximity Domain Attributes", "Entry Base Unit"} {
		if !strings.Contains(txt, want) {
			t.Fatalf("HMAT text lacks %q:\n%s", want, txt)
		}
	}
}

func TestFirmwareFaults(t *testing.T) {
	cases := []struct {
		kind  smc.FaultKind
		event string
	}{
		{smc.FaultTraining, "TrainingFailed"},
		{smc.FaultCalibration, "TrainingFailed"},
		{smc.FaultStuckAt, "PatternTestCompleted"},
		{smc.FaultFirmwareHang, "FirmwareTimeout"},
	}
	for _, tc := range cases {
		t.Run(tc.kind.String(), func(t *testing.T) {
			r := newRig(t, nil)
			const slot = "CPU0_DIMM_E2"
			r.must(r.faults.Arm(slot, tc.kind))
			gen := r.fw.TAD().Generation
			r.hotAdd(slot, image(t, 32, 1, 0x99))
			d := r.dev(slot)
			if !d.FWFault || !d.Parked || d.STA != STAPresent || len(d.CRS) != 0 || d.Ejectable || d.FaultReason == "" {
				t.Fatalf("device %+v", d)
			}
			if got := ostSeq(d); got != "firmware(0x200,0x80) firmware(0x200,0x81)" {
				t.Fatalf("_OST %s", got)
			}
			if len(r.rec.find(tc.event)) == 0 || len(r.rec.find("FirmwareFault")) != 1 || len(r.rec.find("ModuleParked")) != 1 {
				t.Fatalf("events %v / FirmwareFault / ModuleParked missing", tc.event)
			}
			ff := r.rec.find("FirmwareFault")[0].(events.FirmwareFault)
			if ff.Fault != tc.kind.String() {
				t.Fatalf("fault %q, want %q", ff.Fault, tc.kind)
			}
			pool := r.fw.Defective()
			if len(pool) != 1 || pool[0].Serial != "00000099" || pool[0].Fault != tc.kind.String() {
				t.Fatalf("defective pool %+v", pool)
			}
			st, _ := r.smc.Status(slot)
			if st.Power != smc.PowerIsolated || st.LED != smc.LEDOn || !strings.HasPrefix(st.Fault, "FW_FAULT") {
				t.Fatalf("slot %+v", st)
			}
			if len(r.fw.TAD().RulesFor(slot)) != 0 {
				t.Fatal("faulty module still decoded")
			}
			if tc.kind == smc.FaultStuckAt {
				if r.fw.TAD().Generation != gen+2 {
					t.Fatalf("stuck-at: expected map then unmap, generation %d -> %d", gen, r.fw.TAD().Generation)
				}
				p := r.rec.find("PatternTestCompleted")[0].(events.PatternTestCompleted)
				if p.Passed || p.Address == 0 {
					t.Fatalf("pattern %+v", p)
				}
			} else if r.fw.TAD().Generation != gen {
				t.Fatal("TAD changed for a module that never trained")
			}
			// The OS heard about it (Device Check on a present-only device).
			if len(r.os.notifies) != 1 || !strings.Contains(r.os.notifies[0], "Device Check:STA=1") {
				t.Fatalf("notifies %v", r.os.notifies)
			}
		})
	}
}

func TestOSPMRefusesInsertion(t *testing.T) {
	r := newRig(t, nil)
	r.os.refuse = OSTInsertDriverLoad
	const slot = "CPU0_DIMM_A2"
	r.hotAdd(slot, image(t, 32, 1, 5))
	d := r.dev(slot)
	if d.STA != STAPresent || d.Parked || d.FWFault || len(d.CRS) != 0 {
		t.Fatalf("device %+v", d)
	}
	if got := ostSeq(d); got != "firmware(0x200,0x80) ospm(0x200,0x80) ospm(0x200,0x81)" {
		t.Fatalf("_OST %s", got)
	}
	if len(r.fw.TAD().RulesFor(slot)) != 0 || len(r.fw.Defective()) != 0 {
		t.Fatal("refused module left mapped or parked")
	}
	st, _ := r.smc.Status(slot)
	if st.Power != smc.PowerIsolated || st.LED != smc.LEDOn {
		t.Fatalf("slot %+v", st)
	}
}

func TestOSPMSilentTimesOut(t *testing.T) {
	r := newRig(t, nil)
	r.os.silent = true
	const slot = "CPU0_DIMM_A2"
	r.hotAdd(slot, image(t, 32, 1, 5))
	if ft := r.rec.find("FirmwareTimeout"); len(ft) != 1 || ft[0].(events.FirmwareTimeout).Stage != "ospm-insert" {
		t.Fatalf("timeouts %v", ft)
	}
	if d := r.dev(slot); d.STA != STAPresent || len(r.fw.TAD().RulesFor(slot)) != 0 {
		t.Fatalf("device %+v", d)
	}
}

func TestEject(t *testing.T) {
	r := newRig(t, nil)
	const slot = "CPU0_DIMM_B2"
	r.hotAdd(slot, image(t, 32, 1, 5))
	rng := r.dev(slot).CRS[0]

	// The OS refuses first: memory in use.
	r.os.inUse = true
	r.must(r.smc.PressAttention(slot))
	r.clk.RunUntilIdle(time.Minute)
	d := r.dev(slot)
	if d.STA != STAOK || !strings.HasSuffix(ostSeq(d), "ospm(0x103,0x84) ospm(0x103,0x81)") {
		t.Fatalf("refused eject: STA %x _OST %s", d.STA, ostSeq(d))
	}
	if st, _ := r.smc.Status(slot); st.Power != smc.PowerNominal || st.LED != smc.LEDOff {
		t.Fatalf("slot after refused eject %+v", st)
	}
	if ef := r.rec.find("EjectFailed"); len(ef) != 1 || !strings.Contains(ef[0].(events.EjectFailed).Reason, "device in use") {
		t.Fatalf("EjectFailed %v", ef)
	}

	r.os.inUse = false
	r.must(r.smc.PressAttention(slot))
	r.clk.RunUntilIdle(time.Minute)
	d = r.dev(slot)
	if d.STA != 0 || len(d.CRS) != 0 || !strings.HasSuffix(ostSeq(d), "ospm(0x103,0x84) ospm(0x103,0x0)") {
		t.Fatalf("ejected: STA %x CRS %v _OST %s", d.STA, d.CRS, ostSeq(d))
	}
	st, _ := r.smc.Status(slot)
	if st.Power != smc.PowerIsolated || st.LED != smc.LEDOff || !st.Present {
		t.Fatalf("slot after eject %+v", st)
	}
	if len(r.fw.TAD().RulesFor(slot)) != 0 {
		t.Fatal("ejected module still decoded")
	}
	free := r.fw.FreeReservation(0)
	back := false
	for _, f := range free {
		back = back || f.Contains(rng)
	}
	if !back {
		t.Fatalf("range %v not returned to the reservation %v", rng, free)
	}
	if len(r.rec.find("MemoryEjected")) != 1 {
		t.Fatal("no MemoryEjected")
	}
	r.must(r.smc.OpenLatch(slot))
	if _, err := r.smc.Remove(slot); err != nil {
		t.Fatal(err)
	}
	if len(r.rec.find("SurpriseRemoval")) != 0 {
		t.Fatal("safe removal reported as surprise")
	}

	// Boot memory: eject not supported, answered by the firmware itself.
	r.must(r.smc.PressAttention("CPU0_DIMM_B1"))
	r.clk.RunUntilIdle(time.Minute)
	if got := ostSeq(r.dev("CPU0_DIMM_B1")); got != "firmware(0x103,0x80)" {
		t.Fatalf("boot eject _OST %s", got)
	}
	if st, _ := r.smc.Status("CPU0_DIMM_B1"); st.Power != smc.PowerNominal || st.LED != smc.LEDOff {
		t.Fatalf("boot slot %+v", st)
	}
	if err := r.fw.EJ0(r.dev("CPU0_DIMM_B1").UID); !errors.Is(err, ErrNotEjectable) {
		t.Fatalf("EJ0 on boot memory: %v", err)
	}
}

func TestSurpriseRemovalUnmaps(t *testing.T) {
	r := newRig(t, nil)
	const slot = "CPU1_DIMM_H2"
	r.hotAdd(slot, image(t, 32, 1, 5))
	r.must(r.smc.OpenLatch(slot))
	if _, err := r.smc.Remove(slot); err != nil {
		t.Fatal(err)
	}
	if d := r.dev(slot); d.STA != 0 || len(r.fw.TAD().RulesFor(slot)) != 0 {
		t.Fatalf("device after surprise %+v", d)
	}
	if n := r.os.notifies; !strings.Contains(n[len(n)-1], "Device Check:STA=0") {
		t.Fatalf("notifies %v", n)
	}
}

func TestRSTFindsStuckBit(t *testing.T) {
	r := newRig(t, func(c *Config) { c.SkipPatternTest = true })
	const slot = "CPU0_DIMM_G2"
	r.must(r.faults.Arm(slot, smc.FaultStuckAt))
	r.hotAdd(slot, image(t, 32, 1, 5))
	d := r.dev(slot)
	if d.STA != STAOK || d.Pattern != nil {
		t.Fatalf("with the test skipped the module goes in: %+v", d)
	}
	res, err := r.fw.RST(d.UID)
	r.must(err)
	if res.Passed || res.Samples < PatternSamples || res.Patterns != 6 {
		t.Fatalf("RST %+v", res)
	}
	if d := r.dev(slot); d.STA&STAFunctional != 0 {
		t.Fatalf("functional bit still set: %+v", d)
	}
	if _, err := r.fw.RST(r.dev("CPU0_DIMM_A2").UID); !errors.Is(err, ErrNotPresent) {
		t.Fatalf("RST on empty device: %v", err)
	}
}

func TestNoAddressSpace(t *testing.T) {
	r := newRig(t, func(c *Config) { c.ReservePerSocket = 64 * GiB })
	r.hotAdd("CPU0_DIMM_A2", image(t, 64, 2, 1))
	r.hotAdd("CPU0_DIMM_B2", image(t, 32, 1, 2))
	rej := r.rec.find("AddressMapRejected")
	if len(rej) != 1 || !strings.Contains(rej[0].(events.AddressMapRejected).Reason, "exhausted") {
		t.Fatalf("rejections %v", rej)
	}
	if got := ostSeq(r.dev("CPU0_DIMM_B2")); got != "firmware(0x200,0x80) firmware(0x200,0x82)" {
		t.Fatalf("_OST %s", got)
	}
	if st, _ := r.smc.Status("CPU0_DIMM_B2"); st.LED != smc.LEDOn || st.Power != smc.PowerIsolated {
		t.Fatalf("slot %+v", st)
	}
}

func TestAtomicTADKeepsOldTableOnFailedValidation(t *testing.T) {
	r := newRig(t, nil)
	m := r.fw.amap
	old := m.TAD()
	bad := &TAD{Generation: old.Generation + 1, Rules: append([]Rule(nil), old.Rules...)}
	bad.Rules[1].Base -= 4096 // overlap the 32-bit hole
	if err := m.Commit(bad); !errors.Is(err, ErrInvalidTAD) {
		t.Fatalf("commit of overlapping table: %v", err)
	}
	if m.TAD() != old {
		t.Fatal("failed validation replaced the table")
	}
	// A hot-add whose table fails validation leaves the old one in force.
	m.validateFn = func(*TAD) error { return fmt.Errorf("%w: injected", ErrInvalidTAD) }
	r.hotAdd("CPU0_DIMM_A2", image(t, 32, 1, 1))
	if m.TAD() != old || len(r.rec.find("AddressMapRejected")) != 1 || len(r.rec.find("InterleaveChanged")) != 0 {
		t.Fatal("rejected hot-add changed the table or interleave state")
	}
	for _, c := range m.TAD().Controllers {
		if !c.Interleaved {
			t.Fatalf("interleave state leaked from a rejected add: %+v", c)
		}
	}
	m.validateFn = nil
	if _, ok := m.Range("CPU0_DIMM_A2"); ok {
		t.Fatal("rejected module left in the map")
	}
}

// TestRealClockConcurrency runs a hot-add and an eject on the speed-scaled
// real clock, where every step fires on its own goroutine (for -race).
func TestRealClockConcurrency(t *testing.T) {
	prof := profile.Default()
	boot := map[string][]byte{"CPU0_DIMM_A1": image(t, 32, 1, 1)}
	// Paced, as `bmcemu serve` runs: a bare Real clock at 1000x lets a loaded host
	// fire the 5 ms watchdog before the training it guards.
	clk := clock.NewPaced(1000)
	rec := &recorder{}
	c, err := smc.New(smc.Config{Memory: prof.Memory, Clock: clk, Publisher: rec, Boot: boot})
	if err != nil {
		t.Fatal(err)
	}
	fw, err := New(Config{Memory: prof.Memory, Clock: clk, Hardware: c, Publisher: rec})
	if err != nil {
		t.Fatal(err)
	}
	c.SetNotifier(fw)
	done := make(chan string, 4)
	os := &linuxOSPM{fw: fw}
	fw.SetOSPM(OSPMFunc(func(d Device, code NotifyCode) {
		os.Notify(d, code)
		done <- code.String()
	}))
	wait := func(what func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !what() {
			if time.Now().After(deadline) {
				t.Fatal("timed out")
			}
			time.Sleep(time.Millisecond)
		}
	}
	const slot = "CPU1_DIMM_A2"
	if err := c.PressAttention(slot); err != nil {
		t.Fatal(err)
	}
	wait(func() bool { st, _ := c.Status(slot); return st.Op == smc.OpReady })
	_ = c.OpenLatch(slot)
	_ = c.Insert(slot, image(t, 32, 1, 2))
	_ = c.CloseLatch(slot)
	if got := <-done; got != "Device Check" {
		t.Fatalf("notify %s", got)
	}
	wait(func() bool { st, _ := c.Status(slot); return st.Op == smc.OpNone && st.Power == smc.PowerNominal })
	if err := c.PressAttention(slot); err != nil {
		t.Fatal(err)
	}
	if got := <-done; got != "Eject Request" {
		t.Fatalf("notify %s", got)
	}
	wait(func() bool { st, _ := c.Status(slot); return st.Power == smc.PowerIsolated && st.LED == smc.LEDOff })
}

package platform

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/spd"
)

type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

func TestDefaultPopulation(t *testing.T) {
	p, err := New(profile.Default(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Snapshot()
	if len(s.Slots) != 32 || s.Populated() != 16 || s.InstalledMiB() != 16*32*1024 {
		t.Fatalf("slots=%d populated=%d installed=%d", len(s.Slots), s.Populated(), s.InstalledMiB())
	}
	first, last := s.Slots[0], s.Slots[31]
	if first.Name != "CPU0_DIMM_A1" || last.Name != "CPU1_DIMM_H2" || last.Controller != 3 || last.ChannelLetter() != "H" {
		t.Fatalf("names: %+v %+v", first, last)
	}
	serials := map[string]bool{}
	for _, sl := range s.Slots {
		if (sl.Position == 1) != (sl.Module != nil) {
			t.Fatalf("slot %s population wrong", sl.Name)
		}
		if sl.Module != nil {
			if serials[sl.Module.SPD.SerialNumber] {
				t.Fatalf("duplicate serial %s", sl.Module.SPD.SerialNumber)
			}
			serials[sl.Module.SPD.SerialNumber] = true
		}
	}
}

func TestCommandsEventsAndErrors(t *testing.T) {
	p, err := New(profile.Default(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	bootSeq := p.LastEventSeq() // boot records (RASModeApplied) precede any subscriber
	sub := p.Subscribe("test", 1024)
	img, err := spd.Encode(p.NewModuleSpec("CPU0_DIMM_A2", spd.Spec{CapacityGiB: 64}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Insert("CPU0_DIMM_A2", img); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Insert("CPU0_DIMM_A2", img); !errors.Is(err, ErrSlotOccupied) {
		t.Fatalf("double insert: %v", err)
	}
	if _, err := p.Insert("CPU7_DIMM_Z1", img); !errors.Is(err, ErrUnknownSlot) {
		t.Fatalf("unknown slot: %v", err)
	}
	bad := append([]byte(nil), img...)
	bad[20] ^= 0xff
	if _, err := p.Insert("CPU0_DIMM_B2", bad); !errors.Is(err, ErrBadModule) || !errors.Is(err, spd.ErrCRC) {
		t.Fatalf("corrupt SPD: %v", err)
	}
	if _, err := p.Remove("CPU0_DIMM_A2"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Remove("CPU0_DIMM_A2"); !errors.Is(err, ErrSlotEmpty) {
		t.Fatalf("double remove: %v", err)
	}
	if err := p.SetPower(false); err != nil {
		t.Fatal(err)
	}
	// The SMC's own steps (latch, presence, bus noise, isolation...) are
	// interleaved; the platform's facts come in command order, and the
	// sequence has no gaps.
	want := []string{"ModuleInserted", "ModuleRemoved", "PowerChanged"}
	last := bootSeq
	for i := 0; i < len(want); {
		r := <-sub.C
		if r.Seq != last+1 {
			t.Fatalf("seq %d after %d", r.Seq, last)
		}
		last = r.Seq
		if r.Event.Kind() != want[i] {
			continue
		}
		if ins, ok := r.Event.(events.ModuleInserted); ok && ins.Module.CapacityMiB != 65536 {
			t.Fatalf("inserted event carries %+v", ins)
		}
		i++
	}
	if g := p.Snapshot().Generation; g < last {
		t.Fatalf("generation %d, want at least the %d records published", g, last)
	}
}

func TestInventorySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clk := &fixedClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	st := NewFileInventory(filepath.Join(dir, "inventory.json"))
	p, err := New(profile.Default(), Options{Store: st, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	img, _ := spd.Encode(p.NewModuleSpec("CPU1_DIMM_C2", spd.Spec{CapacityGiB: 128, PartNumber: "KEEP-ME"}))
	clk.t = clk.t.Add(time.Hour)
	if _, err := p.Insert("CPU1_DIMM_C2", img); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Remove("CPU0_DIMM_A1"); err != nil {
		t.Fatal(err)
	}
	if err := p.SetPower(false); err != nil {
		t.Fatal(err)
	}
	q, err := New(profile.Default(), Options{Store: NewFileInventory(filepath.Join(dir, "inventory.json"))})
	if err != nil {
		t.Fatal(err)
	}
	s := q.Snapshot()
	c2, _ := s.Slot("CPU1_DIMM_C2")
	a1, _ := s.Slot("CPU0_DIMM_A1")
	if c2.Module == nil || c2.Module.SPD.PartNumber != "KEEP-ME" || a1.Module != nil || s.PowerOn {
		t.Fatalf("restored state wrong: c2=%+v a1=%+v power=%v", c2.Module, a1.Module, s.PowerOn)
	}
	if !s.ChangedAt.Equal(clk.t) {
		t.Fatalf("ChangedAt %v, want %v", s.ChangedAt, clk.t)
	}
}

type failingStore struct{ fail bool }

func (f *failingStore) LoadInventory() (*Inventory, error) { return nil, nil }
func (f *failingStore) SaveInventory(*Inventory) error {
	if f.fail {
		return errors.New("disk full")
	}
	return nil
}

func TestFailedSaveChangesNothing(t *testing.T) {
	st := &failingStore{}
	p, err := New(profile.Default(), Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	sub := p.Subscribe("test", 4)
	st.fail = true
	before := p.Snapshot()
	img, _ := spd.Encode(p.NewModuleSpec("CPU0_DIMM_A2", spd.Spec{}))
	if _, err := p.Insert("CPU0_DIMM_A2", img); !errors.Is(err, ErrPersist) {
		t.Fatalf("insert with failing store: %v", err)
	}
	if _, err := p.Remove("CPU0_DIMM_A1"); !errors.Is(err, ErrPersist) {
		t.Fatalf("remove with failing store: %v", err)
	}
	if p.Snapshot() != before {
		t.Fatal("snapshot changed although the save failed")
	}
	select {
	case r := <-sub.C:
		t.Fatalf("event published for an unsaved change: %+v", r)
	default:
	}
	st.fail = false
	if _, err := p.Insert("CPU0_DIMM_A2", img); err != nil {
		t.Fatalf("insert after recovery: %v", err)
	}
}

func TestLocationIndicator(t *testing.T) {
	p, err := New(profile.Default(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	sub := p.Subscribe("t", 4)
	if err := p.SetLocationIndicator("CPU0_DIMM_B2", true); err != nil {
		t.Fatal(err)
	}
	if err := p.SetLocationIndicator("CPU0_DIMM_B2", true); err != nil {
		t.Fatal(err)
	}
	if sl, _ := p.Snapshot().Slot("CPU0_DIMM_B2"); !sl.LocationIndicator {
		t.Fatal("LED not lit in snapshot")
	}
	if r := <-sub.C; r.Event.Kind() != "LocationIndicatorChanged" {
		t.Fatalf("event %s", r.Event.Kind())
	}
	if len(sub.C) != 0 {
		t.Fatal("setting the same state twice published twice")
	}
	if err := p.SetLocationIndicator("nope", true); !errors.Is(err, ErrUnknownSlot) {
		t.Fatalf("unknown slot: %v", err)
	}
}

// The chassis identify LED: a timed identify goes dark by itself on the
// platform's clock; a later setting is not undone by an earlier timer.
func TestChassisIdentify(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p, err := New(profile.Default(), Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Snapshot().Identify; got.State != IdentifyOff {
		t.Fatalf("at power-up: %+v", got)
	}
	sub := p.Subscribe("t", 16)
	if err := p.SetChassisIdentify(IdentifyBlinking, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := p.Snapshot().Identify; got.State != IdentifyBlinking || !got.Until.Equal(clk.Now().Add(15*time.Second)) {
		t.Fatalf("timed identify: %+v", got)
	}
	if r := <-sub.C; r.Event != (events.ChassisIdentifyChanged{State: IdentifyBlinking, Seconds: 15}) {
		t.Fatalf("event %#v", r.Event)
	}
	clk.Advance(15 * time.Second)
	if got := p.Snapshot().Identify; got.State != IdentifyOff {
		t.Fatalf("after its interval: %+v", got)
	}
	if r := <-sub.C; r.Event != (events.ChassisIdentifyChanged{State: IdentifyOff}) {
		t.Fatalf("expiry event %#v", r.Event)
	}

	// A timed identify replaced by a lasting one: the old timer is void.
	if err := p.SetChassisIdentify(IdentifyBlinking, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := p.SetChassisIdentify(IdentifyLit, 0); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if got := p.Snapshot().Identify; got.State != IdentifyLit || !got.Until.IsZero() {
		t.Fatalf("a stale timer changed a lasting identify: %+v", got)
	}
	gen := p.Snapshot().Generation
	if err := p.SetChassisIdentify("Strobe", 0); !errors.Is(err, ErrIdentifyState) {
		t.Errorf("unknown state: %v", err)
	}
	if err := p.SetChassisIdentify(IdentifyOff, -time.Second); err == nil {
		t.Error("negative interval accepted")
	}
	if p.Snapshot().Generation != gen || p.Snapshot().Identify.State != IdentifyLit {
		t.Error("refused settings changed the LED")
	}
}

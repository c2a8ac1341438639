package ecc

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

func kinds(evs []Event) []EventKind {
	var out []EventKind
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

func mustNew(t *testing.T, cfg Config, seed uint64) *Model {
	t.Helper()
	m, err := New(cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestInvalidConfig(t *testing.T) {
	for _, c := range []Config{{}, {Threshold: 1, Leak: 1}, {Threshold: 1, LeakInterval: 1}, {Threshold: 1, Leak: 1, LeakInterval: 1, LogLimit: -1}} {
		if _, err := New(c, 1); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestThresholdTripsAndLeaks(t *testing.T) {
	m := mustNew(t, Config{Threshold: 3, Leak: 1, LeakInterval: time.Minute}, 1)
	loc := Location{Module: "P0_DIMM_A1", Rank: 1, Addr: 0x1000}
	// Two errors, then two leak intervals: the bucket drains to zero.
	m.Inject(0, loc, Correctable)
	m.Inject(time.Second, loc, Correctable)
	if l := m.Level(loc.Module, 1, time.Second); l != 2 {
		t.Fatalf("level %d", l)
	}
	if l := m.Level(loc.Module, 1, 2*time.Minute); l != 0 {
		t.Fatalf("level after leak %d", l)
	}
	// Three quick errors trip, and the bucket re-arms empty.
	var evs []Event
	for i := range 3 {
		evs = append(evs, m.Inject(2*time.Minute+time.Duration(i)*time.Second, loc, Correctable)...)
	}
	want := []EventKind{CorrectableError, CorrectableError, CorrectableError, ThresholdExceeded}
	if !reflect.DeepEqual(kinds(evs), want) {
		t.Fatalf("events %v", kinds(evs))
	}
	if e := evs[3]; e.Level != 3 || e.Trips != 1 || e.Location != loc {
		t.Fatalf("trip event %+v", e)
	}
	if l := m.Level(loc.Module, 1, 2*time.Minute+3*time.Second); l != 0 {
		t.Fatalf("not re-armed: %d", l)
	}
	// Errors spaced wider than the leak never trip.
	for i := range 100 {
		for _, e := range m.Inject(time.Hour+time.Duration(i)*time.Minute, loc, Correctable) {
			if e.Kind == ThresholdExceeded {
				t.Fatalf("slow errors tripped at %d", i)
			}
		}
	}
	// Other ranks have their own buckets.
	if m.Level(loc.Module, 0, time.Hour) != 0 {
		t.Fatal("rank 0 level")
	}
}

func TestCountersAndLoggingLimit(t *testing.T) {
	m := mustNew(t, Config{Threshold: 1000, Leak: 1, LeakInterval: time.Hour, LogLimit: 5}, 1)
	a := Location{Module: "A", Rank: 0}
	b := Location{Module: "A", Rank: 1}
	var evs []Event
	for i := range 8 {
		loc := a
		if i%2 == 1 {
			loc = b
		}
		evs = append(evs, m.Inject(time.Duration(i), loc, Correctable)...)
	}
	evs = append(evs, m.Inject(10, a, Uncorrectable)...)
	want := []EventKind{CorrectableError, CorrectableError, CorrectableError, CorrectableError, CorrectableError, LoggingLimitReached, UncorrectableError}
	if !reflect.DeepEqual(kinds(evs), want) {
		t.Fatalf("events %v", kinds(evs))
	}
	if !m.LoggingLimited("A") {
		t.Fatal("not limited")
	}
	if c := m.ModuleCounts("A"); c != (Counts{Counters{8, 1}, Counters{8, 1}}) {
		t.Fatalf("module counts %+v", c)
	}
	if c := m.RankCounts("A", 1); c != (Counts{Counters{4, 0}, Counters{4, 0}}) {
		t.Fatalf("rank counts %+v", c)
	}
	m.ClearCurrentPeriod("A")
	if c := m.ModuleCounts("A"); c != (Counts{Counters{}, Counters{8, 1}}) {
		t.Fatalf("after clear %+v", c)
	}
	if c := m.RankCounts("A", 0); c.Current != (Counters{}) || c.Lifetime != (Counters{4, 1}) {
		t.Fatalf("rank after clear %+v", c)
	}
	if m.LoggingLimited("A") || len(m.Inject(20, a, Correctable)) != 1 {
		t.Fatal("logging not re-enabled")
	}
	if m.ModuleCounts("B") != (Counts{}) || m.RankCounts("B", 0) != (Counts{}) {
		t.Fatal("unknown module counts")
	}
}

func TestStormIsDeterministicAndTrips(t *testing.T) {
	run := func(seed uint64) []Event {
		m := mustNew(t, DefaultConfig, seed)
		if err := m.SetRate("P0_DIMM_B1", 0, Rate{CE: 5, Base: 1 << 20, Span: 1 << 20}); err != nil {
			t.Fatal(err)
		}
		if err := m.SetRate("P0_DIMM_A1", 1, Rate{CE: 0.001, UE: 0.01}); err != nil {
			t.Fatal(err)
		}
		var evs []Event
		for s := range 60 {
			evs = append(evs, m.Advance(time.Duration(s+1)*time.Second)...)
		}
		return evs
	}
	a, b := run(7), run(7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different storm")
	}
	if reflect.DeepEqual(a, run(8)) {
		t.Fatal("different seeds, same storm")
	}
	trips, ces := 0, 0
	prev := time.Duration(0)
	for _, e := range a {
		if e.At < prev {
			t.Fatalf("events out of order: %v after %v", e.At, prev)
		}
		prev = e.At
		if e.Module == "P0_DIMM_B1" {
			if e.Addr < 1<<20 || e.Addr >= 2<<20 {
				t.Fatalf("address %#x outside span", e.Addr)
			}
			switch e.Kind {
			case ThresholdExceeded:
				trips++
			case CorrectableError:
				ces++
			}
		}
	}
	// ~300 CEs at 5/s over a minute with a 10-error bucket leaking slowly.
	if ces < 100 || trips < 10 {
		t.Fatalf("storm too quiet: %d CEs, %d trips", ces, trips)
	}
}

func TestSetRateValidationAndRemoval(t *testing.T) {
	m := mustNew(t, DefaultConfig, 1)
	if m.SetRate("A", 0, Rate{CE: -1}) == nil {
		t.Fatal("negative rate accepted")
	}
	if err := m.SetRate("A", 0, Rate{CE: 100}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetRate("A", 0, Rate{}); err != nil {
		t.Fatal(err)
	}
	if evs := m.Advance(time.Hour); len(evs) != 0 {
		t.Fatalf("removed source still fires: %d", len(evs))
	}
	if m.Now() != time.Hour {
		t.Fatal("now")
	}
}

// Property: whatever the arrival pattern, counters equal the number of
// injections, the number of trips is bounded by CEs/Threshold, and the
// bucket never exceeds the threshold.
func TestPropertyCounters(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for iter := range 50 {
		cfg := Config{Threshold: 1 + r.IntN(20), Leak: 1 + r.IntN(3), LeakInterval: time.Duration(1+r.IntN(100)) * time.Millisecond, LogLimit: r.IntN(30)}
		m := mustNew(t, cfg, uint64(iter))
		var at time.Duration
		var ce, ue, trips, logged uint64
		for range 500 {
			at += time.Duration(r.IntN(20)) * time.Millisecond
			k := Correctable
			if r.IntN(10) == 0 {
				k = Uncorrectable
			}
			loc := Location{Module: "M", Rank: r.IntN(2)}
			if k == Correctable {
				ce++
			} else {
				ue++
			}
			for _, e := range m.Inject(at, loc, k) {
				switch e.Kind {
				case ThresholdExceeded:
					trips++
				case CorrectableError:
					logged++
				}
			}
			if l := m.Level("M", loc.Rank, at); l >= cfg.Threshold {
				t.Fatalf("level %d >= threshold %d", l, cfg.Threshold)
			}
		}
		c := m.ModuleCounts("M")
		if c.Lifetime != (Counters{ce, ue}) {
			t.Fatalf("counts %+v want %d/%d", c, ce, ue)
		}
		r0, r1 := m.RankCounts("M", 0), m.RankCounts("M", 1)
		if r0.Lifetime.CE+r1.Lifetime.CE != ce {
			t.Fatal("rank counts do not sum")
		}
		if trips > ce/uint64(cfg.Threshold) {
			t.Fatalf("%d trips from %d CEs at threshold %d", trips, ce, cfg.Threshold)
		}
		if cfg.LogLimit > 0 && logged > uint64(cfg.LogLimit) {
			t.Fatalf("logged %d > limit %d", logged, cfg.LogLimit)
		}
	}
}

// Rank-less errors count but neither log nor trip; a tripped threshold is
// remembered for the period; a pulled module's history is dropped.
func TestCountTrippedAndForget(t *testing.T) {
	m, err := New(Config{Threshold: 3, Leak: 1, LeakInterval: time.Hour}, 1)
	if err != nil {
		t.Fatal(err)
	}
	m.Count("A1", 5, 1)
	if c := m.ModuleCounts("A1"); c.Current != (Counters{5, 1}) || c.Lifetime != (Counters{5, 1}) || m.ThresholdTripped("A1") || m.Level("A1", 0, 0) != 0 {
		t.Fatalf("after Count: %+v tripped %v", c, m.ThresholdTripped("A1"))
	}
	var kinds []EventKind
	for range 3 {
		for _, e := range m.Inject(0, Location{Module: "A1"}, Correctable) {
			kinds = append(kinds, e.Kind)
		}
	}
	if !slices.Contains(kinds, ThresholdExceeded) || !m.ThresholdTripped("A1") {
		t.Fatalf("events %v tripped %v", kinds, m.ThresholdTripped("A1"))
	}
	m.ClearCurrentPeriod("A1")
	if m.ThresholdTripped("A1") || m.ModuleCounts("A1").Lifetime.CE != 8 {
		t.Fatalf("after clear: %+v tripped %v", m.ModuleCounts("A1"), m.ThresholdTripped("A1"))
	}
	if err := m.SetRate("A1", 0, Rate{CE: 1}); err != nil {
		t.Fatal(err)
	}
	m.Forget("A1")
	if c := m.ModuleCounts("A1"); c != (Counts{}) || m.RankCounts("A1", 0) != (Counts{}) || len(m.Advance(time.Hour)) != 0 {
		t.Fatalf("after Forget: %+v", c)
	}
}

// Package ecc models memory ECC errors the way server firmware sees them:
// correctable (CE) and uncorrectable (UE) errors injected per module, rank
// and address, singly or at seeded Poisson rates (CE storms); CE/UE
// counters per module and per rank for the current period and the
// lifetime; and the firmware's CE threshold, a leaky bucket per rank that
// trips "CE threshold exceeded", plus a per-module logging limit after
// which CE logging is suppressed ("logging limit reached") until the
// current period is cleared.
//
// Time is simulated: callers pass a monotonic time.Duration since boot.
package ecc

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Kind is the class of an ECC error.
type Kind uint8

// Error kinds.
const (
	Correctable Kind = iota + 1
	Uncorrectable
)

func (k Kind) String() string {
	switch k {
	case Correctable:
		return "correctable"
	case Uncorrectable:
		return "uncorrectable"
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Location is where an error occurred. Addr is the caller's choice of
// address space (module-local or system physical); the model only carries
// it through.
type Location struct {
	Module string
	Rank   int
	Addr   uint64
}

// EventKind names a result event.
type EventKind string

// Event kinds, in the order firmware would log them for one error.
const (
	// CorrectableError: one CE logged (suppressed once the module's
	// logging limit is reached).
	CorrectableError EventKind = "CorrectableError"
	// UncorrectableError: one UE; always logged.
	UncorrectableError EventKind = "UncorrectableError"
	// ThresholdExceeded: a rank's leaky bucket overflowed (the trigger for
	// rank sparing); the bucket is re-armed empty.
	ThresholdExceeded EventKind = "CEThresholdExceeded"
	// LoggingLimitReached: the module logged Config.LogLimit CEs this
	// period; further CEs are counted but not logged.
	LoggingLimitReached EventKind = "CELoggingLimitReached"
)

// Event is a plain result for the platform to map onto its own events,
// SEL records and Redfish messages.
type Event struct {
	Kind EventKind
	At   time.Duration
	Location
	// Level is the rank's bucket level after this error (CE events), or
	// the level that tripped (ThresholdExceeded).
	Level int
	// Trips is the rank's lifetime threshold-exceeded count
	// (ThresholdExceeded only).
	Trips int
}

// Config is the firmware's CE policy.
type Config struct {
	// Threshold is the bucket level at which a rank trips (>= 1).
	Threshold int
	// Leak errors drain from each bucket every LeakInterval (both > 0).
	Leak         int
	LeakInterval time.Duration
	// LogLimit is how many CEs a module logs per period before logging is
	// suppressed; 0 means unlimited.
	LogLimit int
}

// DefaultConfig resembles common server firmware: 10 CEs within the leak
// window trip the threshold; one error drains every 6 minutes (10 per
// hour); 100 logged CEs per module per period.
var DefaultConfig = Config{Threshold: 10, Leak: 1, LeakInterval: 6 * time.Minute, LogLimit: 100}

// Counters are CE and UE counts.
type Counters struct {
	CE, UE uint64
}

// Counts are the current-period and lifetime counters
// (MemoryMetrics.CurrentPeriod / LifeTime).
type Counts struct {
	Current, Lifetime Counters
}

func (c *Counts) add(k Kind) {
	if k == Correctable {
		c.Current.CE++
		c.Lifetime.CE++
	} else {
		c.Current.UE++
		c.Lifetime.UE++
	}
}

// Rate is a Poisson error rate, in errors per simulated second.
type Rate struct {
	CE, UE float64
	// Span is the address range errors are drawn from, [Base, Base+Span)
	// (Span 0: always Base).
	Base, Span uint64
}

type rankKey struct {
	module string
	rank   int
}

type bucket struct {
	level    int
	lastLeak time.Duration
	trips    int
}

type source struct {
	key    rankKey
	rate   Rate
	nextCE time.Duration // next arrival (absolute); -1 when rate is 0
	nextUE time.Duration
}

type moduleState struct {
	counts  Counts
	logged  int // CEs logged this period
	limited bool
	// tripped: a rank of the module crossed the CE threshold this period
	// (the CE alarm a management surface shows until the period is
	// cleared; the bucket itself re-arms at once).
	tripped bool
}

// Model is the error model of one system. It is deterministic for a seed
// and not safe for concurrent use.
type Model struct {
	cfg     Config
	rng     *rand.Rand
	now     time.Duration
	modules map[string]*moduleState
	ranks   map[rankKey]*Counts
	buckets map[rankKey]*bucket
	sources []*source // sorted by key
}

// New returns a model with policy cfg and a seeded random stream.
func New(cfg Config, seed uint64) (*Model, error) {
	if cfg.Threshold < 1 || cfg.Leak < 1 || cfg.LeakInterval <= 0 || cfg.LogLimit < 0 {
		return nil, fmt.Errorf("ecc: invalid config %+v", cfg)
	}
	return &Model{
		cfg: cfg, rng: rand.New(rand.NewPCG(seed, 0xECC)),
		modules: map[string]*moduleState{}, ranks: map[rankKey]*Counts{}, buckets: map[rankKey]*bucket{},
	}, nil
}

// Now is the time of the latest error or Advance.
func (m *Model) Now() time.Duration { return m.now }

func (m *Model) module(name string) *moduleState {
	s := m.modules[name]
	if s == nil {
		s = &moduleState{}
		m.modules[name] = s
	}
	return s
}

// Inject records one error at time at (clamped to be no earlier than the
// previous one) and returns the events it produces, in order.
func (m *Model) Inject(at time.Duration, loc Location, k Kind) []Event {
	if k != Correctable && k != Uncorrectable {
		panic(fmt.Sprintf("ecc: inject %v", k))
	}
	at = max(at, m.now)
	m.now = at
	key := rankKey{loc.Module, loc.Rank}
	ms := m.module(loc.Module)
	ms.counts.add(k)
	rc := m.ranks[key]
	if rc == nil {
		rc = &Counts{}
		m.ranks[key] = rc
	}
	rc.add(k)
	if k == Uncorrectable {
		return []Event{{Kind: UncorrectableError, At: at, Location: loc}}
	}
	b := m.buckets[key]
	if b == nil {
		b = &bucket{lastLeak: at}
		m.buckets[key] = b
	}
	m.leak(b, at)
	b.level++
	var out []Event
	if !ms.limited {
		ms.logged++
		out = append(out, Event{Kind: CorrectableError, At: at, Location: loc, Level: b.level})
		if m.cfg.LogLimit > 0 && ms.logged >= m.cfg.LogLimit {
			ms.limited = true
			out = append(out, Event{Kind: LoggingLimitReached, At: at, Location: loc})
		}
	}
	if b.level >= m.cfg.Threshold {
		b.trips++
		ms.tripped = true
		out = append(out, Event{Kind: ThresholdExceeded, At: at, Location: loc, Level: b.level, Trips: b.trips})
		b.level = 0
	}
	return out
}

// leak drains whole intervals elapsed up to at.
func (m *Model) leak(b *bucket, at time.Duration) {
	if at <= b.lastLeak {
		return
	}
	n := (at - b.lastLeak) / m.cfg.LeakInterval
	b.lastLeak += n * m.cfg.LeakInterval
	if b.level > 0 && n > 0 {
		drain := int64(n) * int64(m.cfg.Leak)
		if drain >= int64(b.level) {
			b.level = 0
		} else {
			b.level -= int(drain)
		}
	}
}

// Level is the rank's bucket level at time at (after leaking).
func (m *Model) Level(module string, rank int, at time.Duration) int {
	b := m.buckets[rankKey{module, rank}]
	if b == nil {
		return 0
	}
	m.leak(b, max(at, m.now))
	return b.level
}

// ModuleCounts are a module's counters.
func (m *Model) ModuleCounts(module string) Counts {
	if s := m.modules[module]; s != nil {
		return s.counts
	}
	return Counts{}
}

// MediaUE reports whether a rank of the module took an uncorrectable
// error this period: an error in the module's own cells, unlike the
// rank-less bus-noise errors Count adds, which go when the channel is
// quiet again.
func (m *Model) MediaUE(module string) bool {
	for k, c := range m.ranks {
		if k.module == module && c.Current.UE > 0 {
			return true
		}
	}
	return false
}

// RankCounts are a rank's counters.
func (m *Model) RankCounts(module string, rank int) Counts {
	if c := m.ranks[rankKey{module, rank}]; c != nil {
		return *c
	}
	return Counts{}
}

// LoggingLimited reports whether the module's CE logging is suppressed.
func (m *Model) LoggingLimited(module string) bool {
	s := m.modules[module]
	return s != nil && s.limited
}

// ThresholdTripped reports whether a rank of the module crossed the CE
// threshold in the current period.
func (m *Model) ThresholdTripped(module string) bool {
	s := m.modules[module]
	return s != nil && s.tripped
}

// Count adds errors the memory controller reported without a rank or an
// address (bus noise from a neighbour's insertion): they count toward the
// module's totals but neither log a record nor feed a rank's leaky bucket,
// since they say nothing about the rank's wear.
func (m *Model) Count(module string, ce, ue uint64) {
	if ce == 0 && ue == 0 {
		return
	}
	s := m.module(module)
	s.counts.Current.CE += ce
	s.counts.Lifetime.CE += ce
	s.counts.Current.UE += ue
	s.counts.Lifetime.UE += ue
}

// RestoreLifetime seeds a module's lifetime counters after a restart (the
// BMC keeps them; the current period starts afresh at boot).
func (m *Model) RestoreLifetime(module string, lifetime Counters) {
	m.module(module).counts.Lifetime = lifetime
}

// Forget drops everything known of a module (counters, buckets, rates)
// once it has left its slot: the next module there starts afresh.
func (m *Model) Forget(module string) {
	delete(m.modules, module)
	for k := range m.ranks {
		if k.module == module {
			delete(m.ranks, k)
		}
	}
	for k := range m.buckets {
		if k.module == module {
			delete(m.buckets, k)
		}
	}
	m.sources = slices.DeleteFunc(m.sources, func(s *source) bool { return s.key.module == module })
}

// ClearCurrentPeriod zeroes a module's (and its ranks') current-period
// counters and re-enables its CE logging (#MemoryMetrics.ClearCurrentPeriod).
// Lifetime counters and leaky buckets are untouched.
func (m *Model) ClearCurrentPeriod(module string) {
	if s := m.modules[module]; s != nil {
		s.counts.Current = Counters{}
		s.logged, s.limited, s.tripped = 0, false, false
	}
	for k, c := range m.ranks {
		if k.module == module {
			c.Current = Counters{}
		}
	}
}

// SetRate sets (or with a zero Rate, removes) a module rank's Poisson
// error rates from the current time on.
func (m *Model) SetRate(module string, rank int, r Rate) error {
	if r.CE < 0 || r.UE < 0 || math.IsNaN(r.CE) || math.IsNaN(r.UE) || math.IsInf(r.CE, 0) || math.IsInf(r.UE, 0) {
		return fmt.Errorf("ecc: invalid rate %+v", r)
	}
	key := rankKey{module, rank}
	m.sources = slices.DeleteFunc(m.sources, func(s *source) bool { return s.key == key })
	if r.CE == 0 && r.UE == 0 {
		return nil
	}
	s := &source{key: key, rate: r}
	s.nextCE = m.arrival(r.CE)
	s.nextUE = m.arrival(r.UE)
	m.sources = append(m.sources, s)
	slices.SortFunc(m.sources, func(a, b *source) int {
		return cmp.Or(cmp.Compare(a.key.module, b.key.module), cmp.Compare(a.key.rank, b.key.rank))
	})
	return nil
}

// Rated reports whether any rank has an error rate set.
func (m *Model) Rated() bool { return len(m.sources) > 0 }

// arrival draws the next arrival after now for a rate (-1: never).
func (m *Model) arrival(perSec float64) time.Duration {
	if perSec == 0 {
		return -1
	}
	d := time.Duration(m.rng.ExpFloat64() / perSec * float64(time.Second))
	return m.now + max(d, 1)
}

// Advance generates the rated errors that arrive in (Now, to], injects
// them in time order (ties: CE before UE, then module, rank) and returns
// every resulting event.
func (m *Model) Advance(to time.Duration) []Event {
	var out []Event
	for {
		var best *source
		var bestAt time.Duration
		bestKind := Kind(0)
		for _, s := range m.sources {
			for _, c := range [...]struct {
				at time.Duration
				k  Kind
			}{{s.nextCE, Correctable}, {s.nextUE, Uncorrectable}} {
				if c.at >= 0 && c.at <= to && (best == nil || c.at < bestAt || c.at == bestAt && c.k < bestKind) {
					best, bestAt, bestKind = s, c.at, c.k
				}
			}
		}
		if best == nil {
			break
		}
		loc := Location{Module: best.key.module, Rank: best.key.rank, Addr: best.rate.Base}
		if best.rate.Span > 0 {
			loc.Addr += m.rng.Uint64N(best.rate.Span)
		}
		out = append(out, m.Inject(bestAt, loc, bestKind)...)
		if bestKind == Correctable {
			best.nextCE = m.arrival(best.rate.CE)
		} else {
			best.nextUE = m.arrival(best.rate.UE)
		}
	}
	m.now = max(m.now, to)
	return out
}

package netfault

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/ratelog"
)

// Options configures an Injector. Every field is optional.
type Options struct {
	// Seed is the seed of rules that give none (the BMC's fault seed).
	Seed uint64
	// Logger hears of every injection, at most one line per kind per
	// LogEvery (the rest are summed into the next line); nil discards.
	Logger   *slog.Logger
	LogEvery time.Duration // 0: one second
	// Now tells the time (rule durations, cold resets); nil is Clock's.
	Now func() time.Time
	// Clock times the log limit: the injections it held back in an
	// interval that no further injection ended are logged when the
	// interval ends. nil is wall time.
	Clock clock.Clock
}

// Injector holds one BMC's rules, their PRNGs and counters, and the BMC's
// cold-reset state.
type Injector struct {
	opts   Options
	log    *slog.Logger
	active [numSurfaces]atomic.Int32 // rules live per surface: 0 makes Decide free
	reset  atomic.Int64              // UnixNano until which the BMC is resetting; 0 none

	mu       sync.Mutex
	rules    map[key]*rule
	injected map[key]uint64 // over the BMC's life, rules cleared or not
	resets   map[string]uint64
	recent   []Injection // newest last, at most maxRecent
	logs     *ratelog.Limiter[key]
	onReset  []func()
	onAction map[key][]func(Rule)
}

type key struct {
	s Surface
	k Kind
}

type rule struct {
	Rule
	rng      *rand.Rand
	seen     uint64
	injected uint64
	set      time.Time
}

// maxRecent is how many injections Status keeps for a test to read.
const maxRecent = 64

// New returns an Injector with no rules.
func New(o Options) *Injector {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Now == nil {
		o.Now = o.Clock.Now
	}
	if o.LogEvery <= 0 {
		o.LogEvery = time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	in := &Injector{opts: o, log: log, rules: map[key]*rule{}, injected: map[key]uint64{}, resets: map[string]uint64{},
		onAction: map[key][]func(Rule){}}
	in.logs = ratelog.NewFlushing(o.LogEvery, o.Clock, in.injectionsHeldBack)
	return in
}

// injectionsHeldBack logs the injections the log limit held back in an
// interval that no further injection ended. It runs on the clock's timer
// without in.mu, which noteLocked holds around the limiter.
func (in *Injector) injectionsHeldBack(k key, n uint64) {
	in.log.Info(msgInjected, "surface", k.s, "kind", k.k, "since_last_line", n)
}

const msgInjected = "protocol fault injected"

// Injection is one fault the BMC chose to inject.
type Injection struct {
	Time    time.Time `json:"time"`
	Surface Surface   `json:"surface"`
	Kind    Kind      `json:"kind"`
	// Subject is what it struck: a request line, an EventId, a datagram's
	// source.
	Subject string `json:"subject"`
}

// Active reports whether any rule of surface s is live: a surface with
// none skips its decisions (and the subjects it would describe them by).
func (in *Injector) Active(s Surface) bool {
	i := surfaceIndex(s)
	return in != nil && i >= 0 && in.active[i].Load() > 0
}

// Decide is one opportunity for surface's kind: it reports whether the
// rule (returned) strikes now, and if so counts and logs it with subject.
// Without live rules it costs one atomic load.
func (in *Injector) Decide(s Surface, k Kind, subject string) (Rule, bool) {
	if !in.Active(s) {
		return Rule{}, false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	r := in.rules[key{s, k}]
	if r == nil || in.expireLocked(key{s, k}, r) {
		return Rule{}, false
	}
	r.seen++
	var hit bool
	if r.Every > 0 {
		hit = r.seen%uint64(r.Every) == 0
	} else {
		// Drawn on every opportunity, so the nth decision depends only
		// on the seed and n.
		hit = r.rng.Float64() < r.Probability
	}
	if !hit {
		return Rule{}, false
	}
	r.injected++
	out := r.Rule
	in.noteLocked(key{s, k}, subject)
	if r.Count > 0 && r.injected >= uint64(r.Count) {
		in.removeLocked(key{s, k})
	}
	return out, true
}

// expireLocked removes r if its duration is over.
func (in *Injector) expireLocked(k key, r *rule) bool {
	if r.Duration > 0 && in.opts.Now().Sub(r.set) >= r.Duration {
		in.removeLocked(k)
		in.log.Info("protocol fault rule expired", "surface", k.s, "kind", k.k, "injected", r.injected)
		return true
	}
	return false
}

func (in *Injector) removeLocked(k key) {
	if _, ok := in.rules[k]; ok {
		delete(in.rules, k)
		in.active[surfaceIndex(k.s)].Add(-1)
	}
}

// noteLocked counts, remembers and (rate-limited) logs one injection.
func (in *Injector) noteLocked(k key, subject string) {
	now := in.opts.Now()
	in.injected[k]++
	in.recent = append(in.recent, Injection{Time: now, Surface: k.s, Kind: k.k, Subject: subject})
	if len(in.recent) > maxRecent {
		in.recent = append(in.recent[:0], in.recent[len(in.recent)-maxRecent:]...)
	}
	n, ok := in.logs.Note(k)
	if !ok {
		return
	}
	in.log.Info(msgInjected, "surface", k.s, "kind", k.k, "subject", subject,
		"since_last_line", n, "injected_total", in.injected[k])
}

// Note counts an injection whose decision was made elsewhere (a cold
// reset by command is not one; the second half of a reorder is not
// either): it exists for consumers that split one fault over steps.
func (in *Injector) Note(s Surface, k Kind, subject string) {
	if in == nil {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.noteLocked(key{s, k}, subject)
}

// OnAction registers fn for an action kind that fires when set without a
// trigger (redfish/session-expiry). Consumers register at start.
func (in *Injector) OnAction(s Surface, k Kind, fn func(Rule)) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.onAction[key{s, k}] = append(in.onAction[key{s, k}], fn)
}

// OnReset registers fn to run when the BMC starts a cold reset (every
// surface drops its sessions).
func (in *Injector) OnReset(fn func()) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.onReset = append(in.onReset, fn)
}

// ErrResetting refuses a cold reset asked for during one (the control
// API is the emulator's, not the BMC's, and keeps working meanwhile).
var ErrResetting = errors.New("the BMC is already in a cold reset")

// StartReset begins a cold reset of d: Resetting reports true until it is
// over and the OnReset hooks run now. cause is "command" (IPMI Cold
// Reset) or "fault" (an injected one).
func (in *Injector) StartReset(d time.Duration, cause string) error {
	if in == nil {
		return nil
	}
	now := in.opts.Now()
	until := now.Add(d).UnixNano()
	for {
		cur := in.reset.Load()
		if cur > now.UnixNano() {
			return ErrResetting
		}
		if in.reset.CompareAndSwap(cur, until) {
			break
		}
	}
	in.mu.Lock()
	in.resets[cause]++
	hooks := append([]func(){}, in.onReset...)
	in.mu.Unlock()
	in.log.Warn("BMC cold reset: every session ends and nothing answers until it is over", "cause", cause, "seconds", d.Seconds())
	for _, h := range hooks {
		h()
	}
	return nil
}

// Resetting reports whether the BMC is in a cold reset.
func (in *Injector) Resetting() bool {
	if in == nil {
		return false
	}
	r := in.reset.Load()
	return r != 0 && in.opts.Now().UnixNano() < r
}

// Set installs r for its surface and kind, replacing any rule there. An
// action kind without trigger fires now (its hooks run, or the reset
// starts) and is not kept.
func (in *Injector) Set(r Rule) (RuleStatus, error) {
	if _, ok := lookup(r.Surface, r.Kind); !ok {
		return RuleStatus{}, fmt.Errorf("%w %s/%s (%s)", ErrUnknownKind, r.Surface, r.Kind, kindList())
	}
	if !r.seedSet {
		r.Seed, r.seedSet = in.opts.Seed, true
	}
	k := key{r.Surface, r.Kind}
	ki, _ := lookup(r.Surface, r.Kind)
	now := in.opts.Now()
	if ki.Action && !r.triggered {
		if r.Kind == ColdReset {
			if err := in.StartReset(time.Duration(r.Seconds)*time.Second, "fault"); err != nil {
				return RuleStatus{}, err
			}
			in.Note(r.Surface, r.Kind, "set through the control API")
			return RuleStatus{Spec: r.Spec(), Surface: r.Surface, Kind: r.Kind, Injected: 1, SetAt: now, Fired: true}, nil
		}
		in.mu.Lock()
		hooks := append([]func(Rule){}, in.onAction[k]...)
		in.noteLocked(k, "set through the control API")
		in.mu.Unlock()
		for _, h := range hooks {
			h(r)
		}
		return RuleStatus{Spec: r.Spec(), Surface: r.Surface, Kind: r.Kind, Injected: 1, SetAt: now, Fired: true}, nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, ok := in.rules[k]; !ok {
		in.active[surfaceIndex(k.s)].Add(1)
	}
	nr := &rule{Rule: r, set: now, rng: rand.New(rand.NewPCG(r.Seed, streamOf(k)))}
	in.rules[k] = nr
	in.log.Info("protocol fault rule set", "surface", r.Surface, "kind", r.Kind, "probability", r.Probability,
		"every", r.Every, "count", r.Count, "duration", r.Duration, "seed", r.Seed)
	return in.statusLocked(k, nr), nil
}

// streamOf keeps rules of different kinds with one seed independent.
func streamOf(k key) uint64 {
	h := fnv.New64a()
	h.Write([]byte(string(k.s) + "/" + string(k.k)))
	return h.Sum64()
}

// Clear removes the rule of surface and kind; "all" for either matches
// every one. It returns how many rules it removed.
func (in *Injector) Clear(surface, kind string) (int, error) {
	known := surface == "all"
	for _, ki := range kinds {
		if string(ki.Surface) == surface && (kind == "all" || string(ki.Kind) == kind) {
			known = true
		}
	}
	if !known || surface == "all" && kind != "all" {
		return 0, fmt.Errorf("%w %s/%s (%s)", ErrUnknownKind, surface, kind, kindList())
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for k := range in.rules {
		if (surface == "all" || string(k.s) == surface) && (kind == "all" || string(k.k) == kind) {
			in.removeLocked(k)
			n++
		}
	}
	if n > 0 {
		in.log.Info("protocol fault rules cleared", "surface", surface, "kind", kind, "rules", n)
	}
	return n, nil
}

// RuleStatus is a live rule and what it has done.
type RuleStatus struct {
	Surface Surface `json:"surface"`
	Kind    Kind    `json:"kind"`
	Spec
	SetAt     time.Time  `json:"set_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Seen counts opportunities, Injected the faults injected.
	Seen     uint64 `json:"seen"`
	Injected uint64 `json:"injected"`
	// Fired: an action kind that fired when set and is not kept.
	Fired bool `json:"fired,omitempty"`
}

func (in *Injector) statusLocked(k key, r *rule) RuleStatus {
	st := RuleStatus{Surface: k.s, Kind: k.k, Spec: r.Spec(), SetAt: r.set, Seen: r.seen, Injected: r.injected}
	if r.Duration > 0 {
		t := r.set.Add(r.Duration)
		st.ExpiresAt = &t
	}
	return st
}

// Counter is the injected total of one kind.
type Counter struct {
	Surface  Surface `json:"surface"`
	Kind     Kind    `json:"kind"`
	Injected uint64  `json:"injected"`
}

// Status is everything GET shows.
type Status struct {
	Kinds  []KindInfo   `json:"kinds"`
	Rules  []RuleStatus `json:"rules"`
	Totals []Counter    `json:"totals"`
	// ColdResets counts cold resets by cause (command, fault).
	ColdResets map[string]uint64 `json:"cold_resets"`
	// ResettingUntil is set while the BMC is in a cold reset.
	ResettingUntil *time.Time  `json:"resetting_until,omitempty"`
	Recent         []Injection `json:"recent"`
}

// Status reads the rules, counters and recent injections.
func (in *Injector) Status() Status {
	in.mu.Lock()
	defer in.mu.Unlock()
	st := Status{Kinds: Kinds(), Rules: []RuleStatus{}, ColdResets: map[string]uint64{}, Recent: append([]Injection{}, in.recent...)}
	for k, r := range in.rules {
		if in.expireLocked(k, r) {
			continue
		}
		st.Rules = append(st.Rules, in.statusLocked(k, r))
	}
	sort.Slice(st.Rules, func(i, j int) bool {
		return st.Rules[i].Surface+"/"+Surface(st.Rules[i].Kind) < st.Rules[j].Surface+"/"+Surface(st.Rules[j].Kind)
	})
	st.Totals = in.totalsLocked()
	for c, n := range in.resets {
		st.ColdResets[c] = n
	}
	if in.Resetting() {
		t := time.Unix(0, in.reset.Load())
		st.ResettingUntil = &t
	}
	return st
}

func (in *Injector) totalsLocked() []Counter {
	out := make([]Counter, 0, len(kinds))
	for _, ki := range kinds {
		out = append(out, Counter{Surface: ki.Surface, Kind: ki.Kind, Injected: in.injected[key{ki.Surface, ki.Kind}]})
	}
	return out
}

// Totals are the injected counters of every kind (zero included, so a
// metric series exists before the first fault) and cold resets by cause.
func (in *Injector) Totals() ([]Counter, map[string]uint64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	resets := map[string]uint64{"command": in.resets["command"], "fault": in.resets["fault"]}
	return in.totalsLocked(), resets
}

// Package ipblock throttles password guessing by source address: after
// FailCount failed logins from one address within FailWindow, every
// further login attempt from that address is refused for Penalty, without
// the password being looked at. It sits below both management surfaces
// (Redfish and IPMI share one Blocker through the account store), so an
// address blocked for guessing over Redfish is blocked over IPMI too.
//
// The model is iDRAC's IP blocking (iDRAC.IPBlocking.BlockEnable,
// FailCount, FailWindow, PenaltyTime; DRAC 5 and iDRAC 6 to 9 user's
// guides): "when consecutive failures from a single IP address are
// encountered within a specific amount of time, all further attempts to
// establish a session from that address are rejected for a certain
// timespan", and the fail window is a counter that "gets reset" when
// failures come later than it. It stops the attacker's address, not the
// account, which is why it exists beside DMTF account lockout (see the
// accounts package for how the two interact).
//
// Two deliberate departures from iDRAC:
//
//   - A successful login does not clear the address's failures. iDRAC
//     clears them; then anyone holding one valid account (a ReadOnly
//     login) could interleave logins with guesses at another account's
//     password and never be blocked. Failures are forgotten only when the
//     fail window passes.
//   - IPv6 addresses are counted per /64: one host normally holds a whole
//     /64 and could otherwise step to a fresh address after every block.
//
// Memory is bounded: at most MaxEntries addresses are tracked; when the
// table is full the address touched longest ago is forgotten. A flood from
// more addresses than that can therefore push a blocked address out early,
// after which it starts counting afresh; it cannot grow the table.
//
// Refusals are logged as summaries, not a line per attempt: at most one
// line per address per SummaryInterval carrying the count, and at most
// maxLinesPerInterval lines per interval in all, the rest folded into one
// line that says how many addresses and attempts it stands for.
package ipblock

import (
	"container/list"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
)

// Settings are the per-address throttling settings, as an administrator
// sets them (AccountService Oem.Bmcemu.IPBlocking over Redfish).
type Settings struct {
	// Enabled turns blocking on. Off, failures are still counted (so
	// turning it on acts at once) but no address is refused.
	Enabled bool `json:"enabled"`
	// FailCount failures from one address within FailWindow block it.
	FailCount int `json:"fail_count"`
	// FailWindow is how long failures are counted for: a failure later
	// than FailWindow after the first one of a run starts a new run.
	FailWindow time.Duration `json:"fail_window"`
	// Penalty is how long a blocked address is refused.
	Penalty time.Duration `json:"penalty"`
}

// Limits of the settings, as whole seconds on the wire.
const (
	MinFailCount = 1
	MaxFailCount = 1000
	MinWindow    = time.Second
	MaxWindow    = 24 * time.Hour
	MinPenalty   = time.Second
	MaxPenalty   = 24 * time.Hour
)

// ErrSettings is a setting out of range.
var ErrSettings = errors.New("invalid IP blocking settings")

// DefaultSettings are DRAC 5's documented example, which iDRAC keeps:
// five failures within a minute block the address for five minutes.
func DefaultSettings() Settings {
	return Settings{Enabled: true, FailCount: 5, FailWindow: time.Minute, Penalty: 5 * time.Minute}
}

// Validate checks every field is within its limits, whether or not
// blocking is enabled: a disabled setting is still what enabling applies.
func (s Settings) Validate() error {
	switch {
	case s.FailCount < MinFailCount || s.FailCount > MaxFailCount:
		return fmt.Errorf("%w: fail count %d outside %d..%d", ErrSettings, s.FailCount, MinFailCount, MaxFailCount)
	case s.FailWindow < MinWindow || s.FailWindow > MaxWindow || s.FailWindow%time.Second != 0:
		return fmt.Errorf("%w: fail window %v: whole seconds from %v to %v", ErrSettings, s.FailWindow, MinWindow, MaxWindow)
	case s.Penalty < MinPenalty || s.Penalty > MaxPenalty || s.Penalty%time.Second != 0:
		return fmt.Errorf("%w: penalty %v: whole seconds from %v to %v", ErrSettings, s.Penalty, MinPenalty, MaxPenalty)
	}
	return nil
}

// Defaults for Options.
const (
	DefaultMaxEntries      = 1024
	DefaultSummaryInterval = time.Minute
	// maxLinesPerInterval bounds the summary lines of one interval, so
	// that an attacker with many addresses cannot buy a line each.
	maxLinesPerInterval = 32
)

// Options configure New.
type Options struct {
	Settings Settings
	// Clock tells the time and times the summary lines; nil is the real
	// clock.
	Clock clock.Clock
	// Logger receives the block notices and refusal summaries; nil
	// discards them.
	Logger *slog.Logger
	// MaxEntries bounds the addresses tracked (0: DefaultMaxEntries).
	MaxEntries int
	// SummaryInterval is how often a refused address is logged at most
	// (0: DefaultSummaryInterval).
	SummaryInterval time.Duration
}

// Reason says why a login attempt was refused, for the summaries.
type Reason int

// Reasons a refusal is counted under.
const (
	// AddressBlocked: the address is blocked; the password was not looked at.
	AddressBlocked Reason = iota
	// AccountLocked: the account is locked out (DMTF AccountService lockout).
	AccountLocked
	numReasons
)

func (r Reason) String() string {
	switch r {
	case AddressBlocked:
		return "address_blocked"
	case AccountLocked:
		return "account_locked"
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// entry is one tracked address.
type entry struct {
	key         netip.Addr
	elem        *list.Element
	failures    int       // in the current run
	runStart    time.Time // first failure of the current run
	blockedTill time.Time
	// summaries
	pending    [numReasons]int // refusals not logged yet
	lastLogged time.Time       // zero: never
}

// Blocker tracks failed logins per source address. It is safe for
// concurrent use.
type Blocker struct {
	clk      clock.Clock
	log      *slog.Logger
	max      int
	interval time.Duration

	mu      sync.Mutex
	set     Settings
	table   map[netip.Addr]*entry
	lru     list.List // of *entry, least recently touched first
	timer   clock.Timer
	blocked atomic.Int64 // entries with a block set (possibly expired): 0 skips the lock

	// the current interval's line budget
	budgetStart time.Time
	lines       int
	overflow    [numReasons]int // refusals folded into the "other addresses" line
	overAddrs   int
	overBlocks  int // block notices folded
}

// New returns a Blocker with opts.Settings, which must be valid.
func New(opts Options) (*Blocker, error) {
	if err := opts.Settings.Validate(); err != nil {
		return nil, err
	}
	b := &Blocker{clk: opts.Clock, log: opts.Logger, max: opts.MaxEntries, interval: opts.SummaryInterval,
		set: opts.Settings, table: map[netip.Addr]*entry{}}
	if b.clk == nil {
		b.clk = clock.Real{}
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.max <= 0 {
		b.max = DefaultMaxEntries
	}
	if b.interval <= 0 {
		b.interval = DefaultSummaryInterval
	}
	return b, nil
}

// Settings returns the current settings.
func (b *Blocker) Settings() Settings {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.set
}

// SetSettings replaces the settings. Blocks in force keep their end time;
// the new settings apply to failures from now on.
func (b *Blocker) SetSettings(s Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.set = s
	return nil
}

// Key is the address failures are counted under: the address itself for
// IPv4 (an IPv4-mapped IPv6 address counts as its IPv4 address), its /64
// for IPv6. The zero Addr (source unknown) is not a key.
func Key(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.Addr()
		}
	}
	return a
}

// Blocked reports whether src is refused now and until when. It counts
// nothing; Refuse is the check for a login attempt.
func (b *Blocker) Blocked(src netip.Addr) (time.Time, bool) {
	if !src.IsValid() || b.blocked.Load() == 0 {
		return time.Time{}, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.table[Key(src)]
	if e == nil || !b.set.Enabled || !b.clk.Now().Before(e.blockedTill) {
		return time.Time{}, false
	}
	return e.blockedTill, true
}

// Refuse is the check a login attempt from src makes first: if src is
// blocked it counts the refusal for the summary log and reports until when
// the block lasts; the caller refuses the attempt without looking at the
// credentials, so a blocked address learns nothing about them.
func (b *Blocker) Refuse(src netip.Addr) (time.Time, bool) {
	if !src.IsValid() || b.blocked.Load() == 0 {
		return time.Time{}, false
	}
	b.mu.Lock()
	now := b.clk.Now()
	e := b.table[Key(src)]
	if e != nil && !e.blockedTill.IsZero() && !now.Before(e.blockedTill) {
		// The penalty is over: the fast path may skip the lock again.
		e.blockedTill = time.Time{}
		b.blocked.Add(-1)
	}
	if e == nil || !b.set.Enabled || !now.Before(e.blockedTill) {
		b.mu.Unlock()
		return time.Time{}, false
	}
	until := e.blockedTill
	line := b.noteLocked(e, AddressBlocked, now)
	b.mu.Unlock()
	line.emit(b.log)
	return until, true
}

// NoteRefused counts a login attempt from src refused for reason (an
// account locked out) towards src's summary line; the attempt is not a
// failure of src's.
func (b *Blocker) NoteRefused(src netip.Addr, reason Reason) {
	if !src.IsValid() {
		return
	}
	b.mu.Lock()
	now := b.clk.Now()
	line := b.noteLocked(b.touchLocked(Key(src)), reason, now)
	b.mu.Unlock()
	line.emit(b.log)
}

// Fail counts a failed login from src. It reports whether this failure
// blocked src (it reached FailCount within FailWindow).
func (b *Blocker) Fail(src netip.Addr) (blocked bool) {
	if !src.IsValid() {
		return false
	}
	b.mu.Lock()
	now := b.clk.Now()
	e := b.touchLocked(Key(src))
	if e.failures == 0 || now.Sub(e.runStart) >= b.set.FailWindow {
		e.failures, e.runStart = 0, now
	}
	e.failures++
	var line logLine
	if b.set.Enabled && e.failures >= b.set.FailCount {
		if e.blockedTill.IsZero() {
			b.blocked.Add(1)
		}
		e.blockedTill = now.Add(b.set.Penalty)
		e.failures = 0
		blocked = true
		line = b.blockNoticeLocked(e, now)
	}
	b.mu.Unlock()
	line.emit(b.log)
	return blocked
}

// Len is how many addresses are tracked.
func (b *Blocker) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.table)
}

// touchLocked returns key's entry, created if need be, as the most
// recently touched; a full table forgets its least recently touched
// address first, logging what it had not logged yet.
func (b *Blocker) touchLocked(key netip.Addr) *entry {
	if e := b.table[key]; e != nil {
		b.lru.MoveToBack(e.elem)
		return e
	}
	for len(b.table) >= b.max {
		old := b.lru.Front().Value.(*entry)
		b.dropLocked(old)
		// Its unlogged refusals join the folded line rather than vanish.
		b.foldLocked(old)
	}
	e := &entry{key: key}
	e.elem = b.lru.PushBack(e)
	b.table[key] = e
	return e
}

func (b *Blocker) dropLocked(e *entry) {
	b.lru.Remove(e.elem)
	delete(b.table, e.key)
	if !e.blockedTill.IsZero() {
		b.blocked.Add(-1)
	}
}

// foldLocked moves e's unlogged refusals into the "other addresses" line.
func (b *Blocker) foldLocked(e *entry) {
	n := 0
	for r, c := range e.pending {
		b.overflow[r] += c
		n += c
		e.pending[r] = 0
	}
	if n > 0 {
		b.overAddrs++
		b.armLocked()
	}
}

// logLine is one line to write once the lock is released.
type logLine struct {
	msg  string
	args []any
}

func (l logLine) emit(log *slog.Logger) {
	if l.msg != "" {
		log.Warn(l.msg, l.args...)
	}
}

// budgetLocked reports whether one more line fits in the current
// interval's budget, starting a new interval when the last one is over.
func (b *Blocker) budgetLocked(now time.Time) bool {
	if now.Sub(b.budgetStart) >= b.interval {
		b.budgetStart, b.lines = now, 0
	}
	if b.lines >= maxLinesPerInterval {
		return false
	}
	b.lines++
	return true
}

func (b *Blocker) blockNoticeLocked(e *entry, now time.Time) logLine {
	if !b.budgetLocked(now) {
		b.overBlocks++
		b.armLocked()
		return logLine{}
	}
	return logLine{msg: "login attempts from this address blocked after repeated failures",
		args: []any{"remote", e.key.String(), "failures", b.set.FailCount, "fail_window", b.set.FailWindow,
			"penalty", b.set.Penalty, "until", e.blockedTill.UTC().Format(time.RFC3339)}}
}

// noteLocked counts one refusal of e. The first refusal after a quiet
// interval is logged at once, so the operator hears of it; later ones
// wait for the summary that the timer writes once the interval is over.
func (b *Blocker) noteLocked(e *entry, r Reason, now time.Time) logLine {
	e.pending[r]++
	if !e.lastLogged.IsZero() && now.Sub(e.lastLogged) < b.interval {
		b.armLocked()
		return logLine{}
	}
	return b.summaryLocked(e, now)
}

// summaryLocked turns e's pending refusals into a line (or folds them
// when the interval's budget is spent).
func (b *Blocker) summaryLocked(e *entry, now time.Time) logLine {
	e.lastLogged = now
	if !b.budgetLocked(now) {
		b.foldLocked(e)
		return logLine{}
	}
	args := []any{"remote", e.key.String()}
	for r, c := range e.pending {
		if c > 0 {
			args = append(args, Reason(r).String(), c)
		}
		e.pending[r] = 0
	}
	if until := e.blockedTill; now.Before(until) {
		args = append(args, "blocked_until", until.UTC().Format(time.RFC3339))
	}
	args = append(args, "interval", b.interval)
	return logLine{msg: "login attempts refused", args: args}
}

// armLocked makes sure a flush is scheduled while anything waits to be
// logged.
func (b *Blocker) armLocked() {
	if b.timer == nil {
		b.timer = b.clk.AfterFunc(b.interval, b.flush)
	}
}

// flush writes the summaries that are due: one per address whose interval
// is over, and the folded line. It re-arms while anything still waits.
func (b *Blocker) flush() {
	b.mu.Lock()
	b.timer = nil
	now := b.clk.Now()
	var lines []logLine
	waiting := false
	for el := b.lru.Front(); el != nil; el = el.Next() {
		e := el.Value.(*entry)
		if e.pending == ([numReasons]int{}) {
			continue
		}
		if now.Sub(e.lastLogged) < b.interval {
			waiting = true
			continue
		}
		if l := b.summaryLocked(e, now); l.msg != "" {
			lines = append(lines, l)
		}
	}
	if b.overAddrs > 0 || b.overBlocks > 0 {
		args := []any{"addresses", b.overAddrs}
		for r, c := range b.overflow {
			if c > 0 {
				args = append(args, Reason(r).String(), c)
			}
		}
		if b.overBlocks > 0 {
			args = append(args, "addresses_blocked", b.overBlocks)
		}
		args = append(args, "interval", b.interval)
		// The folded line is the one line past the budget: it exists so
		// that the budget loses counts, never attempts.
		lines = append(lines, logLine{msg: "login attempts refused from other addresses (not logged one by one)", args: args})
		b.overflow, b.overAddrs, b.overBlocks = [numReasons]int{}, 0, 0
	}
	if waiting {
		b.armLocked()
	}
	// Expired blocks no longer need their entry's place in the fast path.
	for el := b.lru.Front(); el != nil; el = el.Next() {
		e := el.Value.(*entry)
		if !e.blockedTill.IsZero() && !now.Before(e.blockedTill) {
			e.blockedTill = time.Time{}
			b.blocked.Add(-1)
		}
	}
	b.mu.Unlock()
	for _, l := range lines {
		l.emit(b.log)
	}
}

package ipblock

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// records keeps every log record, for counting lines and their counts.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// sum adds up the attribute key over every record whose message is msg
// ("" for any), and counts those records.
func (r *records) sum(msg, key string) (lines int, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.recs {
		if msg != "" && rec.Message != msg {
			continue
		}
		lines++
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				total += a.Value.Int64()
			}
			return true
		})
	}
	return lines, total
}

func newTest(t *testing.T, s Settings, max int) (*Blocker, *clock.Manual, *records) {
	t.Helper()
	clk := clock.NewManual(epoch)
	rec := &records{}
	b, err := New(Options{Settings: s, Clock: clk, Logger: slog.New(rec), MaxEntries: max})
	if err != nil {
		t.Fatal(err)
	}
	return b, clk, rec
}

var (
	attacker = netip.MustParseAddr("127.0.0.2")
	operator = netip.MustParseAddr("127.0.0.3")
)

func TestBlockAfterFailCountWithinWindow(t *testing.T) {
	b, clk, _ := newTest(t, DefaultSettings(), 0)
	for i := 1; i < 5; i++ {
		if b.Fail(attacker) {
			t.Fatalf("blocked after %d failures", i)
		}
		clk.Advance(10 * time.Second)
	}
	if !b.Fail(attacker) {
		t.Fatal("five failures within a minute did not block")
	}
	if _, ok := b.Refuse(operator); ok {
		t.Error("another address is refused")
	}
	until, ok := b.Refuse(attacker)
	if !ok || !until.Equal(clk.Now().Add(5*time.Minute)) {
		t.Fatalf("Refuse = %v %v, want blocked until %v", until, ok, clk.Now().Add(5*time.Minute))
	}
	clk.Advance(5*time.Minute - time.Second)
	if _, ok := b.Refuse(attacker); !ok {
		t.Error("unblocked before the penalty ended")
	}
	clk.Advance(time.Second)
	if _, ok := b.Refuse(attacker); ok {
		t.Error("still blocked when the penalty ended")
	}
	// A fresh run: one failure does not block again.
	if b.Fail(attacker) {
		t.Error("blocked again by the first failure after the penalty")
	}
}

func TestFailuresOutsideWindowDoNotBlock(t *testing.T) {
	b, clk, _ := newTest(t, DefaultSettings(), 0)
	// Four failures per window, forever: never five within one.
	for i := range 40 {
		if b.Fail(attacker) {
			t.Fatalf("blocked at failure %d", i+1)
		}
		if i%4 == 3 {
			clk.Advance(time.Minute)
		}
	}
}

func TestDisabledCountsButNeverBlocks(t *testing.T) {
	s := DefaultSettings()
	s.Enabled = false
	b, _, _ := newTest(t, s, 0)
	for range 20 {
		if b.Fail(attacker) {
			t.Fatal("blocked while disabled")
		}
	}
	if _, ok := b.Refuse(attacker); ok {
		t.Fatal("refused while disabled")
	}
	// Turning it on acts on the next failure.
	s.Enabled = true
	s.FailCount = 1
	if err := b.SetSettings(s); err != nil {
		t.Fatal(err)
	}
	if !b.Fail(attacker) {
		t.Fatal("FailCount 1: a failure did not block")
	}
}

func TestKeys(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"::ffff:127.0.0.2", "127.0.0.2"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::"},
	} {
		if got := Key(netip.MustParseAddr(tc.a)); got != netip.MustParseAddr(tc.b) {
			t.Errorf("Key(%s) = %s, want %s", tc.a, got, tc.b)
		}
	}
	s := DefaultSettings()
	s.FailCount = 2
	b, _, _ := newTest(t, s, 0)
	b.Fail(netip.MustParseAddr("2001:db8::1"))
	if !b.Fail(netip.MustParseAddr("2001:db8::2")) {
		t.Error("two failures from one /64 did not block it")
	}
	if _, ok := b.Refuse(netip.MustParseAddr("2001:db8::99")); !ok {
		t.Error("another address of the blocked /64 is let in")
	}
	if _, ok := b.Refuse(netip.MustParseAddr("2001:db8:0:1::1")); ok {
		t.Error("the neighbouring /64 is refused")
	}
	if b.Fail(netip.Addr{}) {
		t.Error("an unknown source was blocked")
	}
}

func TestTableBounded(t *testing.T) {
	b, _, _ := newTest(t, DefaultSettings(), 16)
	base := netip.MustParseAddr("10.0.0.0")
	a := base
	for range 1000 {
		a = a.Next()
		b.Fail(a)
	}
	if n := b.Len(); n != 16 {
		t.Fatalf("%d addresses tracked, want the cap of 16", n)
	}
}

func TestValidate(t *testing.T) {
	bad := []Settings{
		{FailCount: 0, FailWindow: time.Minute, Penalty: time.Minute},
		{FailCount: 1001, FailWindow: time.Minute, Penalty: time.Minute},
		{FailCount: 5, FailWindow: 0, Penalty: time.Minute},
		{FailCount: 5, FailWindow: 1500 * time.Millisecond, Penalty: time.Minute},
		{FailCount: 5, FailWindow: time.Minute, Penalty: 25 * time.Hour},
	}
	for _, s := range bad {
		if s.Validate() == nil {
			t.Errorf("%+v accepted", s)
		}
		if _, err := New(Options{Settings: s}); err == nil {
			t.Errorf("New accepted %+v", s)
		}
	}
	if err := DefaultSettings().Validate(); err != nil {
		t.Error(err)
	}
}

// TestSummariesBounded: 10,000 refused attempts from one blocked address
// make a handful of lines, not 10,000, and the lines account for every
// attempt.
func TestSummariesBounded(t *testing.T) {
	s := DefaultSettings()
	s.Penalty = time.Hour
	b, clk, rec := newTest(t, s, 0)
	for range 5 {
		b.Fail(attacker)
	}
	const attempts = 10000
	for i := range attempts {
		if _, ok := b.Refuse(attacker); !ok {
			t.Fatalf("attempt %d not refused", i)
		}
		if i%1000 == 999 {
			clk.Advance(6 * time.Second) // 10,000 attempts over a minute
		}
	}
	clk.Advance(2 * time.Minute) // let the last summary out
	lines, total := rec.sum("login attempts refused", AddressBlocked.String())
	if total != attempts {
		t.Errorf("summaries count %d refusals, want %d", total, attempts)
	}
	// The first refusal at once, then one summary per elapsed interval.
	if lines > 3 {
		t.Errorf("%d summary lines for one address over about a minute", lines)
	}
	if n, _ := rec.sum("login attempts from this address blocked after repeated failures", ""); n != 1 {
		t.Errorf("%d block notices, want 1", n)
	}
}

// TestSummariesBoundedAcrossAddresses: refusals from thousands of
// addresses cost at most the interval's budget plus one folded line, and
// still add up.
func TestSummariesBoundedAcrossAddresses(t *testing.T) {
	b, clk, rec := newTest(t, DefaultSettings(), 64)
	a := netip.MustParseAddr("10.0.0.0")
	const addrs = 5000
	for range addrs {
		a = a.Next()
		b.NoteRefused(a, AccountLocked)
	}
	clk.Advance(time.Minute)
	lines, total := rec.sum("", AccountLocked.String())
	if total != addrs {
		t.Errorf("lines count %d refusals, want %d", total, addrs)
	}
	if lines > maxLinesPerInterval+1 {
		t.Errorf("%d lines for one interval, budget %d+1", lines, maxLinesPerInterval)
	}
	if b.Len() > 64 {
		t.Errorf("%d addresses tracked", b.Len())
	}
}

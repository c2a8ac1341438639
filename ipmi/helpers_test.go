package ipmi

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// stepClock advances one second per reading, so every platform change gets
// a distinct, whole-second ChangedAt.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

func newClock() *stepClock {
	return &stepClock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func newPlatform(t testing.TB) *platform.Platform {
	t.Helper()
	return newPlatformWith(t, platform.Options{Clock: newClock(), HostTiming: fastHost})
}

// fastHost makes the host's power and boot steps take a millisecond each
// (memory training keeps the firmware's pace), so a test that power
// cycles waits for the boot, not for real-hardware minutes.
var fastHost = platform.HostTiming{PowerOn: time.Millisecond, CPUInit: time.Millisecond, PCIInit: time.Millisecond,
	DHCPTimeouts: []time.Duration{time.Millisecond}, MediaRead: time.Millisecond, OSBoot: time.Millisecond,
	Shutdown: time.Millisecond, PowerCycleOff: time.Millisecond}

// waitOSRunning waits until the host has booted its OS.
func waitOSRunning(t testing.TB, p *platform.Platform) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !p.Snapshot().Host.OSRunning {
		if time.Now().After(deadline) {
			t.Fatalf("host not booted: %+v", p.Snapshot().Host)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newPlatformWith(t testing.TB, opts platform.Options) *platform.Platform {
	t.Helper()
	p, err := platform.New(profile.Default(), opts)
	if err != nil {
		t.Fatalf("platform.New: %v", err)
	}
	return p
}

// insert64 seats a 64 GiB module in slot and returns its SPD view.
func insert64(t testing.TB, p *platform.Platform, slot string) spd.Module {
	t.Helper()
	img, err := spd.Encode(p.NewModuleSpec(slot, spd.Spec{CapacityGiB: 64, PartNumber: "M321R8GA0BB0-CQK"}))
	if err != nil {
		t.Fatalf("encode SPD: %v", err)
	}
	mod, err := p.Insert(slot, img)
	if err != nil {
		t.Fatalf("insert into %s: %v", slot, err)
	}
	return mod.SPD
}

// waitSettled waits until no hot-plug step is in progress in slot.
func waitSettled(t testing.TB, p *platform.Platform, slot string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		sl, ok := p.Snapshot().Slot(slot)
		if !ok {
			t.Fatalf("no slot %s", slot)
		}
		if sl.Stage == "" && sl.State != platform.StateStarting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still %s (%s) after 30s", slot, sl.State, sl.Stage)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testMachine(t testing.TB, p Platform) *machine {
	t.Helper()
	return newMachine(p, discardLogger())
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func textLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

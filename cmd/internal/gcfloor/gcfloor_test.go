package gcfloor

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{0, Floor, maxPercent},
		{1 << 10, Floor, maxPercent}, // just started: capped
		{2 << 20, Floor, 800},        // a lone server: 16 MiB over 2 MiB
		{3 << 20, 16 << 20, 534},     // rounds up: never under the floor
		{16 << 20, Floor, 100},       // from the floor on, the default
		{4 << 30, Floor, 100},        // a fleet: unchanged
	} {
		if got := Percent(c.live, c.floor); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.live, c.floor, got, c.want)
		}
	}
}

func TestStartRespectsGOGC(t *testing.T) {
	t.Setenv("GOGC", "100")
	stop := Start()
	stop()
}

func TestStartRaisesAndStopRestores(t *testing.T) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		t.Skip("GOGC is set: Start leaves the collector alone")
	}
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	// A test binary's live heap is far under Floor, so Start raises GOGC
	// at once, before any collection.
	stop := Start()
	got := debug.SetGCPercent(-1)
	debug.SetGCPercent(got)
	stop()
	if got <= 100 {
		t.Errorf("GOGC after Start = %d, want more than 100", got)
	}
	if after := debug.SetGCPercent(100); after != 100 {
		t.Errorf("GOGC after stop = %d, want 100 restored", after)
	}
}

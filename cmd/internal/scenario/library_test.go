package scenario_test

import (
	"context"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/cmd/internal/scenario"
	"github.com/bmcemu/bmcemu/cmd/internal/scenario/inprocess"
)

// runBuiltin runs a library scenario on an in-process BMC.
func runBuiltin(t *testing.T, name string, opts scenario.Options) *scenario.Result {
	t.Helper()
	f, src, err := scenario.Load(scenario.BuiltinPrefix + name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tg, err := inprocess.New(ctx, inprocess.Config{Profile: f.Profile, FaultSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	return scenario.Run(ctx, f, src, tg, opts)
}

// TestLibrary runs every shipped scenario in-process: each must pass.
func TestLibrary(t *testing.T) {
	lib, err := scenario.Library()
	if err != nil {
		t.Fatal(err)
	}
	if len(lib) == 0 {
		t.Fatal("the library is empty")
	}
	for _, b := range lib {
		t.Run(b.Name, func(t *testing.T) {
			// A generous settle: it costs time only when a step fails, and
			// the race detector on a busy machine delays event pushes.
			res := runBuiltin(t, b.Name, scenario.Options{Settle: 30 * time.Second})
			if res.Setup != nil {
				t.Fatalf("setup: %v", res.Setup)
			}
			for _, s := range res.Steps {
				if s.Status != scenario.Passed {
					t.Errorf("step %d (line %d, at %s) %s: %s: %v", s.Index, s.Line, s.At, s.Title, s.Status, s.Err)
				}
			}
			if len(res.Steps) != b.Steps {
				t.Errorf("%d step results for %d steps", len(res.Steps), b.Steps)
			}
			for _, s := range res.Steps {
				if s.Wall > 5*time.Second {
					t.Logf("step %d (line %d) %s took %s", s.Index, s.Line, s.Title, s.Wall)
				}
			}
			t.Logf("%s: %d steps, %s simulated in %s", b.Name, len(res.Steps), res.Simulated, res.Wall)
		})
	}
}

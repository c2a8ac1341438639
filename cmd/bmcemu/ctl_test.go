package main

import (
	"encoding/json"
	"testing"

	"github.com/bmcemu/bmcemu/platform/events"
)

// TestDescribeKernelPagesMigrated decodes the event as `ctl events` gets it
// (JSON numbers as float64) and checks the counts print as integers.
func TestDescribeKernelPagesMigrated(t *testing.T) {
	b, err := json.Marshal(events.KernelPagesMigrated{Slot: "CPU0_DIMM_A2", Node: 0, Pages: 3584, Target: 3641, Movable: 32768,
		Unmovable: 131080, Reserved: 1057995})
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	got := describe("KernelPagesMigrated", f)
	want := "kernel: migrated 3584 of 32768 movable pages into CPU0_DIMM_A2 (target 3641); 131080 unmovable, 1057995 reserved pages stay on node 0"
	if got != want {
		t.Fatalf("describe = %q\n want %q", got, want)
	}
}

package redfish

import (
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/conformance/schemacheck"
)

// A boot module pulled without an eject: its interleave set's chunk keeps
// its identity but is Critical, names the lost member and provides only
// the other members' memory; the chunks still add up to the domain. A new
// module in the slot is a chunk of its own.
func TestMemoryChunkAfterSurpriseRemoval(t *testing.T) {
	v := schemacheck.NewForTest(t)
	p := newPlatform(t)
	h := newHandlerCfg(t, p, Config{})
	const slot = "CPU0_DIMM_A1"
	chunk := chunksURI + "/CPU0_DIMM_A1_x8"
	if got := chunkHealth(t, h, "CPU0_DIMM_A1_x8"); got != "OK" {
		t.Fatalf("chunk health before: %v", got)
	}
	if _, err := p.Remove(slot); err != nil {
		t.Fatal(err)
	}
	settle(t, p)

	sumMatches := func() {
		t.Helper()
		res := crawlMemory(t, v, h)
		var total float64
		for _, id := range memberIDs(t, h, chunksURI) {
			total += res[id]["MemoryChunkSizeMiB"].(float64)
		}
		if d := res[domainURI]; total != d["MemorySizeMiB"] {
			t.Fatalf("chunks hold %v MiB, the domain %v", total, d["MemorySizeMiB"])
		}
	}
	sumMatches()
	c := getJSON(t, h, chunk)
	members := setMembers(t, c)
	if path(t, c, "Status", "Health") != "Critical" || c["MemoryChunkSizeMiB"] != 7*32768.0 || len(members) != 7 ||
		strings.Contains(strings.Join(members, " "), slot) || !strings.Contains(c["Description"].(string), slot) {
		t.Fatalf("chunk after the pull: %v", c)
	}
	if got := path(t, getJSON(t, h, memURI(slot)), "Status", "State"); got != "Absent" {
		t.Fatalf("%s after the pull: %v", slot, got)
	}

	insert(t, p, slot, 32)
	sumMatches()
	if got := chunkHealth(t, h, "CPU0_DIMM_A1_x1"); got != "OK" {
		t.Fatalf("the new module's chunk: %v", got)
	}
	if got := chunkHealth(t, h, "CPU0_DIMM_A1_x8"); got != "Critical" {
		t.Fatalf("the old set after the replacement: %v", got)
	}
}

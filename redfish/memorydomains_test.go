package redfish

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/conformance/schemacheck"
	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/spd"
)

const (
	domainURI = "/redfish/v1/Systems/1/MemoryDomains/SystemMemory"
	chunksURI = domainURI + "/MemoryChunks"
)

func memURI(slot string) string { return "/redfish/v1/Systems/1/Memory/" + slot }

// memoryState is a Memory member's Status.State and Health.
func memoryState(t *testing.T, h http.Handler, slot string) [2]any {
	t.Helper()
	m := getJSON(t, h, memURI(slot))
	return [2]any{path(t, m, "Status", "State"), path(t, m, "Status", "Health")}
}

func chunkHealth(t *testing.T, h http.Handler, id string) any {
	t.Helper()
	return path(t, getJSON(t, h, chunksURI+"/"+id), "Status", "Health")
}

// summary is MemorySummary's capacity, mirroring and health.
func summary(t *testing.T, h http.Handler) [3]any {
	t.Helper()
	s := getJSON(t, h, "/redfish/v1/Systems/1")
	return [3]any{path(t, s, "MemorySummary", "TotalSystemMemoryGiB"), path(t, s, "MemorySummary", "MemoryMirroring"),
		path(t, s, "MemorySummary", "Status", "Health")}
}

func memberIDs(t *testing.T, h http.Handler, uri string) []string {
	t.Helper()
	var out []string
	for _, m := range members(t, getJSON(t, h, uri)) {
		out = append(out, m.(map[string]any)["@odata.id"].(string))
	}
	return out
}

func setMembers(t *testing.T, chunk map[string]any) []string {
	t.Helper()
	var out []string
	for _, s := range chunk["InterleaveSets"].([]any) {
		out = append(out, path(t, s, "Memory", "@odata.id").(string))
	}
	return out
}

// seat puts a module of gib GiB and ranks ranks into an empty slot and
// lets the hardware finish, whatever the outcome.
func seat(t *testing.T, p *platform.Platform, slot string, gib, ranks int) {
	t.Helper()
	img, err := spd.Encode(p.NewModuleSpec(slot, spd.Spec{CapacityGiB: gib, Ranks: ranks, PartNumber: "REPLACE"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Insert(slot, img); err != nil {
		t.Fatalf("insert into %s: %v", slot, err)
	}
	settle(t, p)
}

// pull ejects slot's module through the attention button and removes it.
func pull(t *testing.T, p *platform.Platform, slot string) {
	t.Helper()
	if err := p.PressAttention(slot); err != nil {
		t.Fatalf("attention %s: %v", slot, err)
	}
	settle(t, p)
	if _, err := p.Remove(slot); err != nil {
		t.Fatalf("remove %s: %v", slot, err)
	}
	settle(t, p)
}

// Mirroring: the domain and chunks show the pairs; a UE fails the primary
// over (contained, side disabled, redundancy lost), a mismatched
// replacement is refused, the identical one re-silvers and restores
// redundancy. SSE and push subscribers see it in order.
func TestMemoryDomainsMirroring(t *testing.T) {
	v := schemacheck.NewForTest(t)
	p := newProfilePlatform(t, "mirror", nil)
	h := newHandlerCfg(t, p, fastRetries())
	sse := newSSERecorder(t, h)
	push := newCollector(t, nil)
	subscribe(t, h, `{"Destination":"`+push.srv.URL+`","Protocol":"Redfish","RegistryPrefixes":["Platform","BmcemuMemory","ResourceEvent"]}`)

	if got := summary(t, h); got != [3]any{128.0, "System", "OK"} {
		t.Fatalf("MemorySummary %v", got)
	}
	if l := path(t, getJSON(t, h, "/redfish/v1/Systems/1"), "MemoryDomains", "@odata.id"); l != memoryDomainsPath() {
		t.Fatalf("MemoryDomains link %v", l)
	}
	res := crawlMemory(t, v, h)
	d := res[domainURI]
	if d["AllowsMirroring"] != true || d["AllowsSparing"] != false || d["MemorySizeMiB"] != 131072.0 ||
		len(d["InterleavableMemorySets"].([]any)) != 1 || len(path(t, d, "InterleavableMemorySets", 0, "MemorySet").([]any)) != 8 {
		t.Fatalf("domain %v", d)
	}
	if ids := memberIDs(t, h, chunksURI); len(ids) != 4 || ids[0] != chunksURI+"/Mirror0" {
		t.Fatalf("chunks %v", ids)
	}
	c := res[chunksURI+"/Mirror0"]
	if c["IsMirrorEnabled"] != true || c["IsSpare"] != false || c["MemoryChunkSizeMiB"] != 32768.0 || c["AddressRangeType"] != "Volatile" ||
		strings.Join(setMembers(t, c), " ") != memURI("CPU0_DIMM_A1")+" "+memURI("CPU0_DIMM_B1") || path(t, c, "Status", "Health") != "OK" {
		t.Fatalf("Mirror0 %v", c)
	}
	if m := res[memURI("CPU0_DIMM_A1")]; m["IsRankSpareEnabled"] != false || m["SpareDeviceCount"] != 0.0 {
		t.Fatalf("A1 %v", m)
	}

	// A UE on the primary: the mirror supplies the data.
	if _, err := p.RunWorkload(42, 2048); err != nil {
		t.Fatal(err)
	}
	inject(t, p, "CPU0_DIMM_A1", 0, false, 1)
	failover := []eventWant{
		{platformID("MemoryContainedError"), memURI("CPU0_DIMM_A1")},
		{oemID("ModuleMappedOut"), memURI("CPU0_DIMM_A1")},
		{resEventID("ResourceStatusChangedCritical"), memURI("CPU0_DIMM_A1")},
		{oemID("RedundancyLost"), chunksURI + "/Mirror0"},
		{resEventID("ResourceStatusChangedWarning"), chunksURI + "/Mirror0"},
	}
	sse.expect(t, failover...)
	if got := memoryState(t, h, "CPU0_DIMM_A1"); got != [2]any{"Disabled", "Critical"} {
		t.Fatalf("failed side %v", got)
	}
	if got := memoryState(t, h, "CPU0_DIMM_B1"); got != [2]any{"Enabled", "OK"} {
		t.Fatalf("surviving side %v", got)
	}
	if h := chunkHealth(t, h, "Mirror0"); h != "Warning" {
		t.Fatalf("Mirror0 health %v", h)
	}
	if got := summary(t, h); got != [3]any{128.0, "System", "Warning"} {
		t.Fatalf("MemorySummary after failover %v", got)
	}
	if cur, _, trips := eccCountsOf(t, h, memURI("CPU0_DIMM_A1")+"/MemoryMetrics"); cur != [2]float64{0, 1} || trips != [2]bool{false, true} {
		t.Fatalf("A1 metrics %v %v", cur, trips)
	}
	// The Event log holds the same records, origin and message included.
	var logged []eventWant
	for _, e := range members(t, getJSON(t, h, "/redfish/v1/Systems/1/LogServices/EventLog/Entries")) {
		e := e.(map[string]any)
		w := eventWant{id: e["MessageId"].(string)}
		if l, ok := e["Links"].(map[string]any); ok {
			w.origin, _ = path(t, l, "OriginOfCondition", "@odata.id").(string)
		}
		if w.id == platformID("MemoryContainedError") && e["Message"] != "Memory device 'CPU0_DIMM_A1' contained an uncorrectable error." {
			t.Errorf("logged %v", e)
		}
		logged = append(logged, w)
	}
	if !ordered(logged, failover...) {
		t.Fatalf("Event log %v", logged)
	}
	crawlMemory(t, v, h)

	// A replacement that does not match its partner is refused.
	pull(t, p, "CPU0_DIMM_A1")
	seat(t, p, "CPU0_DIMM_A1", 64, 2)
	sse.expect(t, eventWant{oemID("ReplacementRefused"), memURI("CPU0_DIMM_A1")})
	if h := chunkHealth(t, h, "Mirror0"); h != "Warning" {
		t.Fatalf("Mirror0 health after refusal %v", h)
	}
	if _, err := p.Remove("CPU0_DIMM_A1"); err != nil {
		t.Fatal(err)
	}
	// The identical one re-silvers from B1 and restores redundancy.
	seat(t, p, "CPU0_DIMM_A1", 32, 2)
	rebuilt := []eventWant{
		{oemID("RebuildStarted"), memURI("CPU0_DIMM_A1")},
		{oemID("RebuildProgress"), memURI("CPU0_DIMM_A1")},
		{oemID("RebuildCompleted"), memURI("CPU0_DIMM_A1")},
		{oemID("RedundancyFull"), chunksURI + "/Mirror0"},
		{resEventID("ResourceStatusChangedOK"), chunksURI + "/Mirror0"},
	}
	sse.expect(t, rebuilt...)
	if got := memoryState(t, h, "CPU0_DIMM_A1"); got != [2]any{"Enabled", "OK"} {
		t.Fatalf("replacement %v", got)
	}
	if h := chunkHealth(t, h, "Mirror0"); h != "OK" {
		t.Fatalf("Mirror0 health after re-silver %v", h)
	}
	if got := summary(t, h); got != [3]any{128.0, "System", "OK"} {
		t.Fatalf("MemorySummary after re-silver %v", got)
	}
	// The new module has no error history.
	if cur, life, _ := eccCountsOf(t, h, memURI("CPU0_DIMM_A1")+"/MemoryMetrics"); cur != [2]float64{} || life != [2]float64{} {
		t.Fatalf("replacement metrics %v %v", cur, life)
	}
	crawlMemory(t, v, h)

	// The push subscriber got the same story, in the same order.
	all := append(append(failover, eventWant{oemID("ReplacementRefused"), memURI("CPU0_DIMM_A1")}), rebuilt...)
	waitFor(t, "the pushed re-silver", func() bool { return ordered(pushed(push), all...) })
	if !ordered(sse.got, all...) {
		t.Fatalf("SSE order %v", sse.got)
	}
}

// Rank sparing: every module is rank-spare enabled with one spare rank; a
// CE storm crosses the threshold, the rank is copied onto the spare and
// mapped out, the channel's chunk degrades; ClearCurrentPeriod clears the
// alarm but not the history.
func TestMemoryDomainsSparing(t *testing.T) {
	v := schemacheck.NewForTest(t)
	p := newProfilePlatform(t, "sparing", nil)
	h := newHandlerCfg(t, p, Config{Accounts: operatorAccounts})
	sse := newSSERecorder(t, h)

	if got := summary(t, h); got != [3]any{128.0, "None", "OK"} {
		t.Fatalf("MemorySummary %v", got)
	}
	res := crawlMemory(t, v, h)
	if d := res[domainURI]; d["AllowsMirroring"] != false || d["AllowsSparing"] != true || d["MemorySizeMiB"] != 131072.0 {
		t.Fatalf("domain %v", d)
	}
	if ids := memberIDs(t, h, chunksURI); len(ids) != 8 {
		t.Fatalf("chunks %v", ids)
	}
	c := res[chunksURI+"/SpareCPU0C"]
	if c["IsSpare"] != true || c["IsMirrorEnabled"] != false || c["MemoryChunkSizeMiB"] != 16384.0 ||
		strings.Join(setMembers(t, c), " ") != memURI("CPU0_DIMM_C1") {
		t.Fatalf("SpareCPU0C %v", c)
	}
	if m := res[memURI("CPU0_DIMM_C1")]; m["IsRankSpareEnabled"] != true || m["IsSpareDeviceEnabled"] != true || m["SpareDeviceCount"] != 1.0 ||
		path(t, m, "Status", "State") != "Enabled" {
		t.Fatalf("C1 %v", m)
	}

	if _, err := p.RunWorkload(7, 2048); err != nil {
		t.Fatal(err)
	}
	inject(t, p, "CPU0_DIMM_C1", 0, true, 10)
	settle(t, p)
	sse.expect(t,
		eventWant{resEventID("ResourceErrorsCorrected"), memURI("CPU0_DIMM_C1")},
		eventWant{resEventID("ResourceErrorThresholdExceeded"), memURI("CPU0_DIMM_C1")},
		eventWant{oemID("RebuildStarted"), memURI("CPU0_DIMM_C1")},
		eventWant{oemID("RebuildCompleted"), memURI("CPU0_DIMM_C1")},
		eventWant{oemID("SpareActivated"), memURI("CPU0_DIMM_C1")},
		eventWant{oemID("RankMappedOut"), memURI("CPU0_DIMM_C1")},
	)
	if !ordered(sse.got, eventWant{oemID("RedundancyDegraded"), chunksURI + "/SpareCPU0C"}) {
		t.Fatalf("no degraded redundancy in %v", sse.got)
	}
	m := getJSON(t, h, memURI("CPU0_DIMM_C1"))
	if m["IsSpareDeviceEnabled"] != false || m["SpareDeviceCount"] != 0.0 || path(t, m, "Status", "Health") != "Warning" {
		t.Fatalf("C1 after the spare copy %v", m)
	}
	if h := chunkHealth(t, h, "SpareCPU0C"); h != "Warning" {
		t.Fatalf("SpareCPU0C health %v", h)
	}
	if h := chunkHealth(t, h, "SpareCPU0D"); h != "OK" {
		t.Fatalf("SpareCPU0D health %v", h)
	}
	metrics := memURI("CPU0_DIMM_C1") + "/MemoryMetrics"
	if cur, life, trips := eccCountsOf(t, h, metrics); cur != [2]float64{10, 0} || life != [2]float64{10, 0} || trips != [2]bool{true, false} {
		t.Fatalf("C1 metrics %v %v %v", cur, life, trips)
	}
	if w := do(t, h, http.MethodPost, metrics+"/Actions/MemoryMetrics.ClearCurrentPeriod", basic("operator", "operator-pw")); w.Code != http.StatusNoContent {
		t.Fatalf("ClearCurrentPeriod: %d %s", w.Code, w.Body)
	}
	if cur, life, trips := eccCountsOf(t, h, metrics); cur != [2]float64{} || life != [2]float64{10, 0} || trips != [2]bool{} {
		t.Fatalf("C1 metrics after clear %v %v %v", cur, life, trips)
	}
	// Clearing the counts does not give the spare back.
	if h := chunkHealth(t, h, "SpareCPU0C"); h != "Warning" {
		t.Fatalf("SpareCPU0C health after clear %v", h)
	}
	crawlMemory(t, v, h)
}

// RAID5: one chunk over all ten modules; losing a cartridge degrades it
// (the other module of the cartridge goes out of service too), replacing
// both modules rebuilds it.
func TestMemoryDomainsRAID5(t *testing.T) {
	v := schemacheck.NewForTest(t)
	p := newProfilePlatform(t, "raid5", nil)
	h := newHandlerCfg(t, p, Config{})
	sse := newSSERecorder(t, h)

	if got := summary(t, h); got != [3]any{128.0, "None", "OK"} {
		t.Fatalf("MemorySummary %v", got)
	}
	res := crawlMemory(t, v, h)
	if d := res[domainURI]; d["AllowsMirroring"] != false || d["AllowsSparing"] != false || d["MemorySizeMiB"] != 131072.0 ||
		len(path(t, d, "InterleavableMemorySets", 0, "MemorySet").([]any)) != 10 {
		t.Fatalf("domain %v", d)
	}
	c := res[chunksURI+"/RAID5"]
	if ids := memberIDs(t, h, chunksURI); len(ids) != 1 || c["MemoryChunkSizeMiB"] != 131072.0 || len(setMembers(t, c)) != 10 ||
		c["IsMirrorEnabled"] != false || c["IsSpare"] != false {
		t.Fatalf("chunks %v, RAID5 %v", ids, c)
	}

	if _, err := p.RunWorkload(9, 4096); err != nil {
		t.Fatal(err)
	}
	// Cartridge 2 is controller 2: E1 and F1.
	pull(t, p, "CPU0_DIMM_E1")
	sse.expect(t,
		eventWant{oemID("RedundancyDegraded"), chunksURI + "/RAID5"},
		eventWant{resEventID("ResourceStatusChangedWarning"), chunksURI + "/RAID5"},
	)
	if got := path(t, getJSON(t, h, memURI("CPU0_DIMM_E1")), "Status", "State"); got != "Absent" {
		t.Fatalf("E1 %v", got)
	}
	if got := memoryState(t, h, "CPU0_DIMM_F1"); got != [2]any{"Disabled", "Critical"} {
		t.Fatalf("F1, on the lost cartridge: %v", got)
	}
	if h := chunkHealth(t, h, "RAID5"); h != "Warning" {
		t.Fatalf("RAID5 health %v", h)
	}
	if got := summary(t, h); got != [3]any{128.0, "None", "Warning"} {
		t.Fatalf("MemorySummary degraded %v", got)
	}
	crawlMemory(t, v, h)

	seat(t, p, "CPU0_DIMM_E1", 16, 1)
	pull(t, p, "CPU0_DIMM_F1")
	seat(t, p, "CPU0_DIMM_F1", 16, 1)
	// The module that completes the cartridge starts its rebuild.
	sse.expect(t,
		eventWant{oemID("RebuildStarted"), memURI("CPU0_DIMM_F1")},
		eventWant{oemID("RebuildCompleted"), memURI("CPU0_DIMM_F1")},
		eventWant{oemID("RedundancyFull"), chunksURI + "/RAID5"},
		eventWant{resEventID("ResourceStatusChangedOK"), chunksURI + "/RAID5"},
	)
	if h := chunkHealth(t, h, "RAID5"); h != "OK" {
		t.Fatalf("RAID5 health after rebuild %v", h)
	}
	for _, s := range []string{"CPU0_DIMM_E1", "CPU0_DIMM_F1"} {
		if got := memoryState(t, h, s); got != [2]any{"Enabled", "OK"} {
			t.Fatalf("%s after rebuild %v", s, got)
		}
	}
	if vs, err := p.VerifyWorkload(); err != nil || !vs.OK() {
		t.Fatalf("verify %+v %v", vs, err)
	}
	crawlMemory(t, v, h)
}

// AdvancedECC: one chunk per socket interleave set, a hot-added module is
// a chunk of its own; a UE with no redundancy is uncorrectable and loses
// the page it hit.
func TestMemoryDomainsAdvancedECC(t *testing.T) {
	v := schemacheck.NewForTest(t)
	p := newPlatform(t)
	h := newHandlerCfg(t, p, Config{})
	sse := newSSERecorder(t, h)
	insert(t, p, "CPU1_DIMM_C2", 64)

	res := crawlMemory(t, v, h)
	d := res[domainURI]
	// The hot-add broke CPU1's channel symmetry, so its controller left
	// the socket's interleave: the sets are the decoder's target lists.
	targetLists := map[string]bool{}
	for _, r := range p.TAD().Rules {
		targetLists[strings.Join(r.Targets, ",")] = true
	}
	if d["AllowsMirroring"] != false || d["AllowsSparing"] != false || d["MemorySizeMiB"] != float64(512+64)*1024 ||
		len(d["InterleavableMemorySets"].([]any)) != len(targetLists) || len(targetLists) < 3 {
		t.Fatalf("domain %v; decoder target lists %v", d, targetLists)
	}
	ids := memberIDs(t, h, chunksURI)
	if len(ids) != len(targetLists) || !slices.Contains(ids, chunksURI+"/CPU0_DIMM_A1_x8") || !slices.Contains(ids, chunksURI+"/CPU1_DIMM_C2_x1") {
		t.Fatalf("chunks %v", ids)
	}
	var total float64
	for _, id := range ids {
		c := res[id]
		total += c["MemoryChunkSizeMiB"].(float64)
		if c["IsMirrorEnabled"] != false || c["IsSpare"] != false {
			t.Errorf("%s %v", id, c)
		}
	}
	if total != d["MemorySizeMiB"] {
		t.Fatalf("chunks hold %v MiB, the domain %v", total, d["MemorySizeMiB"])
	}
	if got := summary(t, h); got != [3]any{576.0, "None", "OK"} {
		t.Fatalf("MemorySummary %v", got)
	}

	if _, err := p.RunWorkload(1, 2048); err != nil {
		t.Fatal(err)
	}
	inject(t, p, "CPU1_DIMM_D1", 0, false, 1)
	sse.expect(t,
		eventWant{platformID("MemoryUncorrectableError"), memURI("CPU1_DIMM_D1")},
		eventWant{oemID("DataLost"), memURI("CPU1_DIMM_D1")},
	)
	checkError(t, do(t, h, http.MethodGet, chunksURI+"/Mirror0"), http.StatusNotFound, "ResourceNotFound", "MemoryChunks", "Mirror0")
	checkError(t, do(t, h, http.MethodGet, memoryDomainsPath()+"/Socket0"), http.StatusNotFound, "ResourceNotFound", "MemoryDomain", "Socket0")
	if w := do(t, h, http.MethodPost, chunksURI, withBody(`{}`)); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("chunk creation: %d", w.Code)
	}
}

// A population the requested mode cannot use boots in AdvancedECC, and
// the domain says why.
func TestMemoryDomainReportsConfigError(t *testing.T) {
	p := newProfilePlatform(t, "mirror", func(pr *profile.Profile) {
		pr.Modules[0].Slots = []string{"CPU0_DIMM_A1", "CPU0_DIMM_C1", "CPU0_DIMM_D1"}
	})
	h := newHandler(t, p)
	d := getJSON(t, h, domainURI)
	if d["AllowsMirroring"] != false || !strings.Contains(d["Description"].(string), "Mirroring was requested but not applied") ||
		d["MemorySizeMiB"] != 3*32*1024.0 {
		t.Fatalf("domain %v", d)
	}
	if got := summary(t, h); got != [3]any{96.0, "None", "OK"} {
		t.Fatalf("MemorySummary %v", got)
	}
	// A changed setting is announced and shown until the next boot.
	sse := newSSERecorder(t, h)
	if err := p.SetRASMode("RankSparing"); err != nil {
		t.Fatal(err)
	}
	sse.expect(t, eventWant{oemID("RASModePending"), domainURI})
	if d := getJSON(t, h, domainURI); !strings.Contains(d["Description"].(string), "RankSparing takes effect at the next boot") || d["AllowsSparing"] != false {
		t.Fatalf("domain after SetRASMode %v", d)
	}
}

// Mirrored hot-add: half a pair waits (no chunk, no capacity); the matched
// partner makes a new mirrored chunk whose memory the OS then counts.
func TestMemoryDomainsMirroredHotAdd(t *testing.T) {
	v := schemacheck.NewForTest(t)
	p := newProfilePlatform(t, "mirror", nil)
	h := newHandlerCfg(t, p, Config{})
	sse := newSSERecorder(t, h)
	hotAdd := func(slot string, gib int) {
		t.Helper()
		if err := p.PressAttention(slot); err != nil {
			t.Fatal(err)
		}
		settle(t, p)
		seat(t, p, slot, gib, 2)
	}
	hotAdd("CPU0_DIMM_E2", 64)
	sse.expect(t, eventWant{oemID("AwaitingPartner"), memURI("CPU0_DIMM_E2")})
	if got := memoryState(t, h, "CPU0_DIMM_E2"); got != [2]any{"Starting", "OK"} {
		t.Fatalf("held half %v", got)
	}
	if got := summary(t, h); got != [3]any{128.0, "System", "OK"} {
		t.Fatalf("MemorySummary with half a pair %v", got)
	}
	if ids := memberIDs(t, h, chunksURI); len(ids) != 4 {
		t.Fatalf("chunks with half a pair %v", ids)
	}
	hotAdd("CPU0_DIMM_F2", 64)
	if got := summary(t, h); got != [3]any{192.0, "System", "OK"} {
		t.Fatalf("MemorySummary with the pair %v", got)
	}
	res := crawlMemory(t, v, h)
	ids := memberIDs(t, h, chunksURI)
	if len(ids) != 5 {
		t.Fatalf("chunks %v", ids)
	}
	c := res[ids[4]]
	if c["IsMirrorEnabled"] != true || c["MemoryChunkSizeMiB"] != 65536.0 ||
		strings.Join(setMembers(t, c), " ") != memURI("CPU0_DIMM_E2")+" "+memURI("CPU0_DIMM_F2") {
		t.Fatalf("new pair's chunk %v", c)
	}
	if d := res[domainURI]; d["MemorySizeMiB"] != 192*1024.0 {
		t.Fatalf("domain %v", d)
	}
}

// While the hardware re-silvers a pair, its chunk reads Updating, with the
// progress in the description; Enabled again once the copy completes.
func TestMemoryChunkUpdatingDuringResilver(t *testing.T) {
	p := newProfilePlatform(t, "mirror", nil)
	h := newHandler(t, p)
	if err := p.InjectMemoryError("CPU0_DIMM_C1", 0, false); err != nil {
		t.Fatal(err)
	}
	pull(t, p, "CPU0_DIMM_C1")
	img, err := spd.Encode(p.NewModuleSpec("CPU0_DIMM_C1", spd.Spec{CapacityGiB: 32, Ranks: 2}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Insert("CPU0_DIMM_C1", img); err != nil {
		t.Fatal(err)
	}
	clk := clockOf(t, p)
	for p.Snapshot().RAS.Job == nil {
		clk.Advance(50 * time.Millisecond)
	}
	c := getJSON(t, h, chunksURI+"/Mirror1")
	if st := path(t, c, "Status", "State"); st != "Updating" || !strings.Contains(c["Description"].(string), "resilver onto CPU0_DIMM_C1") {
		t.Fatalf("chunk during re-silver %v", c)
	}
	settle(t, p)
	if st := path(t, getJSON(t, h, chunksURI+"/Mirror1"), "Status", "State"); st != "Enabled" {
		t.Fatalf("chunk after re-silver: %v", st)
	}
}

// Address-range mirroring: DIMM-level mirroring of each socket's first
// channel pair, one mirrored chunk per pair, the net capacity, and valid
// payloads.
func TestMemoryDomainsAddressRangeMirror(t *testing.T) {
	v := schemacheck.NewForTest(t)
	p := newProfilePlatform(t, "rangemirror", nil)
	h := newHandler(t, p)
	if got := summary(t, h); got != [3]any{448.0, "DIMM", "OK"} {
		t.Fatalf("MemorySummary %v", got)
	}
	d := getJSON(t, h, memoryDomainsPath()+"/SystemMemory")
	if d["AllowsMirroring"] != true || d["AllowsSparing"] != false {
		t.Fatalf("domain %v", d)
	}
	for _, id := range []string{"Mirror0", "Mirror1"} {
		c := getJSON(t, h, chunksURI+"/"+id)
		if c["IsMirrorEnabled"] != true || c["MemoryChunkSizeMiB"] != 32768.0 {
			t.Fatalf("chunk %s %v", id, c)
		}
	}
	crawlMemory(t, v, h)
}

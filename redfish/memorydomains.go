package redfish

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/ras"
)

// The server's memory as Redfish memory domains and chunks: one domain for
// the whole system, because the protection mode is one firmware setting
// applied to every socket (AllowsMirroring/AllowsSparing are a property of
// the mode, not of a socket), because a RAID5 array's cartridges are
// memory controllers that need not share a socket, and so that the
// domain's size is exactly MemorySummary.TotalSystemMemoryGiB. The
// per-socket interleaving shows up inside it, as InterleavableMemorySets
// and as one chunk per interleave set. Chunks are what the firmware built
// at boot (plus hot-added modules): one per redundant set (mirror pair,
// spared channel, RAID5 array), and one per plain ECC interleave set.

const (
	typeMemoryDomainCollection = "#MemoryDomainCollection.MemoryDomainCollection"
	typeMemoryDomain           = "#MemoryDomain.v1_5_1.MemoryDomain"
	typeMemoryChunksCollection = "#MemoryChunksCollection.MemoryChunksCollection"
	typeMemoryChunks           = "#MemoryChunks.v1_6_2.MemoryChunks"

	memoryDomainID = "SystemMemory"
)

func memoryDomainsPath() string        { return systemPath() + "/MemoryDomains" }
func memoryDomainPath() string         { return memoryDomainsPath() + "/" + memoryDomainID }
func memoryChunksPath() string         { return memoryDomainPath() + "/MemoryChunks" }
func memoryChunkPath(id string) string { return memoryChunksPath() + "/" + id }

// addressDecoder is the platform's firmware address decoder (TAD): which
// modules each system address range is interleaved over.
type addressDecoder interface {
	TAD() *firmware.TAD
}

type memoryDomain struct {
	odata
	ID                        string      `json:"Id"`
	Name                      string      `json:"Name"`
	Description               string      `json:"Description"`
	AllowsMirroring           bool        `json:"AllowsMirroring"`
	AllowsSparing             bool        `json:"AllowsSparing"`
	AllowsBlockProvisioning   bool        `json:"AllowsBlockProvisioning"`
	AllowsMemoryChunkCreation bool        `json:"AllowsMemoryChunkCreation"`
	InterleavableMemorySets   []memorySet `json:"InterleavableMemorySets"`
	MemorySizeMiB             uint64      `json:"MemorySizeMiB"`
	MemoryChunks              link        `json:"MemoryChunks"`
	Status                    status      `json:"Status"`
}

type memorySet struct {
	MemorySet []link `json:"MemorySet"`
}

type memoryChunk struct {
	odata
	ID                    string          `json:"Id"`
	Name                  string          `json:"Name"`
	Description           string          `json:"Description"`
	MemoryChunkSizeMiB    uint64          `json:"MemoryChunkSizeMiB"`
	AddressRangeType      string          `json:"AddressRangeType"`
	AddressRangeOffsetMiB *uint64         `json:"AddressRangeOffsetMiB,omitempty"`
	IsMirrorEnabled       bool            `json:"IsMirrorEnabled"`
	IsSpare               bool            `json:"IsSpare"`
	InterleaveSets        []interleaveSet `json:"InterleaveSets"`
	Status                status          `json:"Status"`
}

type interleaveSet struct {
	Memory    link    `json:"Memory"`
	OffsetMiB *uint64 `json:"OffsetMiB,omitempty"`
	SizeMiB   *uint64 `json:"SizeMiB,omitempty"`
}

// usableBytes is the memory the OS was given, net of mirror copies, spare
// ranks and parity: each redundant set counts for what it provides (also
// while degraded: the OS keeps its memory through a failover), every
// other module for its memory in service.
func usableBytes(snap *platform.Snapshot) uint64 {
	// A set serves memory while one of its modules does: not before a
	// hot-added pair's memory is online, still after a failover.
	serving := func(name string) bool {
		sl, ok := snap.Slot(name)
		return ok && sl.Module != nil && (sl.State == platform.StateEnabled || sl.State == platform.StateOffline)
	}
	inSet := map[string]bool{}
	var b uint64
	for _, set := range snap.RAS.Sets {
		if slices.ContainsFunc(set.Slots, serving) {
			b += set.UsableBytes
		}
		for _, s := range set.Slots {
			inSet[s] = true
		}
	}
	for _, sl := range snap.Slots {
		if sl.Module == nil || inSet[sl.Name] {
			continue
		}
		// A module counts once its memory is online, a hot-added one only
		// for its online blocks, and nothing while it is still starting or
		// has failed.
		switch {
		case sl.State == platform.StateEnabled:
			b += sl.Module.SPD.CapacityMiB << 20
		case sl.State == platform.StateOffline && sl.Memory != nil:
			b += sl.Memory.OnlineBytes
		}
	}
	return b
}

// redundancyHealth maps a redundancy state onto Health: a set that lost
// (some of) its redundancy still serves its data (Warning); one that lost
// data is Critical.
func redundancyHealth(state string) string {
	switch state {
	case events.RedundancyDegraded, events.RedundancyLost:
		return "Warning"
	case events.NonRedundant:
		return "Critical"
	}
	return "OK"
}

// memoryProtection describes the mode in effect, and why the requested
// one was not applied.
func memoryProtection(r platform.RASStatus) string {
	d := "Memory protection: " + r.Mode
	if r.ConfigError != "" {
		d += fmt.Sprintf(" (%s was requested but not applied: %s)", r.Requested, r.ConfigError)
	}
	if r.NextBoot != "" && r.NextBoot != r.Requested {
		d += fmt.Sprintf("; %s takes effect at the next boot", r.NextBoot)
	}
	return d
}

func (s *service) getMemoryDomains(r *request) (any, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	return newCollection(memoryDomainsPath(), typeMemoryDomainCollection, "Memory Domain Collection", links(memoryDomainPath())), nil
}

func lookupMemoryDomain(r *request) error {
	if err := lookupSystem(r); err != nil {
		return err
	}
	if id := r.param("domain"); id != memoryDomainID {
		return errResourceNotFound("MemoryDomain", id)
	}
	return nil
}

func (s *service) getMemoryDomain(r *request) (any, error) {
	if err := lookupMemoryDomain(r); err != nil {
		return nil, err
	}
	rs := r.snap.RAS
	health := redundancyHealth(rs.Redundancy)
	return memoryDomain{
		odata:       odata{ID: memoryDomainPath(), Type: typeMemoryDomain},
		ID:          memoryDomainID,
		Name:        "System Memory Domain",
		Description: memoryProtection(rs),
		// What the mode in effect provides, not what the platform could
		// be configured for: a refused request provides nothing.
		AllowsMirroring: rs.Mode == string(ras.Mirroring) || rs.Mode == string(ras.AddressRangeMirror),
		AllowsSparing:   rs.Mode == string(ras.RankSparing),
		// Chunks are fixed by the firmware at boot; clients cannot carve
		// new ones.
		AllowsBlockProvisioning:   false,
		AllowsMemoryChunkCreation: false,
		InterleavableMemorySets:   interleavableSets(r.snap, s.tad()),
		MemorySizeMiB:             usableBytes(r.snap) >> 20,
		MemoryChunks:              link{ID: memoryChunksPath()},
		Status:                    status{State: "Enabled", Health: health, HealthRollup: health},
	}, nil
}

// tad is the platform's address decoder, nil when it has none.
func (s *service) tad() *firmware.TAD {
	if d, ok := s.platform.(addressDecoder); ok {
		return d.TAD()
	}
	return nil
}

// interleavableSets lists the modules interleaved together: each distinct
// target list of the address decoder, widened by the redundant sets its
// modules belong to (a mirror's secondary holds the same stripes as its
// primary; a RAID5 array stripes over every cartridge), and every
// redundant set the decoder does not name.
func interleavableSets(snap *platform.Snapshot, tad *firmware.TAD) []memorySet {
	setOf := map[string]*ras.SetStatus{}
	for i := range snap.RAS.Sets {
		for _, sl := range snap.RAS.Sets[i].Slots {
			setOf[sl] = &snap.RAS.Sets[i]
		}
	}
	covered := map[string]bool{}
	seen := map[string]bool{}
	var out []memorySet
	add := func(slots []string) {
		key := strings.Join(slots, ",")
		if len(slots) == 0 || seen[key] {
			return
		}
		seen[key] = true
		ms := memorySet{MemorySet: make([]link, len(slots))}
		for i, sl := range slots {
			ms.MemorySet[i] = link{ID: memoryPath(sl)}
		}
		out = append(out, ms)
	}
	if tad != nil {
		for _, rule := range tad.Rules {
			var slots []string
			for _, t := range rule.Targets {
				members := []string{t}
				if set := setOf[t]; set != nil {
					members = set.Slots
					covered[set.ID] = true
				}
				for _, m := range members {
					if !slices.Contains(slots, m) {
						slots = append(slots, m)
					}
				}
			}
			add(slots)
		}
	}
	for _, set := range snap.RAS.Sets {
		if !covered[set.ID] {
			add(set.Slots)
		}
	}
	if out == nil {
		out = []memorySet{}
	}
	return out
}

// memoryChunks builds the domain's chunks from the RAS sets and the
// address decoder.
func memoryChunks(snap *platform.Snapshot, tad *firmware.TAD) []memoryChunk {
	var out []memoryChunk
	inSet := map[string]bool{}
	for _, set := range snap.RAS.Sets {
		for _, sl := range set.Slots {
			inSet[sl] = true
		}
		out = append(out, setChunk(snap, set))
	}
	if tad != nil {
		out = append(out, eccChunks(snap, tad, inSet)...)
	}
	return out
}

// setChunk is a redundant set's chunk: what it gives the OS, over which
// modules, and how redundant it still is.
func setChunk(snap *platform.Snapshot, set ras.SetStatus) memoryChunk {
	c := memoryChunk{
		odata:              odata{ID: memoryChunkPath(set.ID), Type: typeMemoryChunks},
		ID:                 set.ID,
		Name:               set.Name,
		Description:        fmt.Sprintf("%s: %s", set.Name, set.State),
		MemoryChunkSizeMiB: set.UsableBytes >> 20,
		AddressRangeType:   "Volatile",
		IsMirrorEnabled:    set.Kind == string(ras.Mirroring),
		IsSpare:            set.Kind == string(ras.RankSparing),
		InterleaveSets:     make([]interleaveSet, len(set.Slots)),
		Status:             status{State: "Enabled", Health: redundancyHealth(set.State)},
	}
	if j := snap.RAS.Job; j != nil && j.Set == set.ID {
		c.Description += fmt.Sprintf("; %s onto %s %d%%", j.Kind, j.Slot, j.Percent)
		// The hardware is rewriting the set's contents: Resource
		// State "Updating" is the closest standard word for it.
		c.Status.State = "Updating"
	}
	for i, sl := range set.Slots {
		c.InterleaveSets[i] = interleaveSet{Memory: link{ID: memoryPath(sl)}}
	}
	return c
}

// eccChunks are the plain (AdvancedECC) interleave sets: one chunk per
// distinct target list of the decoder over modules no redundant set holds,
// its ranges summed, named after its first module and its ways.
func eccChunks(snap *platform.Snapshot, tad *firmware.TAD, inSet map[string]bool) []memoryChunk {
	type group struct {
		targets []string
		lost    []string // ways whose module was pulled without an eject
		base    uint64
		length  uint64
		offset  uint64
	}
	var order []string
	groups := map[string]*group{}
	for _, rule := range tad.Rules {
		if len(rule.Targets) == 0 || slices.ContainsFunc(rule.Targets, func(t string) bool { return inSet[t] }) {
			continue
		}
		// A set whose every way was lost provides nothing: no chunk (a
		// new module in the slot is a chunk of its own).
		if len(rule.Lost) == len(rule.Targets) {
			continue
		}
		key := strings.Join(rule.Targets, ",") + "|" + strings.Join(rule.Lost, ",")
		g := groups[key]
		if g == nil {
			g = &group{targets: rule.Targets, lost: rule.Lost, base: rule.Base, offset: rule.TargetOffset}
			groups[key] = g
			order = append(order, key)
		}
		g.length += rule.Length
	}
	out := make([]memoryChunk, 0, len(order))
	for _, key := range order {
		g := groups[key]
		ways := uint64(len(g.targets))
		id := fmt.Sprintf("%s_x%d", g.targets[0], ways)
		// A surprise-removed member's ways stay in the decode, reaching
		// no module: the chunk keeps its place and identity but provides
		// only its remaining members' memory, and has lost data.
		c := memoryChunk{
			odata:                 odata{ID: memoryChunkPath(id), Type: typeMemoryChunks},
			ID:                    id,
			Name:                  fmt.Sprintf("%d-way interleave set of %s", ways, g.targets[0]),
			Description:           "Memory protected by ECC only, interleaved by the firmware's address decoder",
			MemoryChunkSizeMiB:    g.length / ways * (ways - uint64(len(g.lost))) >> 20,
			AddressRangeType:      "Volatile",
			AddressRangeOffsetMiB: ptr(g.base >> 20),
			InterleaveSets:        make([]interleaveSet, 0, len(g.targets)),
			Status:                status{State: "Enabled", Health: "OK"},
		}
		if len(g.lost) > 0 {
			c.Description += fmt.Sprintf("; %s removed without an eject: its share of the set reaches no module until reboot and its data is lost",
				strings.Join(g.lost, ", "))
			c.Status.Health = "Critical"
		}
		for _, t := range g.targets {
			if slices.Contains(g.lost, t) {
				continue
			}
			c.InterleaveSets = append(c.InterleaveSets, interleaveSet{Memory: link{ID: memoryPath(t)}, OffsetMiB: ptr(g.offset >> 20), SizeMiB: ptr(g.length / ways >> 20)})
			// The chunk is as healthy as its sickest module.
			if sl, ok := snap.Slot(t); ok {
				c.Status.Health = worseHealth(c.Status.Health, memoryStatus(sl).Health)
			}
		}
		out = append(out, c)
	}
	return out
}

func worseHealth(a, b string) string {
	rank := map[string]int{"OK": 0, "Warning": 1, "Critical": 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

func (s *service) getMemoryChunksCollection(r *request) (any, error) {
	if err := lookupMemoryDomain(r); err != nil {
		return nil, err
	}
	chunks := memoryChunks(r.snap, s.tad())
	members := make([]link, len(chunks))
	for i, c := range chunks {
		members[i] = link{ID: c.odata.ID}
	}
	return newCollection(memoryChunksPath(), typeMemoryChunksCollection, "Memory Chunks Collection", members), nil
}

func (s *service) getMemoryChunk(r *request) (any, error) {
	if err := lookupMemoryDomain(r); err != nil {
		return nil, err
	}
	id := r.param("chunk")
	for _, c := range memoryChunks(r.snap, s.tad()) {
		if c.ID == id {
			return c, nil
		}
	}
	return nil, errResourceNotFound("MemoryChunks", id)
}

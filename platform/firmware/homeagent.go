package firmware

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
)

// The home agents (seed item 15): each socket's home agent (Intel's CHA,
// AMD's coherent station) owns the coherence of the system addresses its
// memory controllers decode, tracked in a snoop filter directory. When the
// firmware commits a new Target Address Decoder table, every home agent
// registers the ranges it now homes and drops the ones it no longer does,
// so hot-added memory is coherent before the OS hears of it. A core's
// access to a line of the socket's address space that is not registered
// (a hot-plug reservation not yet decoded, or just ejected) is answered by
// the probe filter as a clean fill: zeros, no DRAM access and no snoop, so
// a speculative or stray access cannot race the hot-plug. Registered lines
// are read from the module the TAD decodes them to.
//
// This is hardware, below any OS: the home agents follow the TAD (AddressMap.swap)
// and keep their own counters and a bounded trace, as an uncore PMU and
// its trace would.

// ErrNotHomed: the address is outside every socket's DRAM space (an MMIO
// hole or beyond the map): no home agent answers it.
var ErrNotHomed = errors.New("firmware: no home agent homes this address")

// CacheLine is the coherence granule.
const CacheLine = 64

// traceLen bounds the home agents' trace.
const traceLen = 256

// HomeAgentTrace is one trace event: "sf_register", "sf_unregister" or
// "clean_fill".
type HomeAgentTrace struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Socket int       `json:"socket"`
	Event  string    `json:"event"`
	Range  Range     `json:"range"` // the range registered, or the line filled
	// Generation is the TAD generation a registration follows.
	Generation uint64 `json:"generation,omitempty"`
}

// HomeAgent is one socket's home agent as its counters show it.
type HomeAgent struct {
	Socket int `json:"socket"`
	// Directory is the address space registered in the snoop filter.
	Directory []Range `json:"directory"`
	// Space is what the socket homes: its boot memory and its hot-plug
	// reservation.
	Space []Range `json:"space"`
	// Counters.
	DirectoryLookups uint64 `json:"directory_lookups"`
	MemoryReads      uint64 `json:"memory_reads"`
	CleanFills       uint64 `json:"clean_fills"`
	Registrations    uint64 `json:"registrations"`
	Unregistrations  uint64 `json:"unregistrations"`
}

// LineAccess is how a home agent answered a core's read of a line.
type LineAccess struct {
	Address uint64 `json:"address"` // the line's first byte
	Socket  int    `json:"socket"`
	// Response is "memory-read" (registered: read from Slot at Offset) or
	// "clean-fill" (not registered: zeros, no DRAM access).
	Response string `json:"response"`
	Slot     string `json:"slot,omitempty"`
	Offset   uint64 `json:"offset,omitempty"`
	// Lost: the line is registered but its way's module was pulled
	// without an eject: no module answers (the machine check path).
	Lost bool `json:"lost,omitempty"`
}

// HomeAgents are the sockets' home agents. Safe for concurrent use; they
// need no firmware lock, holding the TAD they last registered.
type HomeAgents struct {
	mu     sync.Mutex
	clk    clock.Clock
	agents []HomeAgent
	tad    *TAD
	trace  []HomeAgentTrace // ring, oldest first
	seq    uint64
}

func newHomeAgents(l *Layout, sockets int, clk clock.Clock) *HomeAgents {
	h := &HomeAgents{clk: clk, agents: make([]HomeAgent, sockets)}
	for s := range h.agents {
		h.agents[s].Socket = s
		if s < len(l.Boot) {
			h.agents[s].Space = append(h.agents[s].Space, l.Boot[s]...)
		}
		if s < len(l.Reserve) {
			h.agents[s].Space = append(h.agents[s].Space, l.Reserve[s]...)
		}
		h.agents[s].Space = mergeRanges(h.agents[s].Space)
	}
	return h
}

// mergeRanges sorts rs and joins touching ranges.
func mergeRanges(rs []Range) []Range {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b Range) int {
		if a.Base < b.Base {
			return -1
		}
		if a.Base > b.Base {
			return 1
		}
		return 0
	})
	var out []Range
	for _, r := range rs {
		if r.Length == 0 {
			continue
		}
		if n := len(out); n > 0 && out[n-1].End() >= r.Base {
			out[n-1].Length = max(out[n-1].End(), r.End()) - out[n-1].Base
			continue
		}
		out = append(out, r)
	}
	return out
}

// subtract returns the parts of a not in b (both merged and sorted).
func subtract(a, b []Range) []Range {
	var out []Range
	for _, r := range a {
		p := r.Base
		for _, x := range b {
			if x.End() <= p || x.Base >= r.End() {
				continue
			}
			if x.Base > p {
				out = append(out, Range{p, x.Base - p})
			}
			p = max(p, x.End())
		}
		if p < r.End() {
			out = append(out, Range{p, r.End() - p})
		}
	}
	return out
}

func (h *HomeAgents) now() time.Time {
	if h.clk == nil {
		return time.Time{}
	}
	return h.clk.Now()
}

func (h *HomeAgents) record(ev HomeAgentTrace) {
	h.seq++
	ev.Seq, ev.Time = h.seq, h.now()
	if len(h.trace) == traceLen {
		h.trace = slices.Delete(h.trace, 0, 1)
	}
	h.trace = append(h.trace, ev)
}

// sync registers what t decodes on each socket and drops what it no
// longer decodes.
func (h *HomeAgents) sync(t *TAD) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tad = t
	per := make([][]Range, len(h.agents))
	for _, r := range t.Rules {
		if r.Socket >= 0 && r.Socket < len(per) {
			per[r.Socket] = append(per[r.Socket], r.Range)
		}
	}
	for s := range h.agents {
		a := &h.agents[s]
		next := mergeRanges(per[s])
		for _, r := range subtract(next, a.Directory) {
			a.Registrations++
			h.record(HomeAgentTrace{Socket: s, Event: "sf_register", Range: r, Generation: t.Generation})
		}
		for _, r := range subtract(a.Directory, next) {
			a.Unregistrations++
			h.record(HomeAgentTrace{Socket: s, Event: "sf_unregister", Range: r, Generation: t.Generation})
		}
		a.Directory = next
	}
}

func inRanges(rs []Range, addr uint64) bool {
	for _, r := range rs {
		if addr >= r.Base && addr < r.End() {
			return true
		}
	}
	return false
}

// Access is a core's read of the line holding addr, as the socket that
// homes it answers: a directory lookup, then a read from the module the
// TAD decodes it to, or a clean fill when the line is not registered.
func (h *HomeAgents) Access(addr uint64) (LineAccess, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	line := addr &^ (CacheLine - 1)
	for s := range h.agents {
		a := &h.agents[s]
		if !inRanges(a.Space, line) {
			continue
		}
		a.DirectoryLookups++
		res := LineAccess{Address: line, Socket: s}
		if !inRanges(a.Directory, line) {
			a.CleanFills++
			res.Response = "clean-fill"
			h.record(HomeAgentTrace{Socket: s, Event: "clean_fill", Range: Range{line, CacheLine}})
			return res, nil
		}
		a.MemoryReads++
		res.Response = "memory-read"
		slot, off, ok := h.tad.Decode(line)
		res.Slot, res.Offset, res.Lost = slot, off, !ok
		return res, nil
	}
	return LineAccess{}, fmt.Errorf("%w: %#x is not in any socket's memory or hot-plug reservation", ErrNotHomed, addr)
}

// Agents reports each socket's home agent.
func (h *HomeAgents) Agents() []HomeAgent {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := slices.Clone(h.agents)
	for i := range out {
		out[i].Directory = slices.Clone(out[i].Directory)
		out[i].Space = slices.Clone(out[i].Space)
	}
	return out
}

// Trace returns the trace events with Seq > since.
func (h *HomeAgents) Trace(since uint64) []HomeAgentTrace {
	h.mu.Lock()
	defer h.mu.Unlock()
	i, _ := slices.BinarySearchFunc(h.trace, since+1, func(e HomeAgentTrace, s uint64) int {
		if e.Seq < s {
			return -1
		}
		if e.Seq > s {
			return 1
		}
		return 0
	})
	return slices.Clone(h.trace[i:])
}

// FormatHomeAgents prints the agents and trace for a terminal.
func FormatHomeAgents(agents []HomeAgent, trace []HomeAgentTrace) string {
	var b strings.Builder
	for _, a := range agents {
		fmt.Fprintf(&b, "socket %d home agent: lookups %d, memory reads %d, clean fills %d, registrations %d, unregistrations %d\n",
			a.Socket, a.DirectoryLookups, a.MemoryReads, a.CleanFills, a.Registrations, a.Unregistrations)
		for _, r := range a.Directory {
			fmt.Fprintf(&b, "  snoop filter directory %s\n", r)
		}
	}
	if len(trace) > 0 {
		b.WriteString("trace:\n")
	}
	for _, e := range trace {
		fmt.Fprintf(&b, "  %6d %s socket %d %-13s %s", e.Seq, e.Time.Format(time.RFC3339Nano), e.Socket, e.Event, e.Range)
		if e.Generation != 0 {
			fmt.Fprintf(&b, " (TAD generation %d)", e.Generation)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/kernel"
)

// HotPlug is the rest of the physical world and the in-band OS view; a
// Platform that also implements it gets the routes beyond seat/pull.
type HotPlug interface {
	PressAttention(slot string) error
	OpenLatch(slot string) error
	CloseLatch(slot string) error
	ArmFault(slot, kind string) error
	ClearFault(slot, kind string) error
	EventsSince(ctx context.Context, since uint64, max int, wait time.Duration) platform.EventPage
	LastEventSeq() uint64
	Blocks() []kernel.Block
	Block(id int) (kernel.Block, bool)
	BlockSizeBytes() uint64
	OnlineBlock(id int, t kernel.OnlineType) error
	OfflineBlock(id int) error
	Meminfo() kernel.Meminfo
	DirectMap() kernel.DirectMap
	Vmstat() kernel.Vmstat
	Iomem() []kernel.Resource
	IomemText() string
	Nodes() []kernel.Node
	Dmesg(since uint64) []kernel.LogLine
	SRATText() string
	SRAT() *firmware.SRAT
	HMATText() string
	EFIMemoryMap() []firmware.EFIDescriptor
	EFIMemoryMapText() string
	MemmapParams() []string
	MemoryMap() platform.MemoryMap
	MemoryDevices() []firmware.Device
}

// LatchRequest opens or closes a slot's latch.
type LatchRequest struct {
	Open *bool `json:"open" validate:"required"`
}

// BlockStateRequest is what one writes to memoryN/state.
type BlockStateRequest struct {
	State kernel.OnlineType `json:"state" validate:"required,oneof=online online_kernel online_movable offline"`
}

// FaultKind is one injectable fault.
type FaultKind = platform.FaultKind

// EventRecord is one record of the platform's event stream.
type EventRecord struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	// Slot is the slot the event concerns, when it names one.
	Slot  string          `json:"slot,omitempty"`
	Event json.RawMessage `json:"event"`
}

// EventPage is the answer of GET /events.
type EventPage struct {
	Records []EventRecord `json:"records"`
	// Truncated: records after "since" fell out of the bounded ring.
	Truncated bool `json:"truncated"`
	// LastSeq is the newest record's sequence number; poll again with
	// since = the last returned record's seq (or LastSeq when none came).
	LastSeq uint64 `json:"last_seq"`
}

// DmesgLine is one kernel log line.
type DmesgLine struct {
	kernel.LogLine
	Line string `json:"line"` // as dmesg prints it
}

// Blocks is the answer of GET /os/blocks.
type Blocks struct {
	BlockSizeBytes uint64         `json:"block_size_bytes"`
	Blocks         []kernel.Block `json:"blocks"`
}

// DirectMap is the answer of GET /os/directmap.
type DirectMap struct {
	kernel.DirectMap
	Text string `json:"text"`
}

// Vmstat is the answer of GET /os/vmstat.
type Vmstat struct {
	kernel.Vmstat
	Text string `json:"text"`
}

// Iomem is the answer of GET /os/iomem.
type Iomem struct {
	Resources []kernel.Resource `json:"resources"`
	Text      string            `json:"text"`
}

// ACPITable is a disassembled ACPI table.
type ACPITable struct {
	Signature string `json:"signature"`
	Text      string `json:"text"`
	Table     any    `json:"table,omitempty"`
}

// Memmap is the answer of GET /firmware/memmap.
type Memmap struct {
	EFI          []firmware.EFIDescriptor `json:"efi"`
	Text         string                   `json:"text"`
	MemmapParams []string                 `json:"memmap_params"`
	// Map is the firmware's memory map per socket: boot ranges, interleave
	// sets now, the hot-plug reservation and what is free of it.
	Map     platform.MemoryMap `json:"map"`
	MapText string             `json:"map_text"`
}

var _ HotPlug = (*platform.Platform)(nil)

// maxWait bounds a long-poll.
const maxWait = 60 * time.Second

func (s *server) hotplugRoutes(g *gin.RouterGroup, hp HotPlug) {
	s.hp = hp
	g.POST("/slots/:slot/attention", s.attention)
	g.PUT("/slots/:slot/latch", s.latch)
	g.GET("/faults", s.faultKinds)
	g.PUT("/slots/:slot/faults/:kind", s.armFault)
	g.DELETE("/slots/:slot/faults/:kind", s.clearFault)
	g.GET("/events", s.events)
	g.GET("/os/dmesg", s.dmesg)
	g.GET("/os/blocks", s.blocks)
	g.GET("/os/blocks/:id", s.block)
	g.PUT("/os/blocks/:id/state", s.blockState)
	g.GET("/os/meminfo", func(c *gin.Context) { c.JSON(http.StatusOK, s.hp.Meminfo()) })
	g.GET("/os/directmap", func(c *gin.Context) {
		d := s.hp.DirectMap()
		c.JSON(http.StatusOK, DirectMap{DirectMap: d, Text: d.String()})
	})
	g.GET("/os/vmstat", func(c *gin.Context) {
		v := s.hp.Vmstat()
		c.JSON(http.StatusOK, Vmstat{Vmstat: v, Text: v.String()})
	})
	g.GET("/os/iomem", func(c *gin.Context) {
		c.JSON(http.StatusOK, Iomem{Resources: s.hp.Iomem(), Text: s.hp.IomemText()})
	})
	g.GET("/os/nodes", func(c *gin.Context) { c.JSON(http.StatusOK, s.hp.Nodes()) })
	g.GET("/firmware/acpi/srat", func(c *gin.Context) {
		c.JSON(http.StatusOK, ACPITable{Signature: "SRAT", Text: s.hp.SRATText(), Table: s.hp.SRAT()})
	})
	g.GET("/firmware/acpi/hmat", func(c *gin.Context) {
		c.JSON(http.StatusOK, ACPITable{Signature: "HMAT", Text: s.hp.HMATText()})
	})
	g.GET("/firmware/memmap", func(c *gin.Context) {
		mm := s.hp.MemoryMap()
		c.JSON(http.StatusOK, Memmap{EFI: s.hp.EFIMemoryMap(), Text: s.hp.EFIMemoryMapText(), MemmapParams: s.hp.MemmapParams(),
			Map: mm, MapText: mm.Text()})
	})
	g.GET("/firmware/devices", func(c *gin.Context) { c.JSON(http.StatusOK, s.hp.MemoryDevices()) })
}

func (s *server) slotAfter(c *gin.Context, slot string, status int) {
	sl, _ := s.p.Snapshot().Slot(slot)
	c.JSON(status, slotView(sl))
}

func (s *server) attention(c *gin.Context) {
	slot := c.Param("slot")
	if err := s.hp.PressAttention(slot); err != nil {
		s.platformError(c, err)
		return
	}
	s.log.Info("attention button pressed", "slot", slot)
	s.slotAfter(c, slot, http.StatusOK)
}

// decodeBody reads a strict JSON body into v and validates it.
func (s *server) decodeBody(c *gin.Context, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	if err != nil {
		s.fail(c, http.StatusRequestEntityTooLarge, "BodyTooLarge", fmt.Sprintf("request body exceeds %d bytes", maxBody))
		return false
	}
	if msg := DecodeStrict(body, v); msg != "" {
		s.fail(c, http.StatusBadRequest, "MalformedRequest", msg)
		return false
	}
	return s.validBody(c, v)
}

func (s *server) latch(c *gin.Context) {
	slot := c.Param("slot")
	var req LatchRequest
	if !s.decodeBody(c, &req) {
		return
	}
	var err error
	if *req.Open {
		err = s.hp.OpenLatch(slot)
	} else {
		err = s.hp.CloseLatch(slot)
	}
	if err != nil {
		s.platformError(c, err)
		return
	}
	s.slotAfter(c, slot, http.StatusOK)
}

func (s *server) faultKinds(c *gin.Context) { c.JSON(http.StatusOK, platform.FaultKinds()) }

func (s *server) armFault(c *gin.Context) {
	slot, kind := c.Param("slot"), c.Param("kind")
	if err := s.hp.ArmFault(slot, kind); err != nil {
		s.platformError(c, err)
		return
	}
	s.log.Info("fault armed", "slot", slot, "kind", kind)
	s.slotAfter(c, slot, http.StatusOK)
}

func (s *server) clearFault(c *gin.Context) {
	slot, kind := c.Param("slot"), c.Param("kind")
	if err := s.hp.ClearFault(slot, kind); err != nil {
		s.platformError(c, err)
		return
	}
	s.slotAfter(c, slot, http.StatusOK)
}

func queryUint(c *gin.Context, name string, def uint64) (uint64, bool) {
	v := c.Query(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

func (s *server) events(c *gin.Context) {
	since, ok1 := queryUint(c, "since", 0)
	max, ok2 := queryUint(c, "max", 1000)
	waitS, err := strconv.ParseFloat(c.DefaultQuery("wait", "0"), 64)
	if !ok1 || !ok2 || err != nil || waitS < 0 {
		s.fail(c, http.StatusBadRequest, "InvalidValue", "since and max must be unsigned integers, wait a non-negative number of seconds")
		return
	}
	wait := min(time.Duration(waitS*float64(time.Second)), maxWait)
	page := s.hp.EventsSince(c.Request.Context(), since, int(min(max, 10000)), wait)
	out := EventPage{Records: make([]EventRecord, 0, len(page.Records)), Truncated: page.Truncated, LastSeq: page.LastSeq}
	for _, r := range page.Records {
		out.Records = append(out.Records, RecordOf(r))
	}
	c.JSON(http.StatusOK, out)
}

// RecordOf is a platform event record as the API shows it.
func RecordOf(r events.Record) EventRecord {
	b, err := json.Marshal(r.Event)
	if err != nil {
		b = []byte(`{}`)
	}
	return EventRecord{Seq: r.Seq, Time: r.Time, Kind: r.Event.Kind(), Slot: events.SlotOf(r.Event), Event: b}
}

func (s *server) dmesg(c *gin.Context) {
	since, ok := queryUint(c, "since", 0)
	if !ok {
		s.fail(c, http.StatusBadRequest, "InvalidValue", "since must be an unsigned integer")
		return
	}
	lines := s.hp.Dmesg(since)
	out := make([]DmesgLine, len(lines))
	for i, l := range lines {
		out[i] = DmesgLine{LogLine: l, Line: l.String()}
	}
	c.JSON(http.StatusOK, out)
}

func (s *server) blocks(c *gin.Context) {
	c.JSON(http.StatusOK, Blocks{BlockSizeBytes: s.hp.BlockSizeBytes(), Blocks: s.hp.Blocks()})
}

func (s *server) blockID(c *gin.Context) (int, bool) {
	id, err := strconv.Atoi(c.Param("id"))
	if err != nil || id < 0 {
		s.fail(c, http.StatusBadRequest, "InvalidValue", fmt.Sprintf("block id %q: want a non-negative integer (N in memoryN)", c.Param("id")))
		return 0, false
	}
	return id, true
}

func (s *server) block(c *gin.Context) {
	id, ok := s.blockID(c)
	if !ok {
		return
	}
	b, ok := s.hp.Block(id)
	if !ok {
		s.fail(c, http.StatusNotFound, "UnknownBlock", fmt.Sprintf("no memory block %d (see GET %s/os/blocks)", id, Prefix))
		return
	}
	c.JSON(http.StatusOK, b)
}

func (s *server) blockState(c *gin.Context) {
	id, ok := s.blockID(c)
	if !ok {
		return
	}
	var req BlockStateRequest
	if !s.decodeBody(c, &req) {
		return
	}
	var err error
	if req.State == kernel.Offline {
		err = s.hp.OfflineBlock(id)
	} else {
		err = s.hp.OnlineBlock(id, req.State)
	}
	if err != nil {
		s.platformError(c, err)
		return
	}
	b, _ := s.hp.Block(id)
	c.JSON(http.StatusOK, b)
}

// kernelError maps a kernel errno to a status and code.
func kernelError(err error) (int, string, bool) {
	var ke *kernel.Error
	if !errors.As(err, &ke) {
		return 0, "", false
	}
	switch ke.Errno {
	case kernel.ENOENT:
		return http.StatusNotFound, "UnknownBlock", true
	case kernel.EINVAL:
		return http.StatusConflict, "KernelEINVAL", true
	}
	return http.StatusConflict, "Kernel" + ke.Errno.Name(), true
}

package control

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/cxl"
	"github.com/bmcemu/bmcemu/platform/iommu"
	"github.com/bmcemu/bmcemu/platform/vm"
)

// CXL is the CXL side of a server with CXL host bridges: the slots' physical
// actions (seat, button, pull), the device's DMA, and the CEDT and CDAT. A
// Platform that implements it gets the /cxl routes.
type CXL interface {
	CXL() (cxl.Status, bool)
	CXLInsert(slot string, spec cxl.DeviceSpec) error
	CXLAttention(slot string) (cxl.Result, error)
	CXLPull(slot string) (cxl.Result, error)
	CXLDMATransfer(slot string, t cxl.Transfer) (cxl.TransferReport, error)
	CXLDMAAccess(slot string, iova, size uint64, write bool) error
	CXLCDAT(slot string) (string, error)
	CEDTText() string
}

// CXLInsertRequest seats an expander: sizes as QEMU takes them ("256G").
type CXLInsertRequest struct {
	Capacity string `json:"capacity" validate:"required,max=32"`
	Trusted  bool   `json:"trusted"`
	Serial   uint64 `json:"serial"`
	// Online is how daxctl onlines the memory (online_movable default).
	Online       string `json:"online" validate:"omitempty,oneof=online online_kernel online_movable"`
	ReadLatency  string `json:"read_latency" validate:"max=32"`
	WriteLatency string `json:"write_latency" validate:"max=32"`
	BandwidthMBs uint64 `json:"bandwidth_mbs" validate:"max=1000000"`
	CorruptCDAT  bool   `json:"corrupt_cdat"`
}

// CXLAccessRequest is a device's own DMA to an I/O virtual address.
type CXLAccessRequest struct {
	IOVA  uint64 `json:"iova"`
	Size  uint64 `json:"size" validate:"required,min=1,max=1048576"`
	Write bool   `json:"write"`
}

// CXLTransferRequest is one driver DMA transfer.
type CXLTransferRequest struct {
	Offset uint64 `json:"offset" validate:"max=4095"`
	Size   uint64 `json:"size" validate:"required,min=1,max=4096"`
	Dir    string `json:"dir" validate:"omitempty,oneof=to-device from-device bidirectional"`
}

func (s *server) cxlRoutes(g *gin.RouterGroup, x CXL) {
	g.GET("/cxl", func(c *gin.Context) {
		st, ok := x.CXL()
		if !ok {
			s.fail(c, http.StatusNotFound, "NoCXL", "the server has no CXL host bridge (serve --profile cxl)")
			return
		}
		c.JSON(http.StatusOK, st)
	})
	g.GET("/firmware/acpi/cedt", func(c *gin.Context) {
		c.JSON(http.StatusOK, ACPITable{Signature: "CEDT", Text: x.CEDTText()})
	})
	g.PUT("/cxl/slots/:slot/card", func(c *gin.Context) {
		var req CXLInsertRequest
		if !s.decodeBody(c, &req) {
			return
		}
		spec, err := req.spec()
		if err != nil {
			s.fail(c, http.StatusBadRequest, "InvalidValue", err.Error())
			return
		}
		if err := x.CXLInsert(c.Param("slot"), spec); err != nil {
			s.cxlError(c, err)
			return
		}
		s.log.Info("CXL card seated", "slot", c.Param("slot"), "capacity", spec.Capacity, "trusted", spec.Trusted)
		st, _ := x.CXL()
		c.JSON(http.StatusCreated, slotOf(st, c.Param("slot")))
	})
	g.DELETE("/cxl/slots/:slot/card", func(c *gin.Context) {
		r, err := x.CXLPull(c.Param("slot"))
		if err != nil {
			s.cxlError(c, err)
			return
		}
		s.log.Info("CXL card pulled", "slot", r.Slot, "poisoned", r.Poison, "leaked", r.Leaked)
		c.JSON(http.StatusOK, r)
	})
	g.POST("/cxl/slots/:slot/attention", func(c *gin.Context) {
		r, err := x.CXLAttention(c.Param("slot"))
		if err != nil {
			s.cxlError(c, err)
			return
		}
		s.log.Info("CXL attention button", "slot", r.Slot, "region", r.Region, "online", r.Online, "removed", r.Removed)
		c.JSON(http.StatusOK, r)
	})
	g.GET("/cxl/slots/:slot/cdat", func(c *gin.Context) {
		text, err := x.CXLCDAT(c.Param("slot"))
		if err != nil {
			s.cxlError(c, err)
			return
		}
		c.JSON(http.StatusOK, ACPITable{Signature: "CDAT", Text: text})
	})
	g.POST("/cxl/slots/:slot/dma/transfer", func(c *gin.Context) {
		var req CXLTransferRequest
		if !s.decodeBody(c, &req) {
			return
		}
		r, err := x.CXLDMATransfer(c.Param("slot"), cxl.Transfer{Offset: req.Offset, Size: req.Size, Dir: req.Dir})
		if err != nil {
			s.cxlError(c, err)
			return
		}
		c.JSON(http.StatusOK, r)
	})
	g.POST("/cxl/slots/:slot/dma/access", func(c *gin.Context) {
		var req CXLAccessRequest
		if !s.decodeBody(c, &req) {
			return
		}
		if err := x.CXLDMAAccess(c.Param("slot"), req.IOVA, req.Size, req.Write); err != nil {
			s.cxlError(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"slot": c.Param("slot"), "iova": req.IOVA, "size": req.Size, "write": req.Write, "blocked": false})
	})
}

func slotOf(st cxl.Status, slot string) cxl.SlotStatus {
	for _, s := range st.Slots {
		if s.Slot == slot {
			return s
		}
	}
	return cxl.SlotStatus{Slot: slot}
}

func (r CXLInsertRequest) spec() (cxl.DeviceSpec, error) {
	size, err := vm.ParseSize(r.Capacity)
	if err != nil {
		return cxl.DeviceSpec{}, errors.New("capacity: " + err.Error())
	}
	spec := cxl.DeviceSpec{Capacity: size, Trusted: r.Trusted, Serial: r.Serial, Online: r.Online, Bandwidth: r.BandwidthMBs,
		CorruptCDAT: r.CorruptCDAT}
	for _, f := range []struct {
		name string
		in   string
		out  *time.Duration
	}{{"read_latency", r.ReadLatency, &spec.ReadLatency}, {"write_latency", r.WriteLatency, &spec.WriteLatency}} {
		if f.in == "" {
			continue
		}
		d, err := time.ParseDuration(f.in)
		if err != nil || d <= 0 || d > time.Millisecond {
			return cxl.DeviceSpec{}, errors.New(f.name + ": want a duration such as 150ns, up to 1ms")
		}
		*f.out = d
	}
	return spec, nil
}

func (s *server) cxlError(c *gin.Context, err error) {
	var fault *iommu.Fault
	switch {
	case errors.Is(err, platform.ErrNotCXL):
		s.fail(c, http.StatusNotFound, "NoCXL", err.Error())
	case errors.Is(err, cxl.ErrNoSlot):
		s.fail(c, http.StatusNotFound, "NoSuchSlot", err.Error())
	case errors.Is(err, cxl.ErrInvalid):
		s.fail(c, http.StatusBadRequest, "InvalidValue", err.Error())
	case errors.Is(err, cxl.ErrState):
		s.fail(c, http.StatusConflict, "SlotState", err.Error())
	case errors.Is(err, cxl.ErrNotRecognized):
		s.fail(c, http.StatusConflict, "DeviceNotRecognized", err.Error())
	case errors.Is(err, cxl.ErrNoWindow):
		s.fail(c, http.StatusConflict, "NoMemoryWindow", err.Error())
	case errors.Is(err, cxl.ErrBusy):
		s.fail(c, http.StatusConflict, "MemoryBusy", err.Error())
	case errors.As(err, &fault):
		s.fail(c, http.StatusForbidden, "IOMMUFault", err.Error())
	case errors.Is(err, platform.ErrHostOff), errors.Is(err, platform.ErrOSNotRunning):
		s.fail(c, http.StatusConflict, "OSNotRunning", err.Error())
	default:
		s.platformError(c, err)
	}
}

// CXL reads the CXL side.
func (c *Client) CXL(ctx context.Context) (cxl.Status, error) {
	var st cxl.Status
	return st, c.do(ctx, http.MethodGet, "/cxl", nil, &st)
}

// CXLInsert seats an expander in slot.
func (c *Client) CXLInsert(ctx context.Context, slot string, req CXLInsertRequest) (cxl.SlotStatus, error) {
	var st cxl.SlotStatus
	return st, c.do(ctx, http.MethodPut, "/cxl/slots/"+url.PathEscape(slot)+"/card", req, &st)
}

// CXLAttention presses slot's attention button.
func (c *Client) CXLAttention(ctx context.Context, slot string) (cxl.Result, error) {
	var r cxl.Result
	return r, c.do(ctx, http.MethodPost, "/cxl/slots/"+url.PathEscape(slot)+"/attention", nil, &r)
}

// CXLPull takes the card out of slot.
func (c *Client) CXLPull(ctx context.Context, slot string) (cxl.Result, error) {
	var r cxl.Result
	return r, c.do(ctx, http.MethodDelete, "/cxl/slots/"+url.PathEscape(slot)+"/card", nil, &r)
}

// CXLCDAT reads the CDAT of the card in slot.
func (c *Client) CXLCDAT(ctx context.Context, slot string) (ACPITable, error) {
	var t ACPITable
	return t, c.do(ctx, http.MethodGet, "/cxl/slots/"+url.PathEscape(slot)+"/cdat", nil, &t)
}

// CXLDMATransfer runs one driver DMA transfer with the device in slot.
func (c *Client) CXLDMATransfer(ctx context.Context, slot string, req CXLTransferRequest) (cxl.TransferReport, error) {
	var r cxl.TransferReport
	return r, c.do(ctx, http.MethodPost, "/cxl/slots/"+url.PathEscape(slot)+"/dma/transfer", req, &r)
}

// CXLDMAAccess has the device in slot access iova itself.
func (c *Client) CXLDMAAccess(ctx context.Context, slot string, req CXLAccessRequest) error {
	return c.do(ctx, http.MethodPost, "/cxl/slots/"+url.PathEscape(slot)+"/dma/access", req, nil)
}

// CEDT reads the CEDT.
func (c *Client) CEDT(ctx context.Context) (ACPITable, error) {
	var t ACPITable
	return t, c.do(ctx, http.MethodGet, "/firmware/acpi/cedt", nil, &t)
}

package control

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/kernel"
	"github.com/bmcemu/bmcemu/platform/vm"
)

// VM is a VM guest's hypervisor side: what QEMU's monitor would do to its
// memory devices. A Platform that implements it gets the /vm routes and
// /os/firmware-memmap.
type VM interface {
	VM() (vm.Status, bool)
	VMSetRequestedSize(size uint64) (vm.VirtioMemResult, error)
	VMSetBalloonTarget(target uint64) (vm.BalloonResult, error)
	VMReportFreePages() (vm.BalloonStatus, error)
	VMPlugDimm(size uint64) (vm.Dimm, error)
	VMUnplugDimm(id string) (vm.Dimm, error)
	VMCompare(size, dimmSize uint64) (vm.Comparison, error)
	FirmwareMemmap() []kernel.FirmwareMapEntry
	FirmwareMemmapText() string
	KexecRAM() []kernel.PhysRange
}

// SizeRequest carries a size as QEMU takes it ("64G", "512M", bytes).
type SizeRequest struct {
	Size string `json:"size" validate:"required,max=32"`
}

// FirmwareMemmap is the answer of GET /os/firmware-memmap:
// /sys/firmware/memmap and the RAM a kexec_file load considers.
type FirmwareMemmap struct {
	Entries  []kernel.FirmwareMapEntry `json:"entries"`
	Text     string                    `json:"text"`
	KexecRAM []kernel.PhysRange        `json:"kexec_ram"`
}

func (s *server) vmRoutes(g *gin.RouterGroup, v VM) {
	g.GET("/vm", func(c *gin.Context) {
		st, ok := v.VM()
		if !ok {
			s.fail(c, http.StatusNotFound, "NotAGuest", "the server is not a VM guest (serve --profile virtio-mem, balloon or pc-dimm)")
			return
		}
		c.JSON(http.StatusOK, st)
	})
	g.PUT("/vm/virtio-mem/requested-size", func(c *gin.Context) {
		size, ok := s.size(c)
		if !ok {
			return
		}
		r, err := v.VMSetRequestedSize(size)
		if err != nil {
			s.vmError(c, err)
			return
		}
		s.log.Info("virtio-mem requested-size set", "requested", r.RequestedSize, "plugged", r.PluggedSize, "reason", r.Reason)
		c.JSON(http.StatusOK, r)
	})
	g.PUT("/vm/balloon/target", func(c *gin.Context) {
		size, ok := s.size(c)
		if !ok {
			return
		}
		r, err := v.VMSetBalloonTarget(size)
		if err != nil {
			s.vmError(c, err)
			return
		}
		s.log.Info("balloon target set", "target", r.TargetBytes, "actual_pages", r.ActualPages, "reason", r.Reason)
		c.JSON(http.StatusOK, r)
	})
	g.POST("/vm/balloon/report", func(c *gin.Context) {
		st, err := v.VMReportFreePages()
		if err != nil {
			s.vmError(c, err)
			return
		}
		c.JSON(http.StatusOK, st)
	})
	g.POST("/vm/pc-dimms", func(c *gin.Context) {
		size, ok := s.size(c)
		if !ok {
			return
		}
		d, err := v.VMPlugDimm(size)
		if err != nil {
			s.vmError(c, err)
			return
		}
		s.log.Info("pc-dimm plugged", "id", d.ID, "size", d.Size, "addr", d.Addr)
		c.JSON(http.StatusCreated, d)
	})
	g.DELETE("/vm/pc-dimms/:id", func(c *gin.Context) {
		d, err := v.VMUnplugDimm(c.Param("id"))
		if err != nil {
			s.vmError(c, err)
			return
		}
		s.log.Info("pc-dimm unplugged", "id", d.ID)
		c.JSON(http.StatusOK, d)
	})
	g.GET("/vm/compare", func(c *gin.Context) {
		size, err := vm.ParseSize(c.Query("size"))
		if err != nil {
			s.fail(c, http.StatusBadRequest, "InvalidValue", "size: "+err.Error())
			return
		}
		var dimm uint64
		if q := c.Query("dimm"); q != "" {
			if dimm, err = vm.ParseSize(q); err != nil {
				s.fail(c, http.StatusBadRequest, "InvalidValue", "dimm: "+err.Error())
				return
			}
		}
		cmp, err := v.VMCompare(size, dimm)
		if err != nil {
			s.vmError(c, err)
			return
		}
		c.JSON(http.StatusOK, cmp)
	})
	g.GET("/os/firmware-memmap", func(c *gin.Context) {
		c.JSON(http.StatusOK, FirmwareMemmap{Entries: v.FirmwareMemmap(), Text: v.FirmwareMemmapText(), KexecRAM: v.KexecRAM()})
	})
}

// size reads a SizeRequest body.
func (s *server) size(c *gin.Context) (uint64, bool) {
	var req SizeRequest
	if !s.decodeBody(c, &req) {
		return 0, false
	}
	n, err := vm.ParseSize(req.Size)
	if err != nil {
		s.fail(c, http.StatusBadRequest, "InvalidValue", "size: "+err.Error())
		return 0, false
	}
	return n, true
}

func (s *server) vmError(c *gin.Context, err error) {
	switch {
	case errors.Is(err, platform.ErrNotGuest):
		s.fail(c, http.StatusNotFound, "NotAGuest", err.Error())
	case errors.Is(err, vm.ErrInvalid):
		s.fail(c, http.StatusBadRequest, "InvalidValue", err.Error())
	case errors.Is(err, vm.ErrBusy):
		s.fail(c, http.StatusConflict, "GuestRefused", err.Error())
	case errors.Is(err, platform.ErrHostOff), errors.Is(err, platform.ErrOSNotRunning):
		s.fail(c, http.StatusConflict, "OSNotRunning", err.Error())
	default:
		s.platformError(c, err)
	}
}

// VM reads the VM's devices.
func (c *Client) VM(ctx context.Context) (vm.Status, error) {
	var st vm.Status
	return st, c.do(ctx, http.MethodGet, "/vm", nil, &st)
}

// SetRequestedSize sets virtio-mem's requested-size.
func (c *Client) SetRequestedSize(ctx context.Context, size string) (vm.VirtioMemResult, error) {
	var r vm.VirtioMemResult
	return r, c.do(ctx, http.MethodPut, "/vm/virtio-mem/requested-size", SizeRequest{Size: size}, &r)
}

// SetBalloonTarget sets the balloon's target guest memory.
func (c *Client) SetBalloonTarget(ctx context.Context, size string) (vm.BalloonResult, error) {
	var r vm.BalloonResult
	return r, c.do(ctx, http.MethodPut, "/vm/balloon/target", SizeRequest{Size: size}, &r)
}

// ReportFreePages runs a free page reporting pass.
func (c *Client) ReportFreePages(ctx context.Context) (vm.BalloonStatus, error) {
	var r vm.BalloonStatus
	return r, c.do(ctx, http.MethodPost, "/vm/balloon/report", nil, &r)
}

// PlugDimm plugs a pc-dimm.
func (c *Client) PlugDimm(ctx context.Context, size string) (vm.Dimm, error) {
	var d vm.Dimm
	return d, c.do(ctx, http.MethodPost, "/vm/pc-dimms", SizeRequest{Size: size}, &d)
}

// UnplugDimm asks the guest to eject a pc-dimm.
func (c *Client) UnplugDimm(ctx context.Context, id string) (vm.Dimm, error) {
	var d vm.Dimm
	return d, c.do(ctx, http.MethodDelete, "/vm/pc-dimms/"+url.PathEscape(id), nil, &d)
}

// Compare computes the three generations for a growth.
func (c *Client) Compare(ctx context.Context, size, dimm string) (vm.Comparison, error) {
	var r vm.Comparison
	q := url.Values{"size": {size}}
	if dimm != "" {
		q.Set("dimm", dimm)
	}
	return r, c.do(ctx, http.MethodGet, "/vm/compare?"+q.Encode(), nil, &r)
}

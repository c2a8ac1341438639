package control

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/ras"
)

// RAS is the memory RAS engine as the control API drives it: error
// injection, the workload and its byte-exact verifier. A Platform that
// implements it gets the /ras routes.
type RAS interface {
	InjectMemoryErrorAt(slot string, rank int, addr *uint64, correctable bool) error
	ClearMemoryErrorCounts(slot string) error
	RunWorkload(seed uint64, pages int) (ras.WorkloadStatus, error)
	VerifyWorkload() (ras.VerifyStatus, error)
	SetRASMode(mode string) error
	SetMemoryErrorRate(slot string, rank int, cePerSec, uePerSec float64) error
	FailModule(slot string) error
}

// RateRequest sets a module rank's ECC error rates (errors per simulated
// second; zero stops them).
type RateRequest struct {
	Slot     string   `json:"slot" validate:"required,max=64"`
	Rank     *int     `json:"rank" validate:"required,min=0,max=7"`
	CEPerSec *float64 `json:"ce_per_sec" validate:"required,min=0,max=100000"`
	UEPerSec float64  `json:"ue_per_sec" validate:"min=0,max=1000"`
}

// ModeRequest sets the firmware's RAS mode for the next boot ("" returns
// to the profile's).
type ModeRequest struct {
	Mode *string `json:"mode" validate:"required"`
}

// ErrorRequest injects Count ECC errors of Kind ("ce" or "ue") on a
// module's rank.
type ErrorRequest struct {
	Slot  string `json:"slot" validate:"required,max=64"`
	Rank  *int   `json:"rank" validate:"required,min=0,max=7"`
	Kind  string `json:"kind" validate:"required,oneof=ce ue"`
	Count int    `json:"count" validate:"omitempty,min=1,max=100000"`
	// Address is module-relative and inside the rank; omitted: the first
	// page the workload wrote on the rank.
	Address *uint64 `json:"address,omitempty"`
}

// WorkloadRequest writes a pattern over the OS's memory.
type WorkloadRequest struct {
	Seed  uint64 `json:"seed"`
	Pages int    `json:"pages" validate:"omitempty,min=1,max=1048576"`
}

// RASView is GET /ras: the mode, redundancy, sets, running copy and the
// per-module RAS state.
type RASView struct {
	platform.RASStatus
	Modules map[string]*ras.ModuleStatus `json:"modules"`
}

func (s *server) rasRoutes(g *gin.RouterGroup, r RAS) {
	g.GET("/ras", func(c *gin.Context) { c.JSON(http.StatusOK, rasView(s.p.Snapshot())) })
	g.POST("/ras/errors", func(c *gin.Context) {
		var req ErrorRequest
		if !s.decodeBody(c, &req) {
			return
		}
		for range max(req.Count, 1) {
			if err := r.InjectMemoryErrorAt(req.Slot, *req.Rank, req.Address, req.Kind == "ce"); err != nil {
				s.rasError(c, err)
				return
			}
		}
		s.log.Info("memory errors injected", "slot", req.Slot, "rank", *req.Rank, "kind", req.Kind, "count", max(req.Count, 1))
		s.slotAfter(c, req.Slot, http.StatusOK)
	})
	g.DELETE("/slots/:slot/errors", func(c *gin.Context) {
		if err := r.ClearMemoryErrorCounts(c.Param("slot")); err != nil {
			s.rasError(c, err)
			return
		}
		s.slotAfter(c, c.Param("slot"), http.StatusOK)
	})
	g.POST("/ras/workload", func(c *gin.Context) {
		var req WorkloadRequest
		if !s.decodeBody(c, &req) {
			return
		}
		st, err := r.RunWorkload(req.Seed, req.Pages)
		if err != nil {
			s.rasError(c, err)
			return
		}
		c.JSON(http.StatusOK, st)
	})
	g.POST("/slots/:slot/fail", func(c *gin.Context) {
		slot := c.Param("slot")
		if err := r.FailModule(slot); err != nil {
			s.rasError(c, err)
			return
		}
		s.log.Info("module failed in place", "slot", slot)
		s.slotAfter(c, slot, http.StatusOK)
	})
	g.PUT("/ras/rates", func(c *gin.Context) {
		var req RateRequest
		if !s.decodeBody(c, &req) {
			return
		}
		if err := r.SetMemoryErrorRate(req.Slot, *req.Rank, *req.CEPerSec, req.UEPerSec); err != nil {
			s.rasError(c, err)
			return
		}
		s.log.Info("memory error rates set", "slot", req.Slot, "rank", *req.Rank, "ce_per_sec", *req.CEPerSec, "ue_per_sec", req.UEPerSec)
		s.slotAfter(c, req.Slot, http.StatusOK)
	})
	g.PUT("/ras/mode", func(c *gin.Context) {
		var req ModeRequest
		if !s.decodeBody(c, &req) {
			return
		}
		if err := r.SetRASMode(*req.Mode); err != nil {
			s.rasError(c, err)
			return
		}
		s.log.Info("RAS mode set for the next boot", "mode", *req.Mode)
		c.JSON(http.StatusOK, rasView(s.p.Snapshot()))
	})
	g.POST("/ras/verify", func(c *gin.Context) {
		vs, err := r.VerifyWorkload()
		if err != nil {
			s.rasError(c, err)
			return
		}
		c.JSON(http.StatusOK, vs)
	})
}

func (s *server) rasError(c *gin.Context, err error) {
	if !errors.Is(err, platform.ErrUnknownSlot) && errors.Is(err, platform.ErrRAS) {
		s.fail(c, http.StatusConflict, "RASRefused", err.Error())
		return
	}
	s.platformError(c, err)
}

func rasView(snap *platform.Snapshot) RASView {
	v := RASView{RASStatus: snap.RAS, Modules: map[string]*ras.ModuleStatus{}}
	for _, sl := range snap.Slots {
		if sl.RAS != nil {
			v.Modules[sl.Name] = sl.RAS
		}
	}
	return v
}

// RAS reads the memory RAS state.
func (c *Client) RAS(ctx context.Context) (RASView, error) {
	var v RASView
	return v, c.do(ctx, http.MethodGet, "/ras", nil, &v)
}

// InjectErrors injects ECC errors.
func (c *Client) InjectErrors(ctx context.Context, req ErrorRequest) (Slot, error) {
	var s Slot
	return s, c.do(ctx, http.MethodPost, "/ras/errors", req, &s)
}

// RunWorkload writes the pattern.
func (c *Client) RunWorkload(ctx context.Context, req WorkloadRequest) (ras.WorkloadStatus, error) {
	var w ras.WorkloadStatus
	return w, c.do(ctx, http.MethodPost, "/ras/workload", req, &w)
}

// FailModule makes a seated module fail in place.
func (c *Client) FailModule(ctx context.Context, slot string) (Slot, error) {
	var s Slot
	return s, c.do(ctx, http.MethodPost, "/slots/"+url.PathEscape(slot)+"/fail", nil, &s)
}

// SetErrorRate sets a module rank's ECC error rates.
func (c *Client) SetErrorRate(ctx context.Context, req RateRequest) (Slot, error) {
	var s Slot
	return s, c.do(ctx, http.MethodPut, "/ras/rates", req, &s)
}

// SetRASMode sets the firmware's RAS mode for the next boot.
func (c *Client) SetRASMode(ctx context.Context, mode string) (RASView, error) {
	var v RASView
	return v, c.do(ctx, http.MethodPut, "/ras/mode", ModeRequest{Mode: &mode}, &v)
}

// Verify reads the workload back.
func (c *Client) Verify(ctx context.Context) (ras.VerifyStatus, error) {
	var v ras.VerifyStatus
	return v, c.do(ctx, http.MethodPost, "/ras/verify", nil, &v)
}

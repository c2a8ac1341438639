package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/go-playground/validator/v10"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/fielderr"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// Platform is what the control API drives.
type Platform interface {
	Snapshot() *platform.Snapshot
	Insert(slot string, img []byte) (*platform.Module, error)
	Remove(slot string) (*platform.Module, error)
	NewModuleSpec(slot string, s spd.Spec) spd.Spec
}

// Authenticator checks credentials sent from remote (the TCP peer; the
// zero Addr when unknown), so that the account store's per-address
// blocking covers this API as it covers Redfish: otherwise wrong passwords
// sent here would still lock the administrator out everywhere. Only
// administrators may touch hardware.
type Authenticator func(remote netip.Addr, user, password string) bool

// Config configures the handler.
type Config struct {
	Authenticate Authenticator
	Logger       *slog.Logger
	// ProtocolFaults, when set, serves Prefix/protocol-faults.
	ProtocolFaults ProtocolFaults
}

type server struct {
	p        Platform
	auth     Authenticator
	log      *slog.Logger
	validate *validator.Validate
	hp       HotPlug
	pf       bool // protocol faults are served
}

// maxBody bounds request bodies: the largest legitimate one carries a
// 1 KiB SPD image in base64.
const maxBody = 16 << 10

// New returns the HTTP handler for everything under Prefix.
func New(cfg Config, p Platform) (http.Handler, error) {
	if cfg.Authenticate == nil {
		return nil, errors.New("control: an Authenticate function is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{p: p, auth: cfg.Authenticate, log: cfg.Logger, validate: fielderr.New("json"),
		pf: cfg.ProtocolFaults != nil}
	// gin's mode is process-wide; leave it alone unless it is still the
	// default, whose route dump on stdout would bypass slog.
	if gin.Mode() == gin.DebugMode {
		gin.SetMode(gin.ReleaseMode)
	}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.Use(s.recover, s.authenticate, s.osGate)
	r.NoRoute(func(c *gin.Context) {
		s.fail(c, http.StatusNotFound, "NotFound", "no such resource: "+c.Request.URL.Path)
	})
	r.NoMethod(func(c *gin.Context) {
		s.fail(c, http.StatusMethodNotAllowed, "MethodNotAllowed", c.Request.Method+" is not supported on "+c.Request.URL.Path)
	})
	g := r.Group(Prefix)
	g.GET("", s.index)
	g.GET("/system", s.system)
	g.GET("/slots", s.slots)
	g.GET("/slots/:slot", s.slot)
	g.PUT("/slots/:slot/module", s.insert)
	g.DELETE("/slots/:slot/module", s.remove)
	s.hostRoutes(g)
	if hp, ok := p.(HotPlug); ok {
		s.hotplugRoutes(g, hp)
	}
	if cs, ok := p.(Cpusets); ok {
		s.cpusetRoutes(g, cs)
	}
	if ha, ok := p.(HomeAgents); ok {
		s.homeAgentRoutes(g, ha)
	}
	if rs, ok := p.(RAS); ok {
		s.rasRoutes(g, rs)
	}
	if v, ok := p.(VM); ok {
		s.vmRoutes(g, v)
	}
	if x, ok := p.(CXL); ok {
		s.cxlRoutes(g, x)
	}
	if cfg.ProtocolFaults != nil {
		s.protocolFaultRoutes(g, cfg.ProtocolFaults)
	}
	return r, nil
}

func (s *server) recover(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("control API handler panicked", "path", c.Request.URL.Path, "panic", v)
			s.fail(c, http.StatusInternalServerError, "InternalError", "internal error")
		}
	}()
	c.Next()
}

// preauthorizedKey marks, in a request's context, a request that an
// in-process front end has already authenticated and authorized.
type preauthorizedKey struct{}

// Preauthorized returns r marked as authenticated and authorized by the
// caller, an in-process front end with a login of its own (the web UI,
// which checks a Redfish session and the account's role before it hands a
// request on). Only code in this process can set a request's context, so
// nothing a client sends can mark a request.
func Preauthorized(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), preauthorizedKey{}, true))
}

func (s *server) authenticate(c *gin.Context) {
	if c.Request.Context().Value(preauthorizedKey{}) != nil {
		c.Next()
		return
	}
	u, pw, ok := c.Request.BasicAuth()
	var remote netip.Addr
	if ap, err := netip.ParseAddrPort(c.Request.RemoteAddr); err == nil {
		remote = ap.Addr().Unmap()
	}
	if !ok || !s.auth(remote, u, pw) {
		c.Header("WWW-Authenticate", `Basic realm="bmcemu control"`)
		s.fail(c, http.StatusUnauthorized, "Unauthorized", "valid administrator credentials are required (HTTP Basic)")
		return
	}
	c.Next()
}

func (s *server) fail(c *gin.Context, status int, code, msg string) {
	var e Error
	e.Error.Code, e.Error.Message = code, msg
	c.AbortWithStatusJSON(status, e)
}

func (s *server) index(c *gin.Context) {
	idx := gin.H{
		"system":  Prefix + "/system",
		"slots":   Prefix + "/slots",
		"host":    Prefix + "/host",
		"console": Prefix + "/host/console",
	}
	if s.pf {
		idx["protocol_faults"] = Prefix + "/protocol-faults"
	}
	if s.hp != nil {
		for k, v := range map[string]string{"faults": "/faults", "events": "/events", "dmesg": "/os/dmesg", "blocks": "/os/blocks",
			"meminfo": "/os/meminfo", "directmap": "/os/directmap", "vmstat": "/os/vmstat", "cpusets": "/os/cpusets", "tasks": "/os/tasks", "homeagent": "/homeagent", "iomem": "/os/iomem", "nodes": "/os/nodes", "srat": "/firmware/acpi/srat",
			"hmat": "/firmware/acpi/hmat", "memmap": "/firmware/memmap", "devices": "/firmware/devices", "vm": "/vm", "firmware-memmap": "/os/firmware-memmap", "cxl": "/cxl", "cedt": "/firmware/acpi/cedt"} {
			idx[k] = Prefix + v
		}
	}
	c.JSON(http.StatusOK, idx)
}

func (s *server) system(c *gin.Context) { c.JSON(http.StatusOK, systemView(s.p.Snapshot())) }

func (s *server) slots(c *gin.Context) {
	snap := s.p.Snapshot()
	out := make([]Slot, len(snap.Slots))
	for i, sl := range snap.Slots {
		out[i] = slotView(sl)
	}
	c.JSON(http.StatusOK, out)
}

func (s *server) slot(c *gin.Context) {
	sl, ok := s.p.Snapshot().Slot(c.Param("slot"))
	if !ok {
		s.fail(c, http.StatusNotFound, "UnknownSlot", fmt.Sprintf("no slot named %q (see GET %s/slots)", c.Param("slot"), Prefix))
		return
	}
	c.JSON(http.StatusOK, slotView(sl))
}

// decodeModuleRequest reads a strict JSON body: unknown fields, trailing data
// and wrong types are refused with a message naming the problem.
func (s *server) decodeModuleRequest(c *gin.Context) (ModuleRequest, bool) {
	var req ModuleRequest
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	if err != nil {
		s.fail(c, http.StatusRequestEntityTooLarge, "BodyTooLarge", fmt.Sprintf("request body exceeds %d bytes", maxBody))
		return req, false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return req, true // every field defaults
	}
	if msg := DecodeStrict(body, &req); msg != "" {
		s.fail(c, http.StatusBadRequest, "MalformedRequest", msg)
		return req, false
	}
	if !s.validBody(c, req) {
		return req, false
	}
	return req, true
}

// validBody checks v against its validate tags and answers 400
// InvalidValue naming the first field that fails, as the body spells it
// ("online: must be one of [...] (got x)").
func (s *server) validBody(c *gin.Context, v any) bool {
	err := s.validate.Struct(v)
	if err == nil {
		return true
	}
	msg := err.Error()
	if field, why, ok := fielderr.First(err); ok {
		msg = field + ": " + why
	}
	s.fail(c, http.StatusBadRequest, "InvalidValue", msg)
	return false
}

// DecodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data. It returns a human-readable problem or "".
func DecodeStrict(body []byte, v any) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)
		case errors.As(err, &te):
			return fmt.Sprintf("property %q must be %s, not %s", te.Field, te.Type, te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return "unknown property " + strings.TrimPrefix(err.Error(), "json: unknown field ")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return "malformed JSON: unexpected end of input"
		}
		return "malformed JSON: " + err.Error()
	}
	if dec.More() {
		return "malformed JSON: trailing data after the object"
	}
	return ""
}

func (s *server) insert(c *gin.Context) {
	slot := c.Param("slot")
	if _, ok := s.p.Snapshot().Slot(slot); !ok {
		s.fail(c, http.StatusNotFound, "UnknownSlot", fmt.Sprintf("no slot named %q (see GET %s/slots)", slot, Prefix))
		return
	}
	req, ok := s.decodeModuleRequest(c)
	if !ok {
		return
	}
	img := req.SPD
	if img == nil {
		spec := s.p.NewModuleSpec(slot, spd.Spec{
			Type: req.Type, BaseModule: req.BaseModule, CapacityGiB: req.CapacityGiB, Ranks: req.Ranks,
			SpeedMTs: req.SpeedMTs, Manufacturer: req.Manufacturer, PartNumber: req.PartNumber, SerialNumber: req.SerialNumber,
		})
		var err error
		if img, err = spd.Encode(spec); err != nil {
			s.fail(c, http.StatusBadRequest, "InvalidModule", err.Error())
			return
		}
	}
	if _, err := s.p.Insert(slot, img); err != nil {
		s.platformError(c, err)
		return
	}
	sl, _ := s.p.Snapshot().Slot(slot)
	s.log.Info("module inserted", "slot", slot, "capacity_mib", sl.Module.SPD.CapacityMiB, "serial", sl.Module.SPD.SerialNumber)
	c.JSON(http.StatusCreated, slotView(sl))
}

func (s *server) remove(c *gin.Context) {
	slot := c.Param("slot")
	mod, err := s.p.Remove(slot)
	if err != nil {
		s.platformError(c, err)
		return
	}
	s.log.Info("module removed", "slot", slot, "serial", mod.SPD.SerialNumber)
	c.JSON(http.StatusOK, Module{Module: mod.SPD, InsertedAt: mod.InsertedAt})
}

func (s *server) platformError(c *gin.Context, err error) {
	switch {
	case errors.Is(err, platform.ErrUnknownSlot):
		s.fail(c, http.StatusNotFound, "UnknownSlot", err.Error())
	case errors.Is(err, platform.ErrSlotOccupied):
		s.fail(c, http.StatusConflict, "SlotOccupied", err.Error())
	case errors.Is(err, platform.ErrSlotEmpty):
		s.fail(c, http.StatusConflict, "SlotEmpty", err.Error())
	case errors.Is(err, platform.ErrBadModule):
		s.fail(c, http.StatusUnprocessableEntity, "ModuleRejected", err.Error())
	case errors.Is(err, platform.ErrWrongState):
		s.fail(c, http.StatusConflict, "WrongState", err.Error())
	case errors.Is(err, platform.ErrUnknownFault):
		s.fail(c, http.StatusBadRequest, "UnknownFault", err.Error())
	case errors.Is(err, platform.ErrKernel):
		status, code, _ := kernelError(err)
		if status == 0 {
			status, code = http.StatusConflict, "KernelRefused"
		}
		s.fail(c, status, code, err.Error())
	default:
		s.log.Error("control API command failed", "path", c.Request.URL.Path, "err", err)
		s.fail(c, http.StatusInternalServerError, "InternalError", err.Error())
	}
}

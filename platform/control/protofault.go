package control

import (
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/bmcemu/bmcemu/platform/netfault"
)

// ProtocolFaults is the BMC's protocol fault injector as this API drives
// it (platform/netfault.Injector).
type ProtocolFaults interface {
	Set(netfault.Rule) (netfault.RuleStatus, error)
	Clear(surface, kind string) (int, error)
	Status() netfault.Status
}

// ClearedFaults is the answer to DELETE.
type ClearedFaults struct {
	Cleared int `json:"cleared"`
}

func (s *server) protocolFaultRoutes(g *gin.RouterGroup, pf ProtocolFaults) {
	g.GET("/protocol-faults", func(c *gin.Context) { c.JSON(http.StatusOK, pf.Status()) })
	g.PUT("/protocol-faults/:surface/:kind", func(c *gin.Context) {
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
		if err != nil {
			s.fail(c, http.StatusRequestEntityTooLarge, "BodyTooLarge", "request body exceeds the limit")
			return
		}
		r, err := netfault.ParseRule(c.Param("surface"), c.Param("kind"), body)
		if err != nil {
			s.protocolFaultError(c, err)
			return
		}
		st, err := pf.Set(r)
		if err != nil {
			s.protocolFaultError(c, err)
			return
		}
		c.JSON(http.StatusOK, st)
	})
	g.DELETE("/protocol-faults/:surface/:kind", func(c *gin.Context) {
		n, err := pf.Clear(c.Param("surface"), c.Param("kind"))
		if err != nil {
			s.protocolFaultError(c, err)
			return
		}
		c.JSON(http.StatusOK, ClearedFaults{Cleared: n})
	})
	// A surface's every rule, or with "all" every rule there is.
	g.DELETE("/protocol-faults/:surface", func(c *gin.Context) {
		n, err := pf.Clear(c.Param("surface"), "all")
		if err != nil {
			s.protocolFaultError(c, err)
			return
		}
		c.JSON(http.StatusOK, ClearedFaults{Cleared: n})
	})
}

func (s *server) protocolFaultError(c *gin.Context, err error) {
	var ve *netfault.ValidationError
	switch {
	case errors.Is(err, netfault.ErrUnknownKind):
		s.fail(c, http.StatusNotFound, "UnknownProtocolFault", err.Error())
	case errors.As(err, &ve):
		s.fail(c, http.StatusBadRequest, "InvalidRule", err.Error())
	case errors.Is(err, netfault.ErrResetting):
		s.fail(c, http.StatusConflict, "Resetting", err.Error())
	default:
		s.fail(c, http.StatusInternalServerError, "InternalError", err.Error())
	}
}

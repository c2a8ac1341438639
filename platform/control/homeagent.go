package control

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/firmware"
)

// The sockets' home agents (seed item 15):
//
//	GET    /emulator/v1/homeagent?since=SEQ   snoop filter directories, counters, trace
//	POST   /emulator/v1/homeagent/access      a core reads one line (body: LineAccessRequest)

// HomeAgents is what the home agent routes need of the platform.
type HomeAgents interface {
	HomeAgents() []firmware.HomeAgent
	HomeAgentTrace(since uint64) []firmware.HomeAgentTrace
	AccessLine(addr uint64) (firmware.LineAccess, error)
}

var _ HomeAgents = (*platform.Platform)(nil)

// HomeAgentView is the answer of GET /homeagent.
type HomeAgentView struct {
	Agents []firmware.HomeAgent      `json:"agents"`
	Trace  []firmware.HomeAgentTrace `json:"trace"`
	Text   string                    `json:"text"`
}

// LineAccessRequest names a system physical address: a number, or a
// string in Go syntax ("0x5080000000").
type LineAccessRequest struct {
	Address string `json:"address" validate:"required"`
}

func (s *server) homeAgentRoutes(g *gin.RouterGroup, ha HomeAgents) {
	g.GET("/homeagent", func(c *gin.Context) {
		var since uint64
		if v := c.Query("since"); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				s.fail(c, http.StatusBadRequest, "InvalidValue", "since must be a sequence number")
				return
			}
			since = n
		}
		agents, trace := ha.HomeAgents(), ha.HomeAgentTrace(since)
		c.JSON(http.StatusOK, HomeAgentView{Agents: agents, Trace: trace, Text: firmware.FormatHomeAgents(agents, trace)})
	})
	g.POST("/homeagent/access", func(c *gin.Context) {
		var req LineAccessRequest
		if !s.decodeBody(c, &req) {
			return
		}
		addr, err := strconv.ParseUint(req.Address, 0, 64)
		if err != nil {
			s.fail(c, http.StatusBadRequest, "InvalidValue", "address "+strconv.Quote(req.Address)+": not a number (e.g. 0x5080000000)")
			return
		}
		res, err := ha.AccessLine(addr)
		if errors.Is(err, firmware.ErrNotHomed) {
			s.fail(c, http.StatusUnprocessableEntity, "NotHomed", err.Error())
			return
		}
		if err != nil {
			s.platformError(c, err)
			return
		}
		c.JSON(http.StatusOK, res)
	})
}

// HomeAgents reads the home agents and their trace after since.
func (c *Client) HomeAgents(ctx context.Context, since uint64) (HomeAgentView, error) {
	var out HomeAgentView
	err := c.do(ctx, http.MethodGet, "/homeagent?since="+strconv.FormatUint(since, 10), nil, &out)
	return out, err
}

// AccessLine has a core read the line holding addr.
func (c *Client) AccessLine(ctx context.Context, addr string) (firmware.LineAccess, error) {
	var out firmware.LineAccess
	err := c.do(ctx, http.MethodPost, "/homeagent/access", LineAccessRequest{Address: addr}, &out)
	return out, err
}

package control

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bmcemu/bmcemu/platform"
)

// The host as the emulator shows it: its power and boot state, and its
// serial console log (what the firmware and the OS printed; the BMC's SOL
// streams the same bytes).
//
//	GET /emulator/v1/host                               power, boot progress, boot device, boot order
//	GET /emulator/v1/host/console?since=SEQ&wait=S&max=N console lines after SEQ (long-poll with wait)
//
// The in-band OS views (/emulator/v1/os/...) exist only while the host's
// OS runs: with the host off, or stopped in its firmware (setup, nothing
// to boot), they answer 409; while it boots or shuts down, 503 with
// Retry-After.

// Console is what the console routes need.
type Console interface {
	ConsoleSince(ctx context.Context, seq uint64, max int, wait time.Duration) platform.ConsolePage
}

// Host is the answer of GET /host.
type Host struct {
	platform.HostStatus
	BootOverride platform.BootOverride `json:"boot_override"`
	BootOptions  []platform.BootOption `json:"boot_options"`
	BootOrder    []string              `json:"boot_order"`
	// BootMAC is the MAC address of the NIC the host PXE-boots from.
	BootMAC string `json:"boot_mac"`
}

func (s *server) hostRoutes(g *gin.RouterGroup) {
	g.GET("/host", func(c *gin.Context) {
		snap := s.p.Snapshot()
		c.JSON(http.StatusOK, Host{HostStatus: snap.Host, BootOverride: snap.Boot, BootOptions: snap.BootOptions,
			BootOrder: snap.BootOrder, BootMAC: platform.HostNICMAC(snap.System.SerialNumber).String()})
	})
	if con, ok := s.p.(Console); ok {
		g.GET("/host/console", func(c *gin.Context) {
			since, ok1 := queryUint(c, "since", 0)
			max, ok2 := queryUint(c, "max", 1000)
			waitS, err := strconv.ParseFloat(c.DefaultQuery("wait", "0"), 64)
			if !ok1 || !ok2 || err != nil || waitS < 0 {
				s.fail(c, http.StatusBadRequest, "InvalidValue", "since and max must be unsigned integers, wait a non-negative number of seconds")
				return
			}
			wait := min(time.Duration(waitS*float64(time.Second)), maxWait)
			c.JSON(http.StatusOK, con.ConsoleSince(c.Request.Context(), since, int(min(max, 10000)), wait))
		})
	}
}

// osGate answers for the in-band OS views while the OS is not running.
func (s *server) osGate(c *gin.Context) {
	if !strings.HasPrefix(c.Request.URL.Path, Prefix+"/os/") {
		c.Next()
		return
	}
	snap := s.p.Snapshot()
	h := snap.Host
	switch {
	case h.OSRunning && !h.ShuttingDown:
		c.Next()
	case !snap.PowerOn:
		s.fail(c, http.StatusConflict, "HostPoweredOff", "the host is powered off: its OS views appear once it boots (power it on)")
	case h.BootProgress == platform.BootProgressSetupEntered || h.Reason != "":
		why := h.Reason
		if why == "" {
			why = "the host is in its firmware setup utility"
		}
		s.fail(c, http.StatusConflict, "OSNotRunning", "the host's OS is not running: "+why+" (reset the host)")
	default:
		stage := h.BootProgress
		if h.ShuttingDown {
			stage = "shutting down"
		}
		c.Header("Retry-After", "1")
		s.fail(c, http.StatusServiceUnavailable, "OSNotRunning", "the host's OS is not running yet ("+stage+"): retry once it has booted")
	}
}

// Host reads the host's power and boot state.
func (c *Client) Host(ctx context.Context) (Host, error) {
	var h Host
	return h, c.do(ctx, http.MethodGet, "/host", nil, &h)
}

// Console reads the console lines after since, waiting up to wait for one.
func (c *Client) Console(ctx context.Context, since uint64, wait time.Duration) (platform.ConsolePage, error) {
	var pg platform.ConsolePage
	q := "/host/console?since=" + strconv.FormatUint(since, 10)
	if wait > 0 {
		q += "&wait=" + strconv.FormatFloat(wait.Seconds(), 'f', -1, 64)
	}
	return pg, c.do(ctx, http.MethodGet, q, nil, &pg)
}

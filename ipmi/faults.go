package ipmi

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"time"

	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/protocol"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform/netfault"
)

// Faults is what IPMI needs of the BMC's protocol fault injector
// (platform/netfault): a decision per opportunity and the cold-reset
// state the BMC shares with Redfish.
type Faults interface {
	Active(s netfault.Surface) bool
	Decide(s netfault.Surface, k netfault.Kind, subject string) (netfault.Rule, bool)
	Resetting() bool
	StartReset(d time.Duration, cause string) error
	OnReset(fn func())
}

// defaultColdReset is how long the BMC is silent after a Cold Reset
// command: short for tests (real BMCs take one to three minutes).
const defaultColdReset = 10 * time.Second

// outOfWindow is added to an answer's session sequence number: half the
// number space away is outside any console's window (v2.0 section
// 6.12.13: the window is 16 or 32 either side), ahead and behind alike.
const outOfWindow = 1 << 31

// dropInbound applies the datagram rules (cold reset, loss, delay) to
// one datagram read: it reports whether the datagram is taken away from
// the normal path (lost, or handed to a timer to be handled late).
func (c *sessionConn) dropInbound(pkt []byte, addr net.Addr) bool {
	f := c.faults
	if f == nil {
		return false
	}
	if f.Resetting() {
		return true
	}
	if c.staleSession(pkt) {
		return true
	}
	if !f.Active(netfault.IPMI) {
		return false
	}
	subject := "datagram from " + addr.String()
	if r, ok := f.Decide(netfault.IPMI, netfault.ColdReset, subject); ok {
		_ = f.StartReset(time.Duration(r.Seconds)*time.Second, "fault")
		return true
	}
	if _, ok := f.Decide(netfault.IPMI, netfault.Loss, subject); ok {
		return true
	}
	if r, ok := f.Decide(netfault.IPMI, netfault.Delay, subject); ok {
		late := bytes.Clone(pkt)
		time.AfterFunc(r.Delay, func() { c.late(late, addr) })
		return true
	}
	return false
}

// late handles a delayed datagram as if it had just been read.
func (c *sessionConn) late(pkt []byte, addr net.Addr) {
	select {
	case <-c.stop:
		return
	default:
	}
	if c.faults.Resetting() {
		return
	}
	if resp, n := c.one(nil, pkt, addr); n > 0 {
		c.answered.Add(1)
		for range n {
			_, _ = c.out.WriteTo(resp, addr)
		}
	}
}

// answerFaults decides the in-session answer rules for one command:
// whether its answer goes out with an out-of-window sequence number, and
// how many times it is sent.
func (c *sessionConn) answerFaults(addr net.Addr) (skew uint32, copies int) {
	copies = 1
	f := c.faults
	if f == nil || !f.Active(netfault.IPMI) {
		return 0, 1
	}
	subject := "answer to " + addr.String()
	if _, ok := f.Decide(netfault.IPMI, netfault.OutOfWindow, subject); ok {
		skew = outOfWindow
	}
	if _, ok := f.Decide(netfault.IPMI, netfault.Duplicate, subject); ok {
		copies = 2
	}
	return skew, copies
}

// resetSessions ends every session, as a BMC that reboots forgets them:
// the ones this reader knows now, and any other (v1.5, or one still in its
// handshake) when its next datagram comes (staleSession).
func (c *sessionConn) resetSessions() {
	c.resetAt.Store(c.b.Clock().Now().UnixNano())
	c.mu.Lock()
	ids := make([]uint32, 0, len(c.keys))
	for id := range c.keys {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	for _, id := range ids {
		_ = c.b.Sessions.Close(id)
	}
}

// staleSession reports, and ends, a session opened before the last cold
// reset that a datagram still names.
func (c *sessionConn) staleSession(pkt []byte) bool {
	at := c.resetAt.Load()
	if at == 0 || len(pkt) < 13 {
		return false
	}
	if pkt[4] == 0x06 { // RMCP+ (v2.0 section 13.6)
		id, _, _, _, _, ok := protocol.ParseRMCPPlusHeader(pkt)
		if !ok || id == 0 {
			return false
		}
		if s, err := c.b.Sessions.Get(id); err == nil && s.CreatedAt.UnixNano() <= at {
			_ = c.b.Sessions.Close(id)
			return true
		}
		return false
	}
	// IPMI v1.5: auth type, sequence number(4), session ID(4).
	id := binary.LittleEndian.Uint32(pkt[9:13])
	if id == 0 {
		return false
	}
	if s, err := c.b.V15Sessions.Get(id); err == nil && s.CreatedAt.UnixNano() <= at {
		_ = c.b.V15Sessions.Close(id)
		return true
	}
	return false
}

// handleColdReset is Cold Reset (IPMI v2.0 section 20.2): the BMC answers,
// then reboots: every session ends and nothing answers for the reset's
// length. The host is not touched (go-ipmi's default would power-cycle
// it through the chassis HAL).
func handleColdReset(m *machine) handlers.HandlerFunc {
	return func(context.Context, *handlers.HandlerContext, []byte) ([]byte, types.CompletionCode, error) {
		if m.faults == nil {
			return nil, types.CodeInvalidCommand, nil
		}
		if err := m.faults.StartReset(m.coldReset, "command"); err != nil {
			return nil, types.CodeNodeBusy, nil // already resetting
		}
		return nil, types.CodeOK, nil
	}
}

package ipmi

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/bougou/go-ipmi/pkg/hal"

	"github.com/bmcemu/bmcemu/platform"
)

// Serial over LAN (IPMI v2.0 ch. 15): go-ipmi's SOL payload handling
// (pkg/bmc's SOLStore and the server's payload data path) carries the
// host's serial console, which the platform keeps (platform/console.go).
// Activating the payload attaches to the console's byte stream from that
// moment on, as a remote console attached to a real serial port sees what
// the host prints from then: POST, the boot manager, the kernel, the
// login prompt. Keystrokes go to the host, whose getty echoes them once
// its OS runs.

// consoleHost is a platform with a serial console.
type consoleHost interface {
	OpenConsole() *platform.ConsoleReader
}

// errConsoleBusy refuses a second attachment: one serial port, one
// remote console (IPMI v2.0 §15.3).
var errConsoleBusy = errors.New("the serial console is already attached to a SOL session")

// solConsole is the host's serial port as go-ipmi's HAL reaches it.
type solConsole struct {
	host     consoleHost
	attached *atomic.Bool
}

// console is the HAL's Console: nil for a platform without one, which
// leaves SOL unadvertised.
func (m *machine) console() hal.ConsoleHAL {
	h, ok := m.p.(consoleHost)
	if !ok {
		return nil
	}
	return solConsole{host: h, attached: &m.solAttached}
}

func (c solConsole) Open(context.Context) (hal.ConsoleConn, error) {
	if !c.attached.CompareAndSwap(false, true) {
		return nil, errConsoleBusy
	}
	return &solConn{r: c.host.OpenConsole(), attached: c.attached}, nil
}

// solConn is one attachment.
type solConn struct {
	r        *platform.ConsoleReader
	attached *atomic.Bool
	closed   atomic.Bool
}

func (s *solConn) ReadAvailable(p []byte) (int, error) {
	if s.closed.Load() {
		return 0, errors.New("console detached")
	}
	return s.r.ReadAvailable(p), nil
}

func (s *solConn) Write(p []byte) (int, error) {
	if s.closed.Load() {
		return 0, errors.New("console detached")
	}
	s.r.Type(p)
	return len(p), nil
}

// SendBreak: the host's UART takes a BREAK; without magic SysRq set up it
// does nothing further.
func (s *solConn) SendBreak(context.Context) error { return nil }

func (s *solConn) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		s.attached.Store(false)
	}
	return nil
}

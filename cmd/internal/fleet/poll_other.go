//go:build !linux

package fleet

import (
	"errors"
	"net"
	"syscall"
)

// Without epoll each member socket gets a goroutine (see Fleet.build).
type poller struct{}

type watch struct{}

func newPoller() (*poller, error) { return nil, errors.New("epoll is Linux-only") }

func (*poller) add(syscall.RawConn, func()) (*watch, error) {
	return nil, errors.New("no poller")
}

func (*poller) close() {}
func (*watch) remove() {}

func acceptReady(*net.TCPListener, func(net.Conn)) {}

package fleet

import (
	"errors"
	"net"
	"os"
	"syscall"
)

// acceptReady accepts every connection waiting on ln without blocking
// (the poller said it is readable) and hands each to deliver.
func acceptReady(ln *net.TCPListener, deliver func(net.Conn)) {
	rc, err := ln.SyscallConn()
	if err != nil {
		return
	}
	for {
		var nfd int
		var aerr error
		// Control, not Read: a listener's RawConn has no Read. The socket
		// is non-blocking, so accept4 answers EAGAIN when none waits.
		if err := rc.Control(func(fd uintptr) {
			nfd, _, aerr = syscall.Accept4(int(fd), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		}); err != nil {
			return // the listener was closed
		}
		if aerr != nil {
			if errors.Is(aerr, syscall.ECONNABORTED) || errors.Is(aerr, syscall.EINTR) {
				continue
			}
			return // EAGAIN: drained; anything else (EMFILE) waits for the next readiness
		}
		f := os.NewFile(uintptr(nfd), "tcp")
		c, err := net.FileConn(f) // duplicates the descriptor
		f.Close()
		if err != nil {
			continue
		}
		deliver(c)
	}
}

//go:build unix

package fleet

import (
	"fmt"
	"syscall"
)

// CheckCapacity refuses a fleet this process cannot open before any member
// is built: one descriptor per socket a member binds, plus headroom for
// connections, must fit under RLIMIT_NOFILE (Go raises the soft limit to
// the hard one at start-up), and a fleet that starts on loopback must stay
// in 127.0.0.0/8.
func CheckCapacity(ms []Member) error {
	if err := checkAddresses(ms); err != nil {
		return err
	}
	need := uint64(256) // headroom: connections, state files, the poller
	for _, m := range ms {
		need += uint64(len(m.endpoints()))
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // unknown: let the binds speak
	}
	if need > lim.Cur {
		return fmt.Errorf("%d members need about %d file descriptors (one per socket, plus headroom); this process may open %d: raise it (ulimit -n %d, or LimitNOFILE= in a systemd unit) or run fewer members per process (--shard)",
			len(ms), need, lim.Cur, need)
	}
	return nil
}

//go:build unix

package fleet

import (
	"net/netip"
	"strings"
	"syscall"
	"testing"
)

func TestCheckCapacityAddresses(t *testing.T) {
	lay := Layout{First: netip.MustParseAddr("127.255.255.250"), IPMIPort: 623, HTTPSPort: 443, User: "a", Password: "b"}
	ms, err := Generate(10, 1, lay)
	if err != nil {
		t.Fatal(err)
	}
	err = CheckCapacity(ms)
	if err == nil || !strings.Contains(err.Error(), "outside the loopback range") || !strings.Contains(err.Error(), "128.0.0.0") {
		t.Errorf("a fleet spilling out of 127.0.0.0/8: %v", err)
	}
	if err := CheckCapacity(ms[:6]); err != nil {
		t.Errorf("six members up to 127.255.255.255: %v", err)
	}
}

func TestCheckCapacityDescriptors(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip(err)
	}
	// A limit low enough to reach: 1000 descriptors, restored after.
	low := lim
	low.Cur = min(lim.Cur, 1000)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skip(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	lay := Layout{First: netip.MustParseAddr("127.0.0.1"), SamePorts: true, IPMIPort: 20000, HTTPPort: 30000, User: "a", Password: "b"}
	fits := (int(low.Cur) - 256) / 2 // two sockets a member, and the headroom
	ms, err := Generate(fits+1, 1, lay)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckCapacity(ms); err == nil || !strings.Contains(err.Error(), "file descriptors") {
		t.Errorf("%d members of 2 sockets under a limit of %d: %v", len(ms), low.Cur, err)
	}
	if err := CheckCapacity(ms[:fits]); err != nil {
		t.Errorf("%d members under a limit of %d: %v", fits, low.Cur, err)
	}
}

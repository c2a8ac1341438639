package conformance

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rssKiB reads a process's resident set from /proc.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// plainBinary builds bmcemu without the race detector, whose shadow memory
// would swamp a memory bound.
func plainBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bmcemu")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/bmcemu").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestPreLoginMemoryBounded: 2,000 connections from eight source addresses,
// each sending an unfinished request header a megabyte long, without
// credentials, keep the server's RSS within 64 MiB of where it started, and
// a client from another address is answered all the while.
func TestPreLoginMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	e := start(t, startOpts{bin: plainBinary(t), args: []string{"--log-level", "error"}})
	pid := e.cmd.Process.Pid
	before := rssKiB(t, pid)

	chunk := []byte("X-Filler: " + strings.Repeat("a", 64<<10))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	for src := 1; src <= 8; src++ {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 5, byte(src))}, Timeout: 5 * time.Second}
		for range 250 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.HTTPPort))
				if err != nil {
					return // refused: that is the point
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Write([]byte("GET /redfish/v1/Systems/1 HTTP/1.1\r\nHost: bmc\r\n")); err != nil {
					return
				}
				for range 16 { // about a megabyte, never finished
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	peak := rssKiB(t, pid)

	// Meanwhile, a client from another address.
	legit := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 6, 1)}}).DialContext}}
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/redfish/v1/Systems/1", nil)
	req.SetBasicAuth(e.User, e.Password)
	resp, err := legit.Do(req)
	if err != nil {
		t.Fatalf("a client from another address was not answered: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a client from another address got %d", resp.StatusCode)
	}
	if grew := peak - before; grew > 64<<10 {
		t.Errorf("RSS grew by %d KiB (from %d to %d KiB) under 2,000 unfinished headers; the bound is 64 MiB", grew, before, peak)
	}
	t.Logf("RSS %d KiB before, %d KiB with 2,000 unfinished 1 MiB headers open (%d connections got through the dial)", before, peak, len(conns))
}

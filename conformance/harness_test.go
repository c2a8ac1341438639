package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bmcemuBin is built once per test run from ./cmd/bmcemu.
var bmcemuBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bmcemu-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bmcemuBin = filepath.Join(dir, "bmcemu")
	build := exec.Command("go", "build", "-race", "-o", bmcemuBin, "../cmd/bmcemu")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building bmcemu:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needTool finds an external client. Under CI=true a missing tool fails the
// test (the CI script must install it); elsewhere the test is skipped.
func needTool(t *testing.T, name string) string {
	t.Helper()
	for _, dir := range []string{"", "/usr/bin/", "/usr/sbin/"} {
		if p, err := exec.LookPath(dir + name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed; .ci/run must install it", name)
	}
	t.Skipf("%s is not installed (apt-get install ipmitool freeipmi-tools redfishtool python3-sushy ansible python3-ironicclient); skipping", name)
	return ""
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	return freeTCPPortOn(t, "127.0.0.1")
}

// freeTCPPortOn finds a free port on one loopback address.
func freeTCPPortOn(t *testing.T, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	return freeUDPPortOn(t, "127.0.0.1")
}

// freeUDPPortOn finds a free UDP port on one loopback address.
func freeUDPPortOn(t *testing.T, host string) int {
	t.Helper()
	c, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// Emulator is one running `bmcemu serve` process.
type Emulator struct {
	t        *testing.T
	Host     string // the loopback address the listeners bind
	HTTPPort int
	TLSPort  int
	IPMIPort int
	IPMIHost string
	StateDir string
	URL      string
	User     string
	Password string
	cmd      *exec.Cmd
	bin      string
	exited   chan struct{}
	mu       sync.Mutex
	output   bytes.Buffer
}

type startOpts struct {
	// host is the loopback address every listener binds ("" is
	// 127.0.0.1), so tests sharing a machine can keep to their own.
	host     string
	stateDir string
	ipmiHost string
	ipmiPort int
	args     []string
	bin      string // "" is bmcemuBin (built with -race)
}

// start runs the binary on free loopback ports and waits for "ready".
func start(t *testing.T, o startOpts) *Emulator {
	t.Helper()
	if o.stateDir == "" {
		o.stateDir = t.TempDir()
	}
	if o.host == "" {
		o.host = "127.0.0.1"
	}
	if o.ipmiHost == "" {
		o.ipmiHost = o.host
	}
	if o.ipmiPort == 0 {
		o.ipmiPort = freeUDPPortOn(t, o.ipmiHost)
	}
	e := &Emulator{t: t, Host: o.host, HTTPPort: freeTCPPortOn(t, o.host), TLSPort: freeTCPPortOn(t, o.host), IPMIPort: o.ipmiPort,
		IPMIHost: o.ipmiHost, StateDir: o.stateDir, User: "admin", Password: "password", exited: make(chan struct{})}
	e.URL = fmt.Sprintf("http://%s:%d", o.host, e.HTTPPort)
	args := append([]string{"serve",
		"--redfish-addr", fmt.Sprintf("%s:%d", o.host, e.HTTPPort),
		"--redfish-tls-addr", fmt.Sprintf("%s:%d", o.host, e.TLSPort),
		"--ipmi-addr", fmt.Sprintf("%s:%d", e.IPMIHost, e.IPMIPort),
		"--state-dir", e.StateDir,
	}, o.args...)
	e.bin = o.bin
	e.launch(args)
	return e
}

// launch runs bmcemu with args and waits for "ready"; cleanup stops it.
func (e *Emulator) launch(args []string) {
	t := e.t
	t.Helper()
	bin := e.bin
	if bin == "" {
		bin = bmcemuBin
	}
	e.cmd = exec.Command(bin, args...)
	stdout, err := e.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	e.cmd.Stderr = &lockedWriter{e: e}
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			e.mu.Lock()
			e.output.WriteString(line + "\n")
			e.mu.Unlock()
			if line == "ready" {
				once.Do(func() { close(ready) })
			}
		}
	}()
	go func() {
		_ = e.cmd.Wait()
		close(e.exited)
	}()
	select {
	case <-ready:
	case <-e.exited:
		t.Fatalf("bmcemu exited before it was ready:\n%s", e.Output())
	case <-time.After(60 * time.Second):
		_ = e.cmd.Process.Kill()
		t.Fatalf("bmcemu not ready after 60s:\n%s", e.Output())
	}
	t.Cleanup(func() {
		e.Stop()
		if t.Failed() {
			t.Logf("bmcemu output:\n%s", e.Output())
		}
	})
}

type lockedWriter struct{ e *Emulator }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.e.mu.Lock()
	defer w.e.mu.Unlock()
	return w.e.output.Write(p)
}

// Output is everything the process printed so far.
func (e *Emulator) Output() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.output.String()
}

// Stop sends SIGTERM and waits for a graceful exit; it returns the exit error.
func (e *Emulator) Stop() error {
	select {
	case <-e.exited:
		return e.exitErr()
	default:
	}
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(10 * time.Second):
		_ = e.cmd.Process.Kill()
		<-e.exited
		return fmt.Errorf("bmcemu did not exit within 10s of SIGTERM")
	}
	return e.exitErr()
}

func (e *Emulator) exitErr() error {
	if e.cmd.ProcessState.Success() {
		return nil
	}
	return fmt.Errorf("bmcemu exited: %s", e.cmd.ProcessState)
}

// Kill9 ends the process the hard way, as a power cut would.
func (e *Emulator) Kill9() {
	_ = e.cmd.Process.Kill()
	<-e.exited
}

// run executes a client with a deadline and returns its combined output.
func run(t *testing.T, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("%s %s: timed out after %s", name, strings.Join(args, " "), timeout)
	}
	return string(out), err
}

// ipmitool runs the real ipmitool over lanplus against e.
func (e *Emulator) ipmitool(args ...string) (string, error) {
	bin := needTool(e.t, "ipmitool")
	base := []string{"-I", "lanplus", "-H", e.IPMIHost, "-p", fmt.Sprint(e.IPMIPort), "-U", e.User, "-P", e.Password, "-N", "1", "-R", "3"}
	return run(e.t, 60*time.Second, bin, append(base, args...)...)
}

func (e *Emulator) mustIPMI(args ...string) string {
	e.t.Helper()
	out, err := e.ipmitool(args...)
	if err != nil {
		e.t.Fatalf("ipmitool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// ctl runs `bmcemu ctl` against e.
func (e *Emulator) ctl(args ...string) (string, error) {
	base := []string{"ctl", "--server", e.URL, "-u", e.User, "-p", e.Password}
	return run(e.t, 30*time.Second, bmcemuBin, append(base, args...)...)
}

// redfishtool runs the real redfishtool against e.
func (e *Emulator) redfishtool(args ...string) (string, error) {
	bin := needTool(e.t, "redfishtool")
	host := e.Host
	if host == "" {
		host = "127.0.0.1"
	}
	base := []string{"-r", fmt.Sprintf("%s:%d", host, e.HTTPPort), "-S", "Never", "-u", e.User, "-p", e.Password}
	return run(e.t, 60*time.Second, bin, append(base, args...)...)
}

// getJSON fetches a Redfish resource with Basic auth.
func (e *Emulator) getJSON(path string, v any) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.URL+path, nil)
	req.SetBasicAuth(e.User, e.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			e.t.Fatalf("GET %s: %d, body not JSON: %v\n%s", path, resp.StatusCode, err, b)
		}
	}
	return resp
}

// waitSlot polls the control API until slot's SMC power state is want. The
// hardware steps run on the emulator's clock; this only waits for them.
func (e *Emulator) waitSlot(slot, want string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := e.ctl("slots", slot, "-o", "json")
		var s struct{ Power string }
		if err == nil && json.Unmarshal([]byte(out), &s) == nil && s.Power == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("slot %s never reached power %s: %v\n%s", slot, want, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// send makes a Redfish request with a JSON body as the administrator and
// returns the status code.
func (e *Emulator) send(method, path, body string) int {
	e.t.Helper()
	req, err := http.NewRequest(method, e.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.SetBasicAuth(e.User, e.Password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// syncBuffer collects a process's output while tests read it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

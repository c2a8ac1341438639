package ipmi

import (
	"bytes"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/crypto"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform/accounts"
	"github.com/bmcemu/bmcemu/platform/clock"
)

// preSession sends one session-setup payload and returns the answer of
// type want whatever its status, which the caller checks.
func (c *leanConsole) preSessionAny(typ, want byte, payload []byte) ([]byte, error) {
	pkt := make([]byte, leanHeaderLen, leanHeaderLen+len(payload))
	c.rmcpHeader(pkt, typ, 0, 0, len(payload))
	if _, err := c.conn.Write(append(pkt, payload...)); err != nil {
		return nil, err
	}
	// A deadline only so that a lost datagram fails the test instead of
	// hanging it; every expected answer is sent at once.
	_ = c.conn.SetReadDeadline(time.Now().Add(c.timeout))
	n, err := c.conn.Read(c.in)
	if err != nil {
		return nil, err
	}
	p := c.in[:n]
	if n < leanHeaderLen+2 || p[5]&0x3F != want {
		return nil, fmt.Errorf("unexpected answer % x", p)
	}
	return bytes.Clone(p[leanHeaderLen:]), nil
}

// openSession sends an RMCP+ Open Session Request (cipher suite 3) and
// returns the response's status and the BMC's session ID.
func (c *leanConsole) openSession() (status byte, bmcID uint32, err error) {
	open := []byte{1, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 8, byte(types.AuthAlg_HMAC_SHA1), 0, 0, 0,
		1, 0, 0, 8, byte(types.IntegrityAlg_HMAC_SHA1_96), 0, 0, 0,
		2, 0, 0, 8, byte(types.CryptAlg_AES_CBC_128), 0, 0, 0}
	binary.LittleEndian.PutUint32(open[4:], c.consoleID)
	r, err := c.preSessionAny(payloadOpenSessionReq, payloadOpenSessionResp, open)
	if err != nil {
		return 0, 0, err
	}
	if len(r) < 8 || binary.LittleEndian.Uint32(r[4:8]) != c.consoleID {
		return 0, 0, fmt.Errorf("open session response % x", r)
	}
	if r[1] == 0 && len(r) >= 12 {
		bmcID = binary.LittleEndian.Uint32(r[8:12])
	}
	return r[1], bmcID, nil
}

// wrongPassword runs a whole RAKP handshake as user with password pass
// from local, the way a console that believes pass is right does: it
// answers RAKP 2 with a RAKP 3 keyed with pass, so the BMC itself finds
// the mismatch (RAKP 4 with an error status) at once, with no timer.
// It returns the status of the step that stopped the handshake.
func wrongPassword(t *testing.T, local, addr, user, pass string) (step string, status byte) {
	t.Helper()
	c, err := newLeanConsole(local, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.conn.Close()
	st, bmcID, err := c.openSession()
	if err != nil {
		t.Fatal(err)
	}
	if st != 0 {
		return "open session", st
	}
	var rc [16]byte
	_, _ = crand.Read(rc[:])
	rakp1 := make([]byte, 28, 28+len(user))
	rakp1[0] = 2
	binary.LittleEndian.PutUint32(rakp1[4:], bmcID)
	copy(rakp1[8:], rc[:])
	rakp1[24] = leanRole
	rakp1[27] = byte(len(user))
	rakp1 = append(rakp1, user...)
	r, err := c.preSessionAny(payloadRAKP1, payloadRAKP2, rakp1)
	if err != nil {
		t.Fatal(err)
	}
	if r[1] != 0 || len(r) < 40 {
		return "RAKP 2", r[1]
	}
	code, err := crypto.RAKP3AuthCode(types.AuthAlg_HMAC_SHA1, r[8:24], c.consoleID, leanRole, user, crypto.PadPassword20([]byte(pass)))
	if err != nil {
		t.Fatal(err)
	}
	rakp3 := make([]byte, 8, 8+len(code))
	rakp3[0] = 3
	binary.LittleEndian.PutUint32(rakp3[4:], bmcID)
	r, err = c.preSessionAny(payloadRAKP3, payloadRAKP4, append(rakp3, code...))
	if err != nil {
		t.Fatal(err)
	}
	return "RAKP 4", r[1]
}

// lineBuffer is a log sink that goroutines may write to while the test
// reads it.
type lineBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lineBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lineBuffer) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for line := range strings.Lines(l.b.String()) {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

func (l *lineBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestWrongPasswordFromOneAddress is the hardening issue's denial of
// service over IPMI: RAKP handshakes with a wrong password from 127.0.0.2
// block 127.0.0.2 for the penalty (its Open Session Requests answered
// "insufficient resources", the right password included) and never stop
// ipmitool with the right password from the default source address.
func TestWrongPasswordFromOneAddress(t *testing.T) {
	ipmitool := tool(t, "/usr/bin/ipmitool")
	clk := clock.NewManual(fixedNow())
	logs := &lineBuffer{}
	st, err := accounts.Open(accounts.Options{Clock: clk, Logger: textLogger(logs), Seed: []accounts.New{
		{UserName: "admin", Password: "password", Role: accounts.RoleAdministrator, Enabled: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	b := startBMCWith(t, newPlatform(t), Config{Accounts: st, Clock: clk})
	addr := net.JoinHostPort("127.0.0.1", b.port)

	for i := range 5 {
		// 0Dh (unauthorized name) or 0Fh (invalid integrity check value):
		// either way the BMC refused the password.
		if step, status := wrongPassword(t, "127.0.0.2", addr, "admin", "wrong-pw"); step != "RAKP 4" || status == 0 {
			t.Fatalf("wrong password %d: stopped at %s with status %#02x, want a RAKP 4 error", i, step, status)
		}
	}
	// Blocked: refused at Open Session, whatever the password.
	if step, status := wrongPassword(t, "127.0.0.2", addr, "admin", "password"); step != "open session" || status != rakpInsufficientResources {
		t.Fatalf("blocked address: stopped at %s with status %#02x, want open session 01h", step, status)
	}
	if _, err := dialLeanFrom("127.0.0.2", addr, "admin", "password", 5*time.Second); err == nil {
		t.Fatal("blocked address opened a session with the right password")
	}
	// The administrator is not locked out: ipmitool (which cannot choose
	// its source address: 127.0.0.1) gets in.
	if a, _ := st.Lookup("admin"); a.Locked {
		t.Fatal("admin locked out by one address")
	}
	base := []string{"-I", "lanplus", "-H", "127.0.0.1", "-p", b.port, "-U", "admin", "-P", "password", "-R", "1", "-N", "3"}
	if out, err := run(t, ipmitool, append(base, "mc", "guid")...); err != nil {
		t.Fatalf("ipmitool from 127.0.0.1: %v\n%s", err, out)
	}

	// Retrying costs no log line within the summary interval.
	before := logs.count("127.0.0.2")
	for range 200 {
		c, err := newLeanConsole("127.0.0.2", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		status, _, err := c.openSession()
		_ = c.conn.Close()
		if err != nil || status != rakpInsufficientResources {
			t.Fatalf("retry: status %#02x, %v", status, err)
		}
	}
	if n := logs.count("127.0.0.2"); n != before || n > 8 {
		t.Errorf("%d log lines name 127.0.0.2 after 200 refused handshakes (%d before):\n%s", n, before, logs)
	}

	// The penalty runs on the injected clock.
	clk.Advance(5*time.Minute - time.Second)
	if step, status := wrongPassword(t, "127.0.0.2", addr, "admin", "password"); step != "open session" || status != rakpInsufficientResources {
		t.Fatalf("a second before the penalty ends: %s %#02x", step, status)
	}
	clk.Advance(time.Second)
	c, err := dialLeanFrom("127.0.0.2", addr, "admin", "password", 5*time.Second)
	if err != nil {
		t.Fatalf("after the penalty: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "address_blocked=") {
		t.Errorf("no refusal summary:\n%s", logs)
	}
}

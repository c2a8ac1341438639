package ipmi

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/crypto"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform/sel"
)

// leanConsole is a minimal RMCP+ console (cipher suite 3: RAKP-HMAC-SHA1,
// HMAC-SHA1-96, AES-CBC-128) for the throughput benchmark. go-ipmi's client
// is too heavy to measure a server with: per command it starts a goroutine,
// allocates a 4 KiB receive buffer and reseeds a math/rand source (~5 KiB)
// for the IV, so on a small machine it, not the BMC, sets the rate.
//
// This console does the same protocol work a real one must (encrypt, sign,
// verify the response's integrity, decrypt, match the sequence) with keys
// set up once and buffers reused, so what it costs per command is close to
// the floor and the same for every server it drives. It uses go-ipmi's
// crypto package for the handshake arithmetic.
type leanConsole struct {
	conn             *net.UDPConn
	timeout          time.Duration
	consoleID, bmcID uint32
	seq              uint32 // last session sequence number sent
	rqSeq            uint8
	mac              hash.Hash    // HMAC-SHA1 keyed with K1
	block            cipher.Block // AES-128 keyed with K2[:16]
	iv               *rand.ChaCha8
	strict           bool // tests: an unexpected datagram is an error
	out, in, plain   []byte
	sum              []byte
}

const (
	leanAuthCodeLen = 12 // HMAC-SHA1-96
	leanRole        = 0x14
	leanHeaderLen   = 16 // RMCP(4) + session header(12)
)

// errLeanTimeout is a command that got no matching answer in time; the
// benchmark counts it as an error and carries on.
var errLeanTimeout = errors.New("lean console: no answer")

// dialLean opens one RMCP+ session to addr with cipher suite 3 and raises it
// to Administrator, as ipmitool -I lanplus -C 3 does.
func dialLean(addr, user, pass string, timeout time.Duration) (*leanConsole, error) {
	return dialLeanFrom("", addr, user, pass, timeout)
}

// dialLeanFrom is dialLean from the local address local ("" lets the
// system choose): a console on another address of 127.0.0.0/8.
func dialLeanFrom(local, addr, user, pass string, timeout time.Duration) (*leanConsole, error) {
	c, err := newLeanConsole(local, addr, timeout)
	if err != nil {
		return nil, err
	}
	if err := c.handshake(user, pass); err != nil {
		_ = c.conn.Close()
		return nil, err
	}
	return c, nil
}

// newLeanConsole binds the console's socket, from local if not "".
func newLeanConsole(local, addr string, timeout time.Duration) (*leanConsole, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	var la *net.UDPAddr
	if local != "" {
		la = &net.UDPAddr{IP: net.ParseIP(local)}
	}
	conn, err := net.DialUDP("udp", la, ua)
	if err != nil {
		return nil, err
	}
	var seed [32]byte
	_, _ = crand.Read(seed[:])
	c := &leanConsole{
		conn: conn, timeout: timeout,
		consoleID: rand.Uint32() | 1,
		iv:        rand.NewChaCha8(seed),
		out:       make([]byte, 0, 512), in: make([]byte, 1024), plain: make([]byte, 0, 512),
	}
	return c, nil
}

func (c *leanConsole) handshake(user, pass string) error {
	const alg = types.AuthAlg_HMAC_SHA1
	open := []byte{1, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 8, byte(alg), 0, 0, 0,
		1, 0, 0, 8, byte(types.IntegrityAlg_HMAC_SHA1_96), 0, 0, 0,
		2, 0, 0, 8, byte(types.CryptAlg_AES_CBC_128), 0, 0, 0}
	binary.LittleEndian.PutUint32(open[4:], c.consoleID)
	r, err := c.preSession(0x10, 0x11, open, 12)
	if err != nil {
		return fmt.Errorf("open session: %w", err)
	}
	c.bmcID = binary.LittleEndian.Uint32(r[8:12])

	var rc [16]byte
	_, _ = crand.Read(rc[:])
	rakp1 := make([]byte, 28, 28+len(user))
	rakp1[0] = 2
	binary.LittleEndian.PutUint32(rakp1[4:], c.bmcID)
	copy(rakp1[8:], rc[:])
	rakp1[24] = leanRole
	rakp1[27] = byte(len(user))
	rakp1 = append(rakp1, user...)
	r, err = c.preSession(0x12, 0x13, rakp1, 40)
	if err != nil {
		return fmt.Errorf("RAKP 1: %w", err)
	}
	// Copied: r aliases the receive buffer, which RAKP 3's answer reuses.
	rm, guid := bytes.Clone(r[8:24]), r[24:40]
	kuid := crypto.PadPassword20([]byte(pass))
	want, err := crypto.RAKP2AuthCode(alg, c.consoleID, c.bmcID, rc[:], rm, guid, leanRole, user, kuid)
	if err != nil || !hmac.Equal(want, r[40:]) {
		return errors.New("RAKP 2: key exchange code does not match (wrong password?)")
	}
	code, err := crypto.RAKP3AuthCode(alg, rm, c.consoleID, leanRole, user, kuid)
	if err != nil {
		return err
	}
	rakp3 := make([]byte, 8, 8+len(code))
	rakp3[0] = 3
	binary.LittleEndian.PutUint32(rakp3[4:], c.bmcID)
	if _, err := c.preSession(0x14, 0x15, append(rakp3, code...), 8); err != nil {
		return fmt.Errorf("RAKP 3: %w", err)
	}
	_, k1, k2, err := crypto.DeriveSessionKeys(alg, rc[:], rm, leanRole, user, kuid)
	if err != nil {
		return err
	}
	c.mac = hmac.New(sha1.New, k1)
	c.sum = make([]byte, 0, c.mac.Size())
	if c.block, err = aes.NewCipher(k2[:16]); err != nil {
		return err
	}
	// Set Session Privilege Level: Administrator.
	if cc, _, err := c.Command(0x06, 0x3B, []byte{4}); err != nil || cc != 0 {
		return fmt.Errorf("set session privilege: cc %#02x, %v", cc, err)
	}
	return nil
}

// preSession sends one session-setup payload and returns the answer of
// type want, checking its status byte and minimum length.
func (c *leanConsole) preSession(typ, want byte, payload []byte, minLen int) ([]byte, error) {
	pkt := make([]byte, leanHeaderLen, leanHeaderLen+len(payload))
	c.rmcpHeader(pkt, typ, 0, 0, len(payload))
	if _, err := c.conn.Write(append(pkt, payload...)); err != nil {
		return nil, err
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(c.timeout))
	n, err := c.conn.Read(c.in)
	if err != nil {
		return nil, err
	}
	p := c.in[:n]
	if n < leanHeaderLen || p[5]&0x3F != want {
		return nil, fmt.Errorf("unexpected answer % x", p)
	}
	p = p[leanHeaderLen:]
	if len(p) < 2 || p[1] != 0 {
		return nil, fmt.Errorf("status % x", p)
	}
	if len(p) < minLen {
		return nil, fmt.Errorf("answer too short: % x", p)
	}
	return p, nil
}

func (c *leanConsole) rmcpHeader(pkt []byte, typeFlags byte, session, seq uint32, n int) {
	pkt[0], pkt[1], pkt[2], pkt[3] = 0x06, 0, 0xFF, 0x07
	pkt[4], pkt[5] = 0x06, typeFlags
	binary.LittleEndian.PutUint32(pkt[6:], session)
	binary.LittleEndian.PutUint32(pkt[10:], seq)
	binary.LittleEndian.PutUint16(pkt[14:], uint16(n))
}

// Command sends one IPMI request in the session and waits for its
// response, returning the completion code and the response data (valid until
// the next call). Answers to earlier, timed-out requests are skipped, unless
// strict is set: then any other datagram is an error.
func (c *leanConsole) Command(netFn, cmd byte, data []byte) (byte, []byte, error) {
	if _, err := c.conn.Write(c.request(netFn, cmd, data)); err != nil {
		return 0, nil, err
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(c.timeout))
	for {
		n, err := c.conn.Read(c.in)
		if err != nil {
			if os.IsTimeout(err) {
				return 0, nil, errLeanTimeout
			}
			return 0, nil, err
		}
		cc, resp, ok := c.open(c.in[:n], netFn, cmd)
		if ok {
			return cc, resp, nil
		}
		if c.strict {
			return 0, nil, fmt.Errorf("unexpected datagram % x", c.in[:n])
		}
	}
}

// request builds the next request packet: encrypted, then signed. It is
// valid until the next call.
func (c *leanConsole) request(netFn, cmd byte, data []byte) []byte {
	c.seq++
	c.rqSeq = (c.rqSeq + 1) & 0x3F
	// IPMI message: rsSA, netFn/LUN, checksum, rqSA, rqSeq/LUN, cmd, data, checksum.
	msg := append(c.plain[:0], 0x20, netFn<<2)
	msg = append(msg, checksum(msg), 0x81, c.rqSeq<<2, cmd)
	msg = append(msg, data...)
	msg = append(msg, checksum(msg[3:]))
	// Confidentiality pad (v2.0 §13.29): 1, 2, ... then the pad length.
	pad := 15 - len(msg)%16
	for i := 1; i <= pad; i++ {
		msg = append(msg, byte(i))
	}
	msg = append(msg, byte(pad))
	c.plain = msg

	payloadLen := 16 + len(msg)
	pkt := c.out[:leanHeaderLen+payloadLen]
	iv := pkt[leanHeaderLen : leanHeaderLen+16]
	_, _ = c.iv.Read(iv)
	cipher.NewCBCEncrypter(c.block, iv).CryptBlocks(pkt[leanHeaderLen+16:], msg)
	pkt = c.sign(pkt, 0xC0)
	c.out = pkt[:0]
	return pkt
}

// sign fills in pkt's headers for its payload (pkt[16:]) and appends the
// session trailer: integrity pad to a 4-byte boundary, pad length, next
// header 07h, and the HMAC-SHA1-96 AuthCode.
func (c *leanConsole) sign(pkt []byte, typeFlags byte) []byte {
	payloadLen := len(pkt) - leanHeaderLen
	c.rmcpHeader(pkt, typeFlags, c.bmcID, c.seq, payloadLen)
	ipad := types.IntegrityPadLen(12, payloadLen)
	for range ipad {
		pkt = append(pkt, 0xFF)
	}
	pkt = append(pkt, byte(ipad), 0x07)
	c.mac.Reset()
	c.mac.Write(pkt[4:])
	c.sum = c.mac.Sum(c.sum[:0])
	return append(pkt, c.sum[:leanAuthCodeLen]...)
}

// open verifies, decrypts and matches one answer; ok is false for anything
// that is not the response to the request in flight.
func (c *leanConsole) open(p []byte, netFn, cmd byte) (byte, []byte, bool) {
	if len(p) < leanHeaderLen || p[4] != 0x06 || p[5] != 0xC0 || binary.LittleEndian.Uint32(p[6:]) != c.consoleID {
		return 0, nil, false
	}
	n := int(binary.LittleEndian.Uint16(p[14:]))
	end := leanHeaderLen + n
	ipad := types.IntegrityPadLen(12, n)
	codeAt := end + ipad + 2
	if n < 32 || n%16 != 0 || len(p) != codeAt+leanAuthCodeLen {
		return 0, nil, false
	}
	c.mac.Reset()
	c.mac.Write(p[4:codeAt])
	c.sum = c.mac.Sum(c.sum[:0])
	if !hmac.Equal(c.sum[:leanAuthCodeLen], p[codeAt:]) {
		return 0, nil, false
	}
	body := p[leanHeaderLen+16 : end]
	cipher.NewCBCDecrypter(c.block, p[leanHeaderLen:leanHeaderLen+16]).CryptBlocks(body, body)
	padLen := int(body[len(body)-1])
	if padLen >= len(body) {
		return 0, nil, false
	}
	msg := body[:len(body)-1-padLen]
	// rqSA, netFn/LUN, checksum, rsSA, rqSeq/LUN, cmd, cc, data, checksum.
	if len(msg) < 8 || msg[1]>>2 != netFn|1 || msg[4]>>2 != c.rqSeq || msg[5] != cmd {
		return 0, nil, false
	}
	return msg[6], msg[7 : len(msg)-1], true
}

// Close ends the session (Close Session) and releases the socket.
func (c *leanConsole) Close() error {
	var id [4]byte
	binary.LittleEndian.PutUint32(id[:], c.bmcID)
	cc, _, err := c.Command(0x06, 0x3C, id[:])
	if err == nil && cc != 0 {
		err = fmt.Errorf("close session: completion code %#02x", cc)
	}
	return errors.Join(err, c.conn.Close())
}

func checksum(b []byte) byte {
	var s byte
	for _, x := range b {
		s += x
	}
	return -s
}

// TestLeanConsole checks the benchmark's console against go-ipmi's client:
// byte-identical answers to the benchmark's two commands, a wrong password
// refused, and Close Session accepted.
func TestLeanConsole(t *testing.T) {
	b := startBMC(t)
	if _, err := b.srv.SEL().Add(sel.Event{GeneratorID: sel.GeneratorBMC, EvMRev: sel.EvMRev, SensorType: sensorTypeMemory,
		SensorNumber: 1, EventType: readingTypeSensorSpecial, Data: [3]byte{memData1 | memCorrectableECC, 0xFF, 0}}.Record()); err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", b.port)
	c, err := dialLean(addr, "admin", "password", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	g := goIPMI(t, b)

	for range 3 { // more than once: sequence numbers and buffers advance
		for _, q := range []struct {
			netFn, cmd byte
			data       []byte
		}{{0x0A, 0x43, getSELEntry0}, {0x04, 0x2D, []byte{1}}} {
			cc, got, err := c.Command(q.netFn, q.cmd, q.data)
			if err != nil || cc != 0 {
				t.Fatalf("netFn %#02x cmd %#02x: cc %#02x, %v", q.netFn, q.cmd, cc, err)
			}
			want, err := g.RawCommand(ctx, types.NetFn(q.netFn), q.cmd, q.data, "")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Response) {
				t.Errorf("netFn %#02x cmd %#02x: lean console read % x, go-ipmi % x", q.netFn, q.cmd, got, want.Response)
			}
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := dialLean(addr, "admin", "wrong", time.Second); err == nil {
		t.Error("wrong password: session opened")
	}
}

// TestGoIPMIReadsEverySDR: go-ipmi's GetSDRs reads each full record and
// then asks every threshold sensor for its hysteresis (Get Sensor
// Hysteresis, §35.7); an error from any sensor, the board's CPU
// temperature and fan sensors included, fails the whole listing.
func TestGoIPMIReadsEverySDR(t *testing.T) {
	b := startBMC(t)
	ctx := context.Background()
	g := goIPMI(t, b)
	sdrs, err := g.GetSDRs(ctx)
	if err != nil {
		t.Fatalf("go-ipmi GetSDRs: %v", err)
	}
	board := 0
	for _, r := range sdrs {
		if f := r.Full; f != nil && f.SensorNumber >= cpuTempSensorBase {
			board++
			if f.PositiveHysteresisRaw != 0 || f.NegativeHysteresisRaw != 0 {
				t.Errorf("%s: hysteresis %d/%d, want 0/0 as its SDR declares none", f.IDStringBytes, f.PositiveHysteresisRaw, f.NegativeHysteresisRaw)
			}
		}
	}
	if board == 0 {
		t.Errorf("GetSDRs returned %d records and no board sensor (number >= %#x)", len(sdrs), cpuTempSensorBase)
	}
}

// goIPMI is go-ipmi's client logged in to b over lanplus (cipher suite 3),
// closed when the test ends.
func goIPMI(t *testing.T, b *liveBMC) *client.Client {
	t.Helper()
	port, _ := strconv.Atoi(b.port)
	ctx := context.Background()
	g, err := client.NewClient("127.0.0.1", port, "admin", "password")
	if err != nil {
		t.Fatal(err)
	}
	g.WithInterface(client.InterfaceLanplus).WithCipherSuiteID(types.CipherSuiteID3)
	if err := g.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close(ctx) })
	return g
}

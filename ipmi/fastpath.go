package ipmi

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"hash"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/crypto"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/protocol"
	"github.com/bougou/go-ipmi/pkg/server"
	"github.com/bougou/go-ipmi/pkg/transport"
	"github.com/bougou/go-ipmi/pkg/types"
	"golang.org/x/net/ipv4"
)

// sessionConn reads the server socket: in-session IPMI commands (RMCP+
// payload type 0 with a session ID: all the steady-state traffic) are
// answered here, everything else goes to go-ipmi's Serve loop, which runs
// only while that traffic comes or sessions are open.
//
// Why: go-ipmi answers every packet on a fresh goroutine and rebuilds the
// session's HMAC and AES state for each one. Profiled under 16 lanplus
// sessions, growing those goroutines' stacks (runtime.copystack) took ~19%
// of the server's CPU and hmac.New another ~17%: more than the commands and
// as much as the socket calls. Here one reader answers the commands with
// each session's keyed HMAC and AES cipher built once, and moves datagrams
// in batches: up to readBatch per recvmmsg, the answers to a batch in one
// sendmmsg (golang.org/x/net/ipv4; one datagram per call where the system
// lacks them). Answering in the reader, not on a worker it hands packets
// to, spares each command a goroutine wake-up: that hand-off was most of a
// lone session's round trip, and on a small machine the CPUs are better
// left to the other work a command needs (the console, the kernel's UDP
// path) than to a second server thread.
//
// The steps and checks are go-ipmi's (server.handleRMCPPlus,
// acceptInbound, dispatchIPMISession and respondInSession in v0.9.1), through
// the same handler registry, so a console cannot tell the difference.
// Everything else (ASF ping, the session handshake, pre-session commands,
// SOL, IPMI v1.5) still reaches go-ipmi, in the order it was read: SOL
// depends on that. Commands are answered in the order they were read.
//
// The reader is either the goroutine of Server.Serve or, in a fleet, a
// poller watching every member's socket that calls Server.Drain when one
// is readable: then a member with no traffic and no session has no
// goroutine at all.
type sessionConn struct {
	out transport.PacketConn // the socket as answers go out (possibly tapped)
	raw *net.UDPConn         // the socket, read (and answered) in batches
	// inbound sees every datagram read and its source; a reply it returns
	// handled is sent instead of passing the datagram on. May be nil.
	inbound func(pkt []byte, from net.Addr) (reply []byte, handled bool)
	b       *bmc.BMC
	reg     *handlers.Registry

	// The go-ipmi loop for everything that is not an in-session command.
	// It runs only while such traffic comes or sessions are open, and
	// stops after slowIdle without either: a quiet BMC costs no goroutine.
	srv     *server.Server
	slow    chan readResult // for go-ipmi's loop, in read order
	stop    chan struct{}   // closed by Close
	loopMu  sync.Mutex
	running bool // go-ipmi's Serve is running
	closed  bool
	loops   sync.WaitGroup
	timer   *time.Timer // the loop's idle timer, reused across runs

	readMu sync.Mutex // one reader at a time, and its buffers
	pc     *ipv4.PacketConn
	in     []ipv4.Message
	ans    []ipv4.Message

	mu   sync.Mutex
	keys map[uint32]*sessionKeys // by BMC session ID

	faults  Faults       // nil: no protocol faults (faults.go)
	resetAt atomic.Int64 // the last cold reset, on the session store's clock (UnixNano); 0 none

	packets, answered, slowPackets atomic.Uint64 // for Stats
}

// slowIdle is how long the go-ipmi loop waits for a packet, with no
// session open, before it stops.
var slowIdle = 10 * time.Second

type readResult struct {
	pkt  []byte
	addr net.Addr
}

// sessionKeys is one session's integrity and confidentiality state, built
// from K1 and K2 once; it is used under the session's ProcMu.
type sessionKeys struct {
	sess   *bmc.Session
	k1, k2 []byte       // the keys it was built from
	mac    hash.Hash    // keyed with K1; nil for a non-HMAC algorithm
	block  cipher.Block // keyed with K2[:16]; nil if K2 is short
	sum    []byte
	out    []byte // the response being built
}

// cbcEncrypt and cbcDecrypt are AES-CBC in place, block by block: IPMI
// messages are a block or two, and crypto/cipher's CBC modes allocate per
// message.
func cbcEncrypt(b cipher.Block, iv, buf []byte) {
	prev := iv
	for i := 0; i < len(buf); i += aes.BlockSize {
		blk := buf[i : i+aes.BlockSize]
		subtle.XORBytes(blk, blk, prev)
		b.Encrypt(blk, blk)
		prev = blk
	}
}

func cbcDecrypt(b cipher.Block, iv, buf []byte) {
	var prev, cur [aes.BlockSize]byte
	copy(prev[:], iv)
	for i := 0; i < len(buf); i += aes.BlockSize {
		blk := buf[i : i+aes.BlockSize]
		copy(cur[:], blk)
		b.Decrypt(blk, blk)
		subtle.XORBytes(blk, blk, prev[:])
		prev = cur
	}
}

// maxPacket is go-ipmi's read buffer size: a longer datagram is truncated
// the same way.
const maxPacket = 4096

// readBatch is how many datagrams one read takes at most: as many as the
// benchmark's sessions have in flight.
const readBatch = 16

// newSessionConn serves in-session commands read from raw and hands the
// rest to a go-ipmi server over b and reg; out is raw as answers are
// written to it (possibly wrapped), and inbound, if not nil, is shown
// every datagram read and may answer it instead.
func newSessionConn(raw *net.UDPConn, out transport.PacketConn, inbound func([]byte, net.Addr) ([]byte, bool), b *bmc.BMC, reg *handlers.Registry) *sessionConn {
	c := &sessionConn{
		out: out, raw: raw, inbound: inbound, b: b, reg: reg,
		slow: make(chan readResult, 64),
		stop: make(chan struct{}),
		keys: map[uint32]*sessionKeys{},
	}
	c.srv = server.NewServer(b, slowConn{c}, server.WithHandlerRegistry(reg))
	// Session keys leave with their session (close, eviction).
	b.Sessions.SetOnRemove(func(id uint32) {
		b.SOL.DeactivateBySession(id)
		c.mu.Lock()
		delete(c.keys, id)
		c.mu.Unlock()
	})
	return c
}

// slowConn is the socket as go-ipmi's loop sees it: reads come from the
// packets the reader passed on, writes go to the socket.
type slowConn struct{ c *sessionConn }

// LocalAddr lets go-ipmi learn the port SOL payloads are served on.
func (s slowConn) LocalAddr() net.Addr { return s.c.raw.LocalAddr() }

func (s slowConn) WriteTo(b []byte, addr net.Addr) (int, error) { return s.c.out.WriteTo(b, addr) }

// Close is go-ipmi's Close: the loop stops for good.
func (s slowConn) Close() error {
	s.c.loopMu.Lock()
	defer s.c.loopMu.Unlock()
	if !s.c.closed {
		s.c.closed = true
		close(s.c.stop)
	}
	return nil
}

// ReadFrom is go-ipmi's read: the next packet that is not an in-session
// command. After slowIdle without one, and no session open, it ends the
// loop (net.ErrClosed makes go-ipmi's Serve return); the next such packet
// starts it again.
func (s slowConn) ReadFrom(buf []byte) (int, net.Addr, error) {
	c := s.c
	c.timer.Reset(slowIdle)
	for {
		select {
		case r := <-c.slow:
			return copy(buf, r.pkt), r.addr, nil
		case <-c.stop:
			return 0, nil, net.ErrClosed
		case <-c.timer.C:
			c.loopMu.Lock()
			if len(c.slow) == 0 && c.quiet() {
				c.running = false
				c.loopMu.Unlock()
				return 0, nil, net.ErrClosed
			}
			c.loopMu.Unlock()
			c.timer.Reset(slowIdle)
		}
	}
}

// quiet reports whether no session is open (after evicting the expired
// ones, which go-ipmi's loop would otherwise do on its ticker).
func (c *sessionConn) quiet() bool {
	c.b.Sessions.EvictExpired()
	c.b.V15Sessions.EvictExpired()
	return c.b.Sessions.Count() == 0 && c.b.V15Sessions.Count() == 0
}

// toLoop passes a packet to go-ipmi's loop, starting it when it is not
// running. Under loopMu, so that a loop deciding to stop cannot miss it.
func (c *sessionConn) toLoop(pkt []byte, addr net.Addr) {
	c.loopMu.Lock()
	defer c.loopMu.Unlock()
	if c.closed {
		return
	}
	if !c.running {
		c.running = true
		if c.timer == nil {
			c.timer = time.NewTimer(slowIdle)
		}
		c.loops.Add(1)
		go func() {
			defer c.loops.Done()
			_ = c.srv.Serve(context.Background())
		}()
	}
	select {
	case c.slow <- readResult{pkt: pkt, addr: addr}:
	default: // a full queue drops, as a full socket buffer would
	}
}

// LocalAddr is the socket's address.
func (c *sessionConn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// Close stops go-ipmi's loop for good (and its SOL payloads) and closes the
// socket.
func (c *sessionConn) Close() error {
	_ = c.srv.Close() // closes slowConn
	c.loops.Wait()
	return c.out.Close()
}

// serve reads the socket until it is closed, blocking between batches:
// the reader of a server that owns its goroutine (Server.Serve).
func (c *sessionConn) serve() error {
	for {
		if _, err := c.readBatch(0); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			select {
			case <-c.stop:
				return nil
			default:
			}
		}
	}
}

// readBatch reads one batch (flags as for recvmmsg: MSG_DONTWAIT to not
// block), answers the in-session commands in it, passes the rest to
// go-ipmi's loop in order, then sends the batch's answers.
func (c *sessionConn) readBatch(flags int) (int, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.pc == nil {
		c.pc = ipv4.NewPacketConn(c.raw)
		c.in = make([]ipv4.Message, readBatch)
		c.ans = make([]ipv4.Message, readBatch)
		for i := range c.in {
			c.in[i].Buffers = [][]byte{make([]byte, maxPacket)}
		}
		// Twice the batch: a duplicate fault sends an answer twice.
		c.ans = make([]ipv4.Message, 2*readBatch)
		for i := range c.ans {
			c.ans[i].Buffers = [][]byte{make([]byte, 0, 256)}
		}
	}
	n, err := c.pc.ReadBatch(c.in, flags)
	if err != nil {
		return 0, err
	}
	answers := 0
	c.packets.Add(uint64(n))
	for _, m := range c.in[:n] {
		pkt := m.Buffers[0][:m.N]
		if c.dropInbound(pkt, m.Addr) {
			continue
		}
		// Copied out of the session's buffer, which its next packet
		// in this batch would overwrite.
		a := &c.ans[answers]
		resp, copies := c.one(a.Buffers[0][:0], pkt, m.Addr)
		for i := range copies {
			a := &c.ans[answers]
			if i > 0 {
				a.Buffers[0] = append(a.Buffers[0][:0], resp...)
			} else {
				a.Buffers[0] = resp
			}
			a.Addr = m.Addr
			answers++
		}
	}
	c.answered.Add(uint64(answers))
	c.send(c.pc, c.ans[:answers])
	return n, nil
}

// one handles one datagram: the inbound hook's own answer and everything
// for go-ipmi's loop are sent or passed on here; an in-session command's
// answer is appended to dst and returned with how many times to send it
// (0: none).
func (c *sessionConn) one(dst, pkt []byte, addr net.Addr) ([]byte, int) {
	if c.inbound != nil {
		if reply, handled := c.inbound(pkt, addr); handled {
			if reply != nil {
				_, _ = c.out.WriteTo(reply, addr)
			}
			return nil, 0
		}
	}
	if _, ok := inSessionCommand(pkt); !ok {
		c.slowPackets.Add(1)
		c.toLoop(bytes.Clone(pkt), addr)
		return nil, 0
	}
	skew, copies := c.answerFaults(addr)
	resp, ok := c.handle(dst, pkt, addr, skew)
	if !ok {
		return nil, 0
	}
	return resp, copies
}

// send writes the answers, as many per system call as it takes. An answer
// that cannot be sent is dropped, as go-ipmi drops one whose WriteTo fails.
func (c *sessionConn) send(pc *ipv4.PacketConn, out []ipv4.Message) {
	for len(out) > 0 {
		n, err := pc.WriteBatch(out, 0)
		if err != nil {
			n = max(n, 0) + 1 // the first unsent one failed
		}
		out = out[min(n, len(out)):]
	}
}

// inSessionCommand reports whether pkt is an RMCP+ IPMI-payload packet with
// a session ID, the packets go-ipmi's handleRMCPPlus looks a session up for.
func inSessionCommand(pkt []byte) (uint32, bool) {
	if len(pkt) < 5 || pkt[3]&0x1F != 0x07 || pkt[4] != 0x06 {
		return 0, false
	}
	id, _, typ, _, _, ok := protocol.ParseRMCPPlusHeader(pkt)
	return id, ok && id != 0 && typ == uint8(types.PayloadTypeIPMI)
}

// handle is go-ipmi's handleRMCPPlus for an in-session IPMI payload: it
// appends the answer to send to addr to dst, or returns false for a packet
// go-ipmi drops.
func (c *sessionConn) handle(dst, pkt []byte, addr net.Addr, seqSkew uint32) ([]byte, bool) {
	id, seq, _, flags, payload, _ := protocol.ParseRMCPPlusHeader(pkt)
	sess, err := c.b.Sessions.Get(id)
	if err != nil {
		return nil, false
	}
	sess.ProcMu.Lock()
	defer sess.ProcMu.Unlock()
	k := c.keysFor(sess)
	// acceptInbound: integrity, then the sequence window.
	if !k.verify(pkt, flags&types.PayloadFlagAuthenticated != 0) || !bmc.InboundSeqValid(sess.InboundSeq, seq) {
		return nil, false
	}
	sess.InboundSeq = seq
	sess.SetAddr(addr)
	c.b.Sessions.Touch(sess.BMCID)

	// dispatchIPMISession.
	encrypted := flags&types.PayloadFlagEncrypted != 0
	msg, ok := k.decrypt(payload, encrypted)
	if !ok {
		return nil, false
	}
	netFn, cmd, data, rqSeq, ok := protocol.ParseIPMIRequest(msg)
	if !ok {
		return nil, false
	}
	ch, _ := c.b.Channels.Get(sess.Channel)
	hctx := &handlers.HandlerContext{BMC: c.b, Session: sess, Channel: ch, User: sess.User}
	respData, cc, _ := c.reg.Dispatch(context.Background(), hctx, netFn, cmd, data)
	resp := protocol.BuildIPMIResponse(netFn, cmd, rqSeq, uint8(cc), respData)
	out, ok := k.seal(resp, encrypted, seqSkew)
	return append(dst, out...), ok
}

// keysFor returns sess's cached key state, (re)built when the session or its
// keys are not the ones it was built from. sess.ProcMu is held.
func (c *sessionConn) keysFor(sess *bmc.Session) *sessionKeys {
	c.mu.Lock()
	k := c.keys[sess.BMCID]
	c.mu.Unlock()
	if k != nil && k.sess == sess && bytes.Equal(k.k1, sess.K1) && bytes.Equal(k.k2, sess.K2) {
		return k
	}
	k = &sessionKeys{sess: sess, k1: bytes.Clone(sess.K1), k2: bytes.Clone(sess.K2)}
	if len(k.k1) > 0 {
		switch sess.IntegrityAlg {
		case types.IntegrityAlg_HMAC_SHA1_96:
			k.mac = hmac.New(sha1.New, k.k1)
		case types.IntegrityAlg_HMAC_SHA256_128:
			k.mac = hmac.New(sha256.New, k.k1)
		case types.IntegrityAlg_HMAC_MD5_128:
			k.mac = hmac.New(md5.New, k.k1)
		}
	}
	if len(k.k2) >= 16 {
		k.block, _ = aes.NewCipher(k.k2[:16])
	}
	c.mu.Lock()
	if cur, err := c.b.Sessions.Get(sess.BMCID); err == nil && cur == sess {
		c.keys[sess.BMCID] = k
	}
	c.mu.Unlock()
	return k
}

// authCode is crypto.SessionIntegrityAuthCode with the keyed HMAC reused.
func (k *sessionKeys) authCode(input []byte) ([]byte, bool) {
	if k.mac == nil {
		code, err := crypto.SessionIntegrityAuthCode(k.sess.IntegrityAlg, input, k.k1, "")
		return code, err == nil
	}
	n, _ := crypto.IntegrityAuthCodeLen(k.sess.IntegrityAlg)
	k.mac.Reset()
	k.mac.Write(input)
	k.sum = k.mac.Sum(k.sum[:0])
	return k.sum[:n], true
}

// verify is go-ipmi's verifyRMCPPlusIntegrity.
func (k *sessionKeys) verify(pkt []byte, authenticated bool) bool {
	codeLen, ok := crypto.IntegrityAuthCodeLen(k.sess.IntegrityAlg)
	if !ok {
		return false
	}
	if codeLen == 0 {
		return true
	}
	if !authenticated || len(k.k1) == 0 || len(pkt) < rmcpPlusPayloadOffset {
		return false
	}
	payloadLen := int(binary.LittleEndian.Uint16(pkt[14:16]))
	payloadEnd := rmcpPlusPayloadOffset + payloadLen
	if len(pkt) < payloadEnd {
		return false
	}
	padLen := types.IntegrityPadLen(rmcpPlusHeaderSize, payloadLen)
	codeAt := payloadEnd + padLen + 2
	if len(pkt) != codeAt+codeLen {
		return false
	}
	for _, b := range pkt[payloadEnd : payloadEnd+padLen] {
		if b != 0xff {
			return false
		}
	}
	if pkt[payloadEnd+padLen] != byte(padLen) || pkt[payloadEnd+padLen+1] != rmcpPlusNextHeader {
		return false
	}
	want, ok := k.authCode(pkt[rmcpHeaderSize:codeAt])
	return ok && hmac.Equal(want, pkt[codeAt:])
}

// decrypt is go-ipmi's decryptSessionPayload (AES-CBC-128, v2.0 §13.29),
// in place. Unlike go-ipmi it drops a ciphertext that is not whole blocks
// instead of panicking in cipher.CryptBlocks.
func (k *sessionKeys) decrypt(payload []byte, encrypted bool) ([]byte, bool) {
	if !encrypted {
		return payload, true
	}
	if k.block == nil || len(payload) < aes.BlockSize || len(payload)%aes.BlockSize != 0 {
		return nil, false
	}
	body := payload[aes.BlockSize:]
	if len(body) == 0 {
		return nil, false
	}
	cbcDecrypt(k.block, payload[:aes.BlockSize], body)
	pad := int(body[len(body)-1])
	if pad >= len(body) {
		return nil, false
	}
	return body[:len(body)-1-pad], true
}

// seal is go-ipmi's respondInSession and sendSessionPayload: encrypt when
// the request was encrypted, then the session header, integrity pad and
// AuthCode. seqSkew moves the session sequence number (an out-of-window
// fault); 0 for none. The result is valid until the session's next packet.
func (k *sessionKeys) seal(msg []byte, encrypt bool, seqSkew uint32) ([]byte, bool) {
	var flags uint8
	out := append(k.out[:0], make([]byte, rmcpPlusPayloadOffset)...)
	if encrypt && k.block != nil {
		flags |= types.PayloadFlagEncrypted
		start := len(out) + aes.BlockSize
		out = append(out, make([]byte, aes.BlockSize)...) // the IV
		if _, err := rand.Read(out[start-aes.BlockSize : start]); err != nil {
			return nil, false
		}
		// §13.29 pad: 1, 2, ..., then the pad length, to whole blocks.
		pad := aes.BlockSize - 1 - len(msg)%aes.BlockSize
		out = append(out, msg...)
		for i := 1; i <= pad; i++ {
			out = append(out, byte(i))
		}
		out = append(out, byte(pad))
		cbcEncrypt(k.block, out[start-aes.BlockSize:start], out[start:])
	} else {
		out = append(out, msg...)
	}
	if k.sess.IntegrityAlg != types.IntegrityAlg_None {
		flags |= types.PayloadFlagAuthenticated
	}
	payloadLen := len(out) - rmcpPlusPayloadOffset
	out[0], out[1], out[2], out[3] = 0x06, 0x00, 0xFF, 0x07 // RMCP: v1.0, no ACK, class IPMI
	out[4], out[5] = 0x06, uint8(types.PayloadTypeIPMI)|flags
	binary.LittleEndian.PutUint32(out[6:10], k.sess.ConsoleID)
	binary.LittleEndian.PutUint32(out[10:14], k.sess.NextOutboundSeq()+seqSkew)
	binary.LittleEndian.PutUint16(out[14:16], uint16(payloadLen))
	k.out = out

	// appendRMCPPlusIntegrity.
	codeLen, ok := crypto.IntegrityAuthCodeLen(k.sess.IntegrityAlg)
	if !ok {
		return nil, false
	}
	if codeLen == 0 {
		return out, true
	}
	if len(k.k1) == 0 {
		return nil, false
	}
	padLen := types.IntegrityPadLen(rmcpPlusHeaderSize, payloadLen)
	for range padLen {
		out = append(out, 0xff)
	}
	out = append(out, byte(padLen), rmcpPlusNextHeader)
	code, ok := k.authCode(out[rmcpHeaderSize:])
	if !ok || len(code) != codeLen {
		return nil, false
	}
	out = append(out, code...)
	k.out = out
	return out, true
}

// RMCP+ framing (v2.0 §13.6, Table 13-8).
const (
	rmcpHeaderSize        = 4
	rmcpPlusHeaderSize    = 12
	rmcpPlusPayloadOffset = rmcpHeaderSize + rmcpPlusHeaderSize
	rmcpPlusNextHeader    = 0x07
)

package ipmi

import (
	"bytes"
	"crypto/cipher"
	"encoding/binary"
	"net"
	"testing"
	"time"
)

// TestSessionConnDrops sends in-session packets go-ipmi would drop (or, for
// a ciphertext of partial blocks, panic on) and checks each goes
// unanswered: the next valid command's answer is the first datagram back,
// so the server is also still serving.
func TestSessionConnDrops(t *testing.T) {
	b := startBMC(t)
	c, err := dialLean(net.JoinHostPort("127.0.0.1", b.port), "admin", "password", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	c.strict = true
	send := func(pkt []byte) {
		t.Helper()
		if _, err := c.conn.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		bad  func() []byte
	}{
		{"AuthCode wrong", func() []byte {
			pkt := c.request(0x04, 0x2D, []byte{1})
			pkt[len(pkt)-1] ^= 1
			return pkt
		}},
		{"unknown session", func() []byte {
			pkt := c.request(0x04, 0x2D, []byte{1})
			binary.LittleEndian.PutUint32(pkt[6:], c.bmcID+1)
			return pkt
		}},
		{"unauthenticated", func() []byte {
			c.seq++
			pkt := make([]byte, leanHeaderLen+32)
			c.rmcpHeader(pkt, 0x80, c.bmcID, c.seq, 32)
			return pkt
		}},
		{"sequence far ahead", func() []byte {
			c.seq += 100
			pkt := c.request(0x04, 0x2D, []byte{1})
			c.seq -= 101
			return pkt
		}},
		{"ciphertext not whole blocks", func() []byte {
			c.seq++
			return c.sign(make([]byte, leanHeaderLen+16+20), 0xC0)
		}},
		{"padding longer than the message", func() []byte {
			c.seq++
			pkt := make([]byte, leanHeaderLen+32) // IV zero
			body := pkt[leanHeaderLen+16:]
			for i := range body {
				body[i] = 16 // pad length 16 in a 16-byte block
			}
			cipher.NewCBCEncrypter(c.block, pkt[leanHeaderLen:leanHeaderLen+16]).CryptBlocks(body, body)
			return c.sign(pkt, 0xC0)
		}},
	} {
		send(tc.bad())
		if cc, _, err := c.Command(0x04, 0x2D, []byte{1}); err != nil || cc != 0 {
			t.Errorf("%s: then Get Sensor Reading: cc %#02x, %v", tc.name, cc, err)
		}
	}
}

// TestSessionConnBatch pipelines commands in one session, so that several
// arrive in one read: each gets its own answer (not a later command's, which
// reuses the session's buffer), in the order sent.
func TestSessionConnBatch(t *testing.T) {
	b := startBMC(t)
	c, err := dialLean(net.JoinHostPort("127.0.0.1", b.port), "admin", "password", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	c.strict = true
	const n = 12 // within the sequence window
	type sent struct {
		netFn, cmd, rqSeq byte
		pkt               []byte
	}
	var reqs []sent
	for i := range n {
		netFn, cmd, data := byte(0x04), byte(0x2D), []byte{1}
		if i%2 == 1 {
			netFn, cmd, data = 0x06, 0x01, nil // Get Device ID
		}
		pkt := bytes.Clone(c.request(netFn, cmd, data))
		reqs = append(reqs, sent{netFn, cmd, c.rqSeq, pkt})
	}
	for _, r := range reqs {
		if _, err := c.conn.Write(r.pkt); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i, r := range reqs {
		k, err := c.conn.Read(c.in)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		c.rqSeq = r.rqSeq
		if cc, _, ok := c.open(c.in[:k], r.netFn, r.cmd); !ok || cc != 0 {
			t.Fatalf("answer %d is not the answer to request %d (netFn %#02x cmd %#02x): ok %v, cc %#02x", i, i, r.netFn, r.cmd, ok, cc)
		}
	}
}

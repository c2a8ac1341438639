package ipmi

import (
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

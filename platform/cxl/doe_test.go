package cxl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func tableAccess(t testing.TB, img []byte) *TableAccess {
	t.Helper()
	ta, err := NewTableAccess(img)
	if err != nil {
		t.Fatal(err)
	}
	return ta
}

func readReq(handle uint16) []uint32 {
	return []uint32{0x0002_1E98, 3, uint32(handle) << 16}
}

// TestReadCDATOverTableAccess: the host driver reads back exactly the image
// the device holds, one exchange for the length and one per entry.
func TestReadCDATOverTableAccess(t *testing.T) {
	want := sampleCDAT()
	img := want.Encode()
	ta := tableAccess(t, img)
	if ta.Entries() != 1+6 {
		t.Fatalf("%d entries", ta.Entries())
	}
	c, got, n, err := ReadCDAT(ta)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, img) || !reflect.DeepEqual(c, want) {
		t.Fatalf("read back\n% X\nwant\n% X", got, img)
	}
	if n != 1+ta.Entries() {
		t.Fatalf("%d exchanges, want %d", n, 1+ta.Entries())
	}
	// Header only: length read, then the header, whose next handle is 0xFFFF.
	if _, got, n, err := ReadCDAT(tableAccess(t, (&CDAT{Revision: 1}).Encode())); err != nil || len(got) != 16 || n != 2 {
		t.Fatalf("header-only: %v %d bytes %d exchanges", err, len(got), n)
	}
}

// TestTableAccessWire pins one request and response, dword by dword
// (CXL 3.1 §8.1.11.1: Read Entry request/response; PCIe 6.0 §6.30.1 header).
func TestTableAccessWire(t *testing.T) {
	img := sampleCDAT().Encode()
	ta := tableAccess(t, img)
	resp, err := ta.Exchange(readReq(1))
	if err != nil {
		t.Fatal(err)
	}
	want := []uint32{
		0x0002_1E98, // vendor 0x1E98, type 2 (Table Access)
		2 + 1 + 6,   // length: DOE header, Table Access header, 24-byte DSMAS
		2 << 16,     // response code 0, table type 0, next entry handle 2
	}
	want = append(want, dwords(img[16:40])...)
	if !reflect.DeepEqual(resp, want) {
		t.Fatalf("\n got %08X\nwant %08X", resp, want)
	}
	last, err := ta.Exchange(readReq(6))
	if err != nil {
		t.Fatal(err)
	}
	if last[2]>>16 != 0xFFFF {
		t.Fatalf("last entry's next handle %#x", last[2]>>16)
	}
	first, _ := ta.Exchange(readReq(0))
	if len(first) != 2+1+4 || first[3] != uint32(len(img)) {
		t.Fatalf("entry 0 %08X: want the 16-byte header, Length first", first)
	}
}

func TestDiscovery(t *testing.T) {
	ta := tableAccess(t, sampleCDAT().Encode())
	var found [][2]uint32
	for idx := uint32(0); ; {
		resp, err := ta.Exchange([]uint32{0x0000_0001, 3, idx})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp) != 3 || resp[1] != 3 || resp[0] != 1 {
			t.Fatalf("discovery response %08X", resp)
		}
		found = append(found, [2]uint32{resp[2] & 0xFFFF, resp[2] >> 16 & 0xFF})
		if idx = resp[2] >> 24; idx == 0 {
			break
		}
	}
	if !reflect.DeepEqual(found, [][2]uint32{{1, 0}, {0x1E98, 2}}) {
		t.Fatalf("protocols %v", found)
	}
}

func TestExchangeRefuses(t *testing.T) {
	ta := tableAccess(t, sampleCDAT().Encode())
	for _, tc := range []struct {
		name string
		req  []uint32
		want string
	}{
		{"empty", nil, "DOE header needs 2"},
		{"one dword", []uint32{0x0002_1E98}, "DOE header needs 2"},
		{"length lies", []uint32{0x0002_1E98, 4, 0}, "DOE Length 4 dwords, object has 3"},
		{"length 0 means 2^18", []uint32{0x0002_1E98, 0, 0}, "DOE Length 262144"},
		{"vendor", []uint32{0x0002_8086, 3, 0}, "vendor 0x8086"},
		{"type", []uint32{0x0003_1E98, 3, 0}, "type 3"},
		{"no payload", []uint32{0x0002_1E98, 2}, "0 payload dwords"},
		{"two payload dwords", []uint32{0x0002_1E98, 4, 0, 0}, "2 payload dwords"},
		{"request code", []uint32{0x0002_1E98, 3, 1}, "request code 1"},
		{"table type", []uint32{0x0002_1E98, 3, 1 << 8}, "table type 1"},
		{"handle", readReq(7), "entry handle 7"},
		{"handle 0xFFFF", readReq(0xFFFF), "entry handle 65535"},
		{"discovery index", []uint32{0x0000_0001, 3, 2}, "Discovery index 2"},
	} {
		resp, err := ta.Exchange(tc.req)
		if !errors.Is(err, ErrDOE) || !strings.Contains(err.Error(), tc.want) || resp != nil {
			t.Errorf("%s: %08X %v, want %q", tc.name, resp, err, tc.want)
		}
	}
}

func TestNewTableAccessRefuses(t *testing.T) {
	img := sampleCDAT().Encode()
	for _, tc := range []struct {
		name string
		img  []byte
		want string
	}{
		{"short", img[:12], "not a CDAT header"},
		{"not dwords", append(bytes.Clone(img), 0, 0), "whole dwords"},
		{"odd structure", append(bytes.Clone(img), 9, 0, 6, 0, 0, 0, 0, 0), "Length 6, not whole dwords"},
		{"structure past end", append(bytes.Clone(img), 9, 0, 16, 0), "Length 16"},
	} {
		_, err := NewTableAccess(tc.img)
		if !errors.Is(err, ErrCDAT) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// mailboxFunc lets a test stand between host and device.
type mailboxFunc func([]uint32) ([]uint32, error)

func (f mailboxFunc) Exchange(req []uint32) ([]uint32, error) { return f(req) }

func TestReadCDATRefuses(t *testing.T) {
	img := sampleCDAT().Encode()
	ta := tableAccess(t, img)
	corrupt := bytes.Clone(img)
	corrupt[40] ^= 0x80 // a DSMAS DPA byte: the device serves it, the checksum no longer holds
	longer := bytes.Clone(img)
	longer[0] += 4 // header claims 4 more bytes than the entries hold
	var sum byte
	for _, v := range longer {
		sum += v
	}
	longer[5] -= sum
	for _, tc := range []struct {
		name string
		m    Mailbox
		want string
	}{
		{"checksum", tableAccess(t, corrupt), "CDAT checksum mismatch"},
		{"header Length past entries", tableAccess(t, longer), "header Length 164 with 160 bytes present"},
		{"device error", mailboxFunc(func([]uint32) ([]uint32, error) { return nil, errors.New("mailbox busy") }), "mailbox busy"},
		{"short response", mailboxFunc(func([]uint32) ([]uint32, error) { return []uint32{0x0002_1E98}, nil }), "DOE header needs 2"},
		{"wrong protocol answers", mailboxFunc(func(req []uint32) ([]uint32, error) {
			r, err := ta.Exchange(req)
			if err == nil {
				r[0] = 0x0001_1E98
			}
			return r, err
		}), "type 1"},
		{"length too small", mailboxFunc(func(req []uint32) ([]uint32, error) {
			return []uint32{0x0002_1E98, 4, 0xFFFF << 16, 8}, nil
		}), "CDAT Length 8"},
		{"entry 0 not 16 bytes", mailboxFunc(func(req []uint32) ([]uint32, error) {
			return []uint32{0x0002_1E98, 5, 0xFFFF << 16, 64, 0}, nil
		}), "entry 0 has 8 bytes"},
		{"entry shorter than its Length", mailboxFunc(func(req []uint32) ([]uint32, error) {
			r, err := ta.Exchange(req)
			if err == nil && req[2]>>16 == 1 {
				r = r[:len(r)-1]
				r[1]--
			}
			return r, err
		}), "entry 1 has 20 bytes"},
		{"never ends", mailboxFunc(func(req []uint32) ([]uint32, error) {
			r, err := ta.Exchange(req)
			if err == nil && r[2]>>16 == 0xFFFF {
				r[2] = 1 << 16 // loop back to the first structure
			}
			return r, err
		}), "run past the CDAT Length"},
	} {
		_, _, _, err := ReadCDAT(tc.m)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func FuzzTableAccess(f *testing.F) {
	img := sampleCDAT().Encode()
	f.Add(img, []byte{0x98, 0x1E, 2, 0, 3, 0, 0, 0, 0, 0, 1, 0})
	f.Add(img, []byte{1, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0})
	f.Add((&CDAT{}).Encode(), []byte{0x98, 0x1E, 2, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, image, raw []byte) {
		ta, err := NewTableAccess(image)
		if err != nil {
			return
		}
		req := make([]uint32, len(raw)/4)
		for i := range req {
			req[i] = uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24
		}
		resp, err := ta.Exchange(req)
		if err == nil {
			if _, _, _, perr := parseDOE(resp); perr != nil {
				t.Fatalf("device answered with a malformed object: %v", perr)
			}
		} else if !errors.Is(err, ErrDOE) {
			t.Fatalf("error does not wrap ErrDOE: %v", err)
		}
		// Whatever the device holds, the host walk ends; a table that
		// decodes on its own and fills its image comes back byte for byte.
		c, got, n, err := ReadCDAT(ta)
		if n > 1+ta.Entries() {
			t.Fatalf("%d exchanges for %d entries", n, ta.Entries())
		}
		if _, derr := DecodeCDAT(image); derr == nil && binary.LittleEndian.Uint32(image) == uint32(len(image)) {
			if err != nil || !bytes.Equal(got, image) || c == nil {
				t.Fatalf("valid image not read back: %v", err)
			}
		}
	})
}

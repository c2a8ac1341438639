package cxl

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A CXL device serves its CDAT through a PCIe Data Object Exchange mailbox
// (PCIe 6.0 §6.30) using the CXL Table Access protocol (CXL 3.1 §8.1.11):
// the host asks for one entry at a time by handle, entry 0 being the CDAT
// header and each following entry one CDAT structure, and the device answers
// with the entry and the handle of the next one, 0xFFFF after the last.
// TableAccess is the device end; ReadCDAT is the host end, after Linux's
// cxl_cdat_get_length() and cxl_cdat_read_table() in drivers/cxl/core/pci.c.

// ErrDOE is returned for a data object the mailbox cannot answer or a
// response the host cannot use.
var ErrDOE = errors.New("doe: bad data object")

// DOE protocol identifiers: the PCI-SIG Discovery protocol every mailbox
// answers (PCIe 6.0 §6.30.1.1) and CXL Table Access.
const (
	VendorIDPCISIG     uint16 = 0x0001
	DOETypeDiscovery   uint8  = 0
	VendorIDCXL        uint16 = 0x1E98
	DOETypeTableAccess uint8  = 2
)

// Table Access request and response fields (CXL 3.1 Tables 8-13, 8-14).
const (
	TableAccessReadEntry uint8  = 0
	TableTypeCDAT        uint8  = 0
	LastEntryHandle      uint16 = 0xFFFF
)

const (
	doeHeaderDW = 2
	// doeMaxDW is the largest data object: the Length field is 18 bits and
	// 0 stands for 2^18 dwords.
	doeMaxDW = 1 << 18
	// maxCDATLength bounds what ReadCDAT accepts as the CDAT Length, as
	// Linux's buffer allocation does in practice: 1 MiB, one full data object.
	maxCDATLength = 4 * doeMaxDW
)

func doeHeader(vendor uint16, typ uint8, dwords int) []uint32 {
	return []uint32{uint32(vendor) | uint32(typ)<<16, uint32(dwords) & (doeMaxDW - 1)}
}

// parseDOE checks a data object's 2-dword header and returns its vendor,
// type and payload.
func parseDOE(obj []uint32) (uint16, uint8, []uint32, error) {
	if len(obj) < doeHeaderDW {
		return 0, 0, nil, fmt.Errorf("%w: %d dwords, the DOE header needs %d", ErrDOE, len(obj), doeHeaderDW)
	}
	n := int(obj[1] & (doeMaxDW - 1))
	if n == 0 {
		n = doeMaxDW
	}
	if n != len(obj) {
		return 0, 0, nil, fmt.Errorf("%w: DOE Length %d dwords, object has %d", ErrDOE, n, len(obj))
	}
	return uint16(obj[0]), uint8(obj[0] >> 16), obj[doeHeaderDW:], nil
}

// TableAccess is the device side of the CDAT Table Access protocol: it holds
// the encoded CDAT image split into entries. It is immutable, so concurrent
// Exchanges are safe; a device whose CDAT changes gets a new TableAccess
// (and a new Sequence in the header).
type TableAccess struct {
	entries [][]uint32
}

// NewTableAccess splits a CDAT image into Table Access entries. It needs
// only the structure headers to be walkable in whole dwords; it does not
// check the header's Length or checksum, so a device can be made to serve a
// corrupt table and the host be seen to refuse it.
func NewTableAccess(image []byte) (*TableAccess, error) {
	if len(image) < cdatHeaderLen || len(image)%4 != 0 {
		return nil, fmt.Errorf("%w: image of %d bytes is not a CDAT header plus whole dwords", ErrCDAT, len(image))
	}
	t := &TableAccess{entries: [][]uint32{dwords(image[:cdatHeaderLen])}}
	err := structures(image, func(off int, e []byte) error {
		if len(e)%4 != 0 {
			return fmt.Errorf("%w: structure type %d at 0x%X has Length %d, not whole dwords", ErrCDAT, e[0], off, len(e))
		}
		t.entries = append(t.entries, dwords(e))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(t.entries) >= int(LastEntryHandle) {
		return nil, fmt.Errorf("%w: %d entries do not fit 16-bit entry handles", ErrCDAT, len(t.entries))
	}
	return t, nil
}

func dwords(b []byte) []uint32 {
	d := make([]uint32, len(b)/4)
	for i := range d {
		d[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return d
}

// protocols are the (vendor, type) pairs this mailbox answers, in Discovery
// index order.
var protocols = [][2]uint32{{uint32(VendorIDPCISIG), uint32(DOETypeDiscovery)}, {uint32(VendorIDCXL), uint32(DOETypeTableAccess)}}

// Exchange is one DOE exchange: request and response are the DOE data
// objects as dwords (DOE header 2 dwords: vendor ID 0x1E98, type 2 = Table
// Access; length in dwords), as the device would see and answer them. The
// mailbox also answers PCI-SIG Discovery (vendor 0x0001, type 0), which
// Linux's pci_doe_cache_protocols() uses to find it. Malformed requests get
// an error wrapping ErrDOE, never a panic.
func (t *TableAccess) Exchange(req []uint32) ([]uint32, error) {
	vendor, typ, pl, err := parseDOE(req)
	if err != nil {
		return nil, err
	}
	switch {
	case vendor == VendorIDPCISIG && typ == DOETypeDiscovery:
		if len(pl) != 1 {
			return nil, fmt.Errorf("%w: Discovery request has %d payload dwords, want 1", ErrDOE, len(pl))
		}
		i := int(pl[0] & 0xFF)
		if i >= len(protocols) {
			return nil, fmt.Errorf("%w: Discovery index %d, this mailbox has %d protocols", ErrDOE, i, len(protocols))
		}
		next := uint32(0)
		if i+1 < len(protocols) {
			next = uint32(i + 1)
		}
		return append(doeHeader(VendorIDPCISIG, DOETypeDiscovery, doeHeaderDW+1), protocols[i][0]|protocols[i][1]<<16|next<<24), nil
	case vendor == VendorIDCXL && typ == DOETypeTableAccess:
	default:
		return nil, fmt.Errorf("%w: unsupported protocol vendor 0x%04X type %d", ErrDOE, vendor, typ)
	}
	if len(pl) != 1 {
		return nil, fmt.Errorf("%w: Table Access request has %d payload dwords, want 1", ErrDOE, len(pl))
	}
	code, table, handle := uint8(pl[0]), uint8(pl[0]>>8), uint16(pl[0]>>16)
	if code != TableAccessReadEntry {
		return nil, fmt.Errorf("%w: Table Access request code %d, only Read Entry (0) exists", ErrDOE, code)
	}
	if table != TableTypeCDAT {
		return nil, fmt.Errorf("%w: Table Access table type %d, only CDAT (0) exists", ErrDOE, table)
	}
	if int(handle) >= len(t.entries) {
		return nil, fmt.Errorf("%w: Table Access entry handle %d, the CDAT has %d entries", ErrDOE, handle, len(t.entries))
	}
	next := handle + 1
	if int(next) == len(t.entries) {
		next = LastEntryHandle
	}
	e := t.entries[handle]
	resp := doeHeader(VendorIDCXL, DOETypeTableAccess, doeHeaderDW+1+len(e))
	resp = append(resp, uint32(TableAccessReadEntry)|uint32(TableTypeCDAT)<<8|uint32(next)<<16)
	return append(resp, e...), nil
}

// Entries is the number of Table Access entries: the header plus one per
// structure.
func (t *TableAccess) Entries() int { return len(t.entries) }

// Mailbox is the host's view of a DOE mailbox. It is an alias, so
// ReadCDAT's parameter is exactly interface{ Exchange(...) }.
type Mailbox = interface {
	Exchange(req []uint32) (resp []uint32, err error)
}

// readEntry is one Table Access Read Entry from the host side.
func readEntry(m Mailbox, handle uint16) (uint16, []byte, error) {
	req := append(doeHeader(VendorIDCXL, DOETypeTableAccess, doeHeaderDW+1),
		uint32(TableAccessReadEntry)|uint32(TableTypeCDAT)<<8|uint32(handle)<<16)
	resp, err := m.Exchange(req)
	if err != nil {
		return 0, nil, fmt.Errorf("cdat: DOE failed reading entry %d: %w", handle, err)
	}
	vendor, typ, pl, err := parseDOE(resp)
	if err != nil {
		return 0, nil, fmt.Errorf("cdat: response to entry %d: %w", handle, err)
	}
	if vendor != VendorIDCXL || typ != DOETypeTableAccess {
		return 0, nil, fmt.Errorf("cdat: response to entry %d: %w: protocol vendor 0x%04X type %d", handle, ErrDOE, vendor, typ)
	}
	if len(pl) < 1 {
		return 0, nil, fmt.Errorf("cdat: response to entry %d: %w: no Table Access header", handle, ErrDOE)
	}
	if tt := uint8(pl[0] >> 8); tt != TableTypeCDAT {
		return 0, nil, fmt.Errorf("cdat: response to entry %d: %w: table type %d", handle, ErrDOE, tt)
	}
	entry := make([]byte, 4*(len(pl)-1))
	for i, d := range pl[1:] {
		binary.LittleEndian.PutUint32(entry[4*i:], d)
	}
	return uint16(pl[0] >> 16), entry, nil
}

// ReadCDAT is the host driver: walks entries from handle 0 until 0xFFFF
// with Exchange, reassembles the image, verifies length and checksum, and
// returns the decoded table, the image, and how many exchanges it took
// (like Linux, one to learn the length from entry 0, then one per entry
// starting again at 0).
func ReadCDAT(m Mailbox) (*CDAT, []byte, int, error) {
	n := 1
	_, first, err := readEntry(m, 0)
	if err != nil {
		return nil, nil, n, err
	}
	if len(first) < 4 {
		return nil, nil, n, fmt.Errorf("%w: no CDAT length: entry 0 has %d bytes", ErrCDAT, len(first))
	}
	length := int(binary.LittleEndian.Uint32(first))
	if length < cdatHeaderLen || length > maxCDATLength {
		return nil, nil, n, fmt.Errorf("%w: CDAT Length %d outside %d..%d", ErrCDAT, length, cdatHeaderLen, maxCDATLength)
	}
	var img []byte
	// Every entry adds at least 4 bytes and the image may not outgrow the
	// length, so a device that never says 0xFFFF still ends the walk.
	for handle := uint16(0); ; {
		next, e, err := readEntry(m, handle)
		n++
		if err != nil {
			return nil, nil, n, err
		}
		if handle == 0 && len(e) != cdatHeaderLen {
			return nil, nil, n, fmt.Errorf("%w: entry 0 has %d bytes, the CDAT header is %d", ErrCDAT, len(e), cdatHeaderLen)
		}
		if handle != 0 && (len(e) < 4 || int(binary.LittleEndian.Uint16(e[2:])) != len(e)) {
			return nil, nil, n, fmt.Errorf("%w: entry %d has %d bytes, not the structure's Length", ErrCDAT, handle, len(e))
		}
		if len(img)+len(e) > length {
			return nil, nil, n, fmt.Errorf("%w: entries run past the CDAT Length %d at entry %d", ErrCDAT, length, handle)
		}
		img = append(img, e...)
		if next == LastEntryHandle {
			break
		}
		handle = next
	}
	// Linux trims the length to what arrived before checksumming; a header
	// Length beyond it then fails DecodeCDAT's length check.
	var sum byte
	for _, v := range img {
		sum += v
	}
	if sum != 0 {
		return nil, img, n, fmt.Errorf("%w: CDAT checksum mismatch (bytes sum to 0x%02X)", ErrCDAT, sum)
	}
	c, err := DecodeCDAT(img)
	if err != nil {
		return nil, img, n, err
	}
	return c, img, n, nil
}

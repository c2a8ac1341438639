package ipmi

import (
	"fmt"
	"strings"
	"time"

	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/spd"
)

const (
	boardFRU        = 0 // FRU device 0: the system board, announced by the MC locator
	fruFieldMax     = 63
	fruLanguageEnUS = 0 // "English" default (FRU spec §15)
)

// fruDeviceIDs lists the FRU devices present now: the board, every
// populated, described slot, the processors and the NICs (fru_hw.go).
func fruDeviceIDs(snap *platform.Snapshot) []uint8 {
	ids := []uint8{boardFRU}
	for _, s := range snap.Slots {
		if described(s) && s.Module != nil {
			ids = append(ids, fruDeviceID(s.Ordinal))
		}
	}
	return append(ids, hardwareFRUIDs(snap)...)
}

// fruImage builds FRU device id's inventory from the snapshot; a device that
// does not exist (empty slot, unknown id) is hal.ErrNotFound, answered CBh.
func fruImage(snap *platform.Snapshot, id uint8) ([]byte, error) {
	if id == boardFRU {
		return systemFRU(snap)
	}
	if data, ok, err := hardwareFRU(snap, id); ok {
		return data, err
	}
	for _, s := range snap.Slots {
		if described(s) && fruDeviceID(s.Ordinal) == id {
			if s.Module == nil {
				return nil, hal.ErrNotFound
			}
			return dimmFRU(s)
		}
	}
	return nil, hal.ErrNotFound
}

// field encodes a string as an 8-bit ASCII FRU field. A one-byte field would
// read as C1h, the end-of-fields marker, so it is padded with a space.
func field(s string) (types.TypeLength, []byte) {
	b := []byte(sanitize(s))
	if len(b) > fruFieldMax {
		b = b[:fruFieldMax]
	}
	if len(b) == 1 {
		b = append(b, ' ')
	}
	return types.TypeLength(0xC0 | byte(len(b))), b
}

// sanitize keeps printable ASCII: FRU 8-bit ASCII fields are Latin-1 and
// clients print them raw.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

func custom(s string) types.FRUField {
	tl, b := field(s)
	return types.FRUField{TypeLength: tl, Data: b}
}

func systemFRU(snap *platform.Snapshot) ([]byte, error) {
	sys := snap.System
	f := &types.FRU{
		BoardInfoArea:   boardArea(time.Time{}, sys.Manufacturer, sys.Model, sys.SerialNumber, sys.PartNumber),
		ProductInfoArea: productArea(sys.Manufacturer, sys.Model, sys.PartNumber, sys.SerialNumber),
	}
	data, err := types.PackFRUInventory(f)
	if err != nil {
		return nil, fmt.Errorf("pack system FRU: %w", err)
	}
	return data, nil
}

func dimmFRU(s platform.Slot) ([]byte, error) {
	m := s.Module.SPD
	desc := moduleDescription(m)
	board := boardArea(manufactureDate(m.ManufactureYW), m.Manufacturer, desc, m.SerialNumber, m.PartNumber)
	board.Custom = []types.FRUField{
		custom(fmt.Sprintf("Capacity: %d MiB", m.CapacityMiB)),
		custom(fmt.Sprintf("Type: %s %s", m.Type, baseModuleName(m.BaseModule))),
		custom(fmt.Sprintf("Speed: %d MT/s", m.SpeedMTs)),
		custom(fmt.Sprintf("Ranks: %d", m.Ranks)),
		custom("Slot: " + s.Name),
	}
	f := &types.FRU{
		BoardInfoArea:   board,
		ProductInfoArea: productArea(m.Manufacturer, desc, m.PartNumber, m.SerialNumber),
	}
	data, err := types.PackFRUInventory(f)
	if err != nil {
		return nil, fmt.Errorf("pack FRU of %s: %w", s.Name, err)
	}
	return data, nil
}

func boardArea(mfgDate time.Time, mfg, product, serial, part string) *types.FRUBoardInfoArea {
	a := &types.FRUBoardInfoArea{FormatVersion: types.FRUFormatVersion, LanguageCode: fruLanguageEnUS, MfgDateTime: mfgDate}
	a.ManufacturerTypeLength, a.Manufacturer = field(mfg)
	a.ProductNameTypeLength, a.ProductName = field(product)
	a.SerialNumberTypeLength, a.SerialNumber = field(serial)
	a.PartNumberTypeLength, a.PartNumber = field(part)
	a.FRUFileIDTypeLength, a.FRUFileID = field("")
	return a
}

func productArea(mfg, name, part, serial string) *types.FRUProductInfoArea {
	a := &types.FRUProductInfoArea{FormatVersion: types.FRUFormatVersion, LanguageCode: fruLanguageEnUS}
	a.ManufacturerTypeLength, a.Manufacturer = field(mfg)
	a.NameTypeLength, a.Name = field(name)
	a.PartModelTypeLength, a.PartModel = field(part)
	a.VersionTypeLength, a.Version = field("")
	a.SerialNumberTypeLength, a.SerialNumber = field(serial)
	a.AssetTagTypeLength, a.AssetTag = field("")
	a.FRUFileIDTypeLength, a.FRUFileID = field("")
	return a
}

// moduleDescription is the product name of a DIMM, e.g.
// "32 GiB DDR5 RDIMM 4800 MT/s".
func moduleDescription(m spd.Module) string {
	size := fmt.Sprintf("%d MiB", m.CapacityMiB)
	if m.CapacityMiB%1024 == 0 {
		size = fmt.Sprintf("%d GiB", m.CapacityMiB/1024)
	}
	return fmt.Sprintf("%s %s %s %d MT/s", size, m.Type, baseModuleName(m.BaseModule), m.SpeedMTs)
}

func baseModuleName(t spd.ModuleType) string {
	if t == spd.SODIMM {
		return "SO-DIMM"
	}
	return string(t)
}

// manufactureDate turns the SPD's BCD year/week (0x2540: week 40 of 2025)
// into the Monday of that ISO week. Anything undecodable yields the zero
// time, which the FRU encodes as "unspecified".
func manufactureDate(yw uint16) time.Time {
	bcd := func(b byte) (int, bool) {
		hi, lo := int(b>>4), int(b&0x0f)
		return hi*10 + lo, hi <= 9 && lo <= 9
	}
	y, okY := bcd(byte(yw >> 8))
	w, okW := bcd(byte(yw))
	if !okY || !okW || w < 1 || w > 53 {
		return time.Time{}
	}
	year := 2000 + y
	jan4 := time.Date(year, time.January, 4, 0, 0, 0, 0, time.UTC)
	week1 := jan4.AddDate(0, 0, -((int(jan4.Weekday()) + 6) % 7))
	return week1.AddDate(0, 0, 7*(w-1))
}

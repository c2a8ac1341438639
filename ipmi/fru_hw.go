package ipmi

import (
	"fmt"
	"strings"
	"time"

	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
)

// FRU devices of the processors and network adapters (Platform
// Management FRU Information Storage Definition v1.0: a Board Info Area,
// §11, and a Product Info Area, §12, like the board's and the DIMMs').
//
// FRU device IDs: 00h is the system board, 01h..5Fh the DIMM slots
// (ordinal + 1, sdr.go), 60h + socket the processors (60h..67h) and
// 68h + adapter index the NICs (68h..6Fh, in the profile's order). Each
// has a FRU Device Locator (SDR type 11h) naming it, so ipmitool fru
// print and ipmi-fru title it "CPU0" or "NIC LOM".
const (
	cpuFRUBase = 0x60
	maxCPUFRUs = 8
	nicFRUBase = 0x68
	maxNICFRUs = 8

	recordCPULocator0 uint16 = 0x0800 // + socket
	recordNICLocator0 uint16 = 0x0900 // + adapter index

	entityAddInCard = 0x0B // a network adapter (the LOM too: it is one on the board)
)

func cpuFRUID(socket int) uint8 { return uint8(cpuFRUBase + socket) }
func nicFRUID(index int) uint8  { return uint8(nicFRUBase + index) }

// nicFRUName is the locator's name of adapter n.
func nicFRUName(n platform.NIC) string { return "NIC " + n.ID }

// hardwareFRUIDs lists the processor and adapter FRU devices present.
func hardwareFRUIDs(snap *platform.Snapshot) []uint8 {
	var ids []uint8
	for i := range min(len(snap.Hardware.Processors), maxCPUFRUs) {
		ids = append(ids, cpuFRUID(i))
	}
	for i := range min(len(snap.Hardware.NICs), maxNICFRUs) {
		ids = append(ids, nicFRUID(i))
	}
	return ids
}

// hardwareFRU builds the inventory of a processor or adapter FRU; ok is
// false for an id outside those ranges or naming no part.
func hardwareFRU(snap *platform.Snapshot, id uint8) (data []byte, ok bool, err error) {
	h := &snap.Hardware
	switch {
	case id >= cpuFRUBase && id < cpuFRUBase+maxCPUFRUs && int(id-cpuFRUBase) < len(h.Processors):
		data, err = cpuFRU(h.Processors[id-cpuFRUBase])
		return data, true, err
	case id >= nicFRUBase && id < nicFRUBase+maxNICFRUs && int(id-nicFRUBase) < len(h.NICs):
		data, err = nicFRU(h.NICs[id-nicFRUBase])
		return data, true, err
	}
	return nil, false, nil
}

// cpuFRU: the board area names the part (manufacturer, model, the serial
// standing for its PPIN) with its make-up in custom fields; the product
// area repeats it with the running microcode as its version.
func cpuFRU(p platform.Processor) ([]byte, error) {
	board := boardArea(time.Time{}, p.Manufacturer, p.Model, p.SerialNumber, "")
	board.Custom = []types.FRUField{
		custom("Socket: " + p.ID),
		custom(fmt.Sprintf("Cores: %d Threads: %d", p.Cores, p.Threads)),
		custom(fmt.Sprintf("Speed: %d MHz, max %d MHz", p.Processor.OperatingSpeedMHz, p.MaxSpeedMHz)),
		custom(fmt.Sprintf("TDP: %d W", p.TDPWatts)),
	}
	if p.Microcode != "" {
		board.Custom = append(board.Custom, custom("Microcode: "+p.Microcode))
	}
	prod := productArea(p.Manufacturer, p.Model, "", p.SerialNumber)
	prod.VersionTypeLength, prod.Version = field(p.Microcode)
	f := &types.FRU{BoardInfoArea: board, ProductInfoArea: prod}
	data, err := types.PackFRUInventory(f)
	if err != nil {
		return nil, fmt.Errorf("pack FRU of %s: %w", p.ID, err)
	}
	return data, nil
}

// nicFRU: the board area names the adapter, custom fields give its
// ports' MACs (as vendors' adapter FRUs carry them), speed and boot
// capability; the product area's version is the firmware.
func nicFRU(n platform.NIC) ([]byte, error) {
	board := boardArea(time.Time{}, n.Manufacturer, n.Model, n.SerialNumber, n.PartNumber)
	board.Custom = []types.FRUField{custom(fmt.Sprintf("Ports: %d x %d Mb/s", len(n.Ports), n.SpeedMbps))}
	for _, p := range n.Ports {
		board.Custom = append(board.Custom, custom(fmt.Sprintf("MAC %d: %s", p.Port, strings.ToUpper(p.MAC))))
	}
	pxe := "no"
	if n.PXE {
		pxe = "yes"
	}
	board.Custom = append(board.Custom, custom("PXE: "+pxe))
	prod := productArea(n.Manufacturer, n.Model, n.PartNumber, n.SerialNumber)
	prod.VersionTypeLength, prod.Version = field(n.FirmwareVersion)
	f := &types.FRU{BoardInfoArea: board, ProductInfoArea: prod}
	data, err := types.PackFRUInventory(f)
	if err != nil {
		return nil, fmt.Errorf("pack FRU of %s: %w", n.ID, err)
	}
	return data, nil
}

// hardwareFRULocators are the FRU Device Locators of the processor and
// adapter FRUs.
func hardwareFRULocators(snap *platform.Snapshot) []sdrRecord {
	var out []sdrRecord
	for i, p := range snap.Hardware.Processors {
		if i >= maxCPUFRUs {
			break
		}
		id := recordCPULocator0 + uint16(i)
		out = append(out, sdrRecord{id: id, data: hwLocator(id, p.ID, cpuFRUID(i), entityProcessor, uint8(i+1))})
	}
	for i, n := range snap.Hardware.NICs {
		if i >= maxNICFRUs {
			break
		}
		id := recordNICLocator0 + uint16(i)
		out = append(out, sdrRecord{id: id, data: hwLocator(id, nicFRUName(n), nicFRUID(i), entityAddInCard, uint8(i+1))})
	}
	return out
}

func hwLocator(recID uint16, name string, fruID, entity, instance uint8) []byte {
	tl, idb := idString(name)
	l := &types.SDRFRUDeviceLocator{
		DeviceAccessAddress:      bmcSlaveAddress,
		FRUDeviceID_SlaveAddress: fruID,
		IsLogicalFRUDevice:       true,
		DeviceType:               deviceTypeFRUBehindMC,
		DeviceTypeModifier:       0x00,
		FRUEntityID:              entity,
		FRUEntityInstance:        instance,
		DeviceIDTypeLength:       tl,
		DeviceIDBytes:            idb,
	}
	return l.Pack(recID)
}

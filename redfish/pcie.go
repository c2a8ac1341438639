package redfish

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/cxl"
	"github.com/gin-gonic/gin"
)

// A server with CXL host bridges (Snapshot.CXL set) shows each expander
// seated in one of its hot-plug slots as a PCIe device of the chassis, as
// DSP8010 2025.4 lays CXL type-3 devices out: PCIeDevice with its
// CXLDevice properties, the device's PCIe function, its CXL logical device
// and the memory region the OS mapped from it. Every URI below is the
// first one the CSDL's Redfish.Uris lists for its type; the device's Id is
// the slot's name, which is also what the chassis is labelled with. A
// server without CXL serves none of these (and no link to them).

const (
	typePCIeDeviceCollection       = "#PCIeDeviceCollection.PCIeDeviceCollection"
	typePCIeDevice                 = "#PCIeDevice.v1_21_0.PCIeDevice"
	typePCIeFunctionCollection     = "#PCIeFunctionCollection.PCIeFunctionCollection"
	typePCIeFunction               = "#PCIeFunction.v1_7_0.PCIeFunction"
	typeCXLLogicalDeviceCollection = "#CXLLogicalDeviceCollection.CXLLogicalDeviceCollection"
	typeCXLLogicalDevice           = "#CXLLogicalDevice.v1_3_0.CXLLogicalDevice"
	typeMemoryRegionCollection     = "#MemoryRegionCollection.MemoryRegionCollection"
	typeMemoryRegion               = "#MemoryRegion.v1_0_3.MemoryRegion"
)

// cxlTypes are the types a CXL server adds to servedTypes.
var cxlTypes = []string{
	typePCIeDeviceCollection, typePCIeDevice, typePCIeFunctionCollection, typePCIeFunction,
	typeCXLLogicalDeviceCollection, typeCXLLogicalDevice, typeMemoryRegionCollection, typeMemoryRegion,
}

// cxlMetadataRefs are the $metadata references of cxlTypes.
var cxlMetadataRefs = []struct{ file, namespaces string }{
	{"PCIeDeviceCollection_v1.xml", "PCIeDeviceCollection"},
	{"PCIeDevice_v1.xml", "PCIeDevice PCIeDevice.v1_21_0"},
	{"PCIeFunctionCollection_v1.xml", "PCIeFunctionCollection"},
	{"PCIeFunction_v1.xml", "PCIeFunction PCIeFunction.v1_7_0"},
	{"CXLLogicalDeviceCollection_v1.xml", "CXLLogicalDeviceCollection"},
	{"CXLLogicalDevice_v1.xml", "CXLLogicalDevice CXLLogicalDevice.v1_3_0"},
	{"MemoryRegionCollection_v1.xml", "MemoryRegionCollection"},
	{"MemoryRegion_v1.xml", "MemoryRegion MemoryRegion.v1_0_3"},
}

// The expander is a single logical device (an SLD: CXL 3.1 §2.4) with one
// PCIe function, so each has one fixed Id.
const (
	cxlFunctionID = "0"
	cxlLogicalID  = "LD0"
)

func pcieDevicesPath() string           { return chassisPath() + "/PCIeDevices" }
func pcieDevicePath(slot string) string { return pcieDevicesPath() + "/" + slot }
func pcieFunctionsPath(slot string) string {
	return pcieDevicePath(slot) + "/PCIeFunctions"
}
func pcieFunctionPath(slot string) string { return pcieFunctionsPath(slot) + "/" + cxlFunctionID }
func cxlLogicalDevicesPath(slot string) string {
	return pcieDevicePath(slot) + "/CXLLogicalDevices"
}
func cxlLogicalDevicePath(slot string) string {
	return cxlLogicalDevicesPath(slot) + "/" + cxlLogicalID
}
func memoryRegionsPath(slot string) string {
	return cxlLogicalDevicePath(slot) + "/MemoryRegions"
}
func memoryRegionPath(slot, region string) string { return memoryRegionsPath(slot) + "/" + region }

// cxlRoutes serves the expanders' PCIe view (see above).
func (s *service) cxlRoutes(e *gin.Engine) {
	dev := pathChassis + "/:chassis/PCIeDevices"
	s.handle(e, dev, resource{entity: "PCIeDeviceCollection", get: s.getPCIeDevices, snapshotOnly: true})
	dev += "/:pcie"
	s.handle(e, dev, resource{entity: "PCIeDevice", get: s.getPCIeDevice, snapshotOnly: true})
	s.handle(e, dev+"/PCIeFunctions", resource{entity: "PCIeFunctionCollection", get: s.getPCIeFunctions, snapshotOnly: true})
	s.handle(e, dev+"/PCIeFunctions/:function", resource{entity: "PCIeFunction", get: s.getPCIeFunction, snapshotOnly: true})
	ld := dev + "/CXLLogicalDevices"
	s.handle(e, ld, resource{entity: "CXLLogicalDeviceCollection", get: s.getCXLLogicalDevices, snapshotOnly: true})
	ld += "/:ld"
	s.handle(e, ld, resource{entity: "CXLLogicalDevice", get: s.getCXLLogicalDevice, snapshotOnly: true})
	s.handle(e, ld+"/MemoryRegions", resource{entity: "MemoryRegionCollection", get: s.getMemoryRegions, snapshotOnly: true})
	s.handle(e, ld+"/MemoryRegions/:region", resource{entity: "MemoryRegion", get: s.getMemoryRegion, snapshotOnly: true})
}

// cxlSeated lists the slots that hold a card, in the platform's order.
func cxlSeated(snap *platform.Snapshot) []cxl.SlotStatus {
	if snap.CXL == nil {
		return nil
	}
	var out []cxl.SlotStatus
	for _, sl := range snap.CXL.Slots {
		if sl.Device != nil {
			out = append(out, sl)
		}
	}
	return out
}

// cxlCard finds the seated card in slot.
func cxlCard(snap *platform.Snapshot, slot string) (cxl.SlotStatus, bool) {
	for _, sl := range cxlSeated(snap) {
		if sl.Slot == slot {
			return sl, true
		}
	}
	return cxl.SlotStatus{}, false
}

// lookupCXLCard resolves :chassis and :pcie.
func lookupCXLCard(r *request) (cxl.SlotStatus, error) {
	if err := lookupChassis(r); err != nil {
		return cxl.SlotStatus{}, err
	}
	if r.snap.CXL == nil {
		// A server without CXL has no PCIeDevices collection at all.
		return cxl.SlotStatus{}, errInvalidURI(pcieDevicesPath())
	}
	sl, ok := cxlCard(r.snap, r.param("pcie"))
	if !ok {
		return cxl.SlotStatus{}, errResourceNotFound("PCIeDevice", r.param("pcie"))
	}
	return sl, nil
}

func lookupCXLLogicalDevice(r *request) (cxl.SlotStatus, error) {
	sl, err := lookupCXLCard(r)
	if err != nil {
		return sl, err
	}
	if id := r.param("ld"); id != cxlLogicalID {
		return sl, errResourceNotFound("CXLLogicalDevice", id)
	}
	return sl, nil
}

// cxlClass is what the card's PCI class code says it is: class 05h
// subclass 02h is a CXL memory device, programming interface 10h one that
// follows CXL 2.0 (PCI Code and ID Assignment Specification r1.16, §1.6),
// which the CXL specification makes a type-3 device (CXL 3.1 §8.1.12).
type cxlClass struct {
	code     uint32
	memory   bool // 0502h: a CXL memory device, so type 3
	protocol string
}

func classOf(d *cxl.DeviceStatus) (cxlClass, bool) {
	v, err := strconv.ParseUint(d.Class, 16, 24)
	if err != nil {
		return cxlClass{}, false
	}
	c := cxlClass{code: uint32(v), memory: v>>8 == 0x0502}
	if c.memory && v&0xff == 0x10 {
		c.protocol = "CXL2_0"
	}
	return c, true
}

// pcieDeviceClass is PCIeFunction.DeviceClass for a PCI base class (PCI
// Code and ID Assignment Specification r1.16, §1).
func pcieDeviceClass(code uint32) string {
	classes := []string{"UnclassifiedDevice", "MassStorageController", "NetworkController", "DisplayController",
		"MultimediaController", "MemoryController", "Bridge", "CommunicationController", "GenericSystemPeripheral",
		"InputDeviceController", "DockingStation", "Processor", "SerialBusController", "WirelessController",
		"IntelligentController", "SatelliteCommunicationsController", "EncryptionController", "SignalProcessingController",
		"ProcessingAccelerators", "NonEssentialInstrumentation"}
	base := int(code >> 16)
	switch {
	case base < len(classes):
		return classes[base]
	case base == 0x40:
		return "Coprocessor"
	case base == 0xff:
		return "UnassignedClass"
	}
	return "Other"
}

// pciVendorName is the PCI-SIG vendor name for the IDs a card model can
// carry, as lspci prints it from pci.ids; an unknown vendor is left out
// rather than guessed.
func pciVendorName(id string) string {
	switch strings.ToLower(id) {
	case "8086":
		return "Intel Corporation"
	}
	return ""
}

// deviceSerial is the card's PCIe Device Serial Number as lspci prints the
// capability: eight octets, most significant first.
func deviceSerial(serial uint64) string {
	b := make([]string, 8)
	for i := range b {
		b[i] = fmt.Sprintf("%02x", byte(serial>>(56-8*i)))
	}
	return strings.Join(b, "-")
}

// condition is Resource.Condition: a condition that needs attention.
type condition struct {
	MessageID   string   `json:"MessageId"`
	Message     string   `json:"Message"`
	MessageArgs []string `json:"MessageArgs"`
	Severity    string   `json:"Severity"`
	Resolution  string   `json:"Resolution,omitempty"`
}

// cxlStatus is Resource.Status with Conditions (Resource v1_11_0).
type cxlStatus struct {
	State      string      `json:"State"`
	Health     string      `json:"Health,omitempty"`
	Conditions []condition `json:"Conditions,omitempty"`
}

// cxlRefusal is why the card in sl is not in service, as a condition, or
// false when nothing is wrong: no driver (failed), no memory window
// (bound, no region), or an orderly removal the OS refused (bound, region
// still online).
func cxlRefusal(sl cxl.SlotStatus) (condition, bool) {
	if sl.Reason == "" || sl.Device == nil {
		return condition{}, false
	}
	name := "ExpanderRefused"
	if sl.State == cxl.StateEnabled && sl.Device.Region != nil {
		name = "ExpanderRemovalRefused"
	}
	id := cxlRegistry + "." + name
	m := eventMessages[id]
	args := []string{sl.Slot, sl.Reason}
	return condition{MessageID: id, Message: formatMessage(m.text, args), MessageArgs: args, Severity: m.severity,
		Resolution: m.resolution}, true
}

// cxlDeviceStatus is the card's state as the PCIe device: StandbyOffline
// while its slot is off, Enabled once a driver bound it, UnavailableOffline
// when none could; a refusal makes it a Warning and says why.
func cxlDeviceStatus(sl cxl.SlotStatus) cxlStatus {
	st := cxlStatus{Health: "OK"}
	switch sl.State {
	case cxl.StatePresent:
		st.State = "StandbyOffline"
	case cxl.StateFailed:
		st.State = "UnavailableOffline"
	default:
		st.State = "Enabled"
	}
	if c, ok := cxlRefusal(sl); ok {
		st.Health = "Warning"
		st.Conditions = []condition{c}
	}
	return st
}

// cxlMemoryStatus is the state of the card's memory: Enabled while a
// region of it is online, StandbyOffline while the card (or its region)
// is off, UnavailableOffline when it was refused or could not be mapped.
func cxlMemoryStatus(sl cxl.SlotStatus) cxlStatus {
	st := cxlDeviceStatus(sl)
	d := sl.Device
	switch {
	case sl.State == cxl.StateEnabled && d.Region == nil:
		st.State = "UnavailableOffline"
	case d.Region != nil && d.Region.OnlineBytes == 0:
		st.State = "StandbyOffline"
	}
	return st
}

type pcieDevice struct {
	odata
	ID                string          `json:"Id"`
	Name              string          `json:"Name"`
	Description       string          `json:"Description"`
	Manufacturer      string          `json:"Manufacturer,omitempty"`
	SerialNumber      string          `json:"SerialNumber"`
	DeviceType        string          `json:"DeviceType"`
	PCIeInterface     pcieInterface   `json:"PCIeInterface"`
	Slot              pcieSlot        `json:"Slot"`
	Status            cxlStatus       `json:"Status"`
	CXLDevice         *cxlDeviceProps `json:"CXLDevice,omitempty"`
	PCIeFunctions     link            `json:"PCIeFunctions"`
	CXLLogicalDevices *link           `json:"CXLLogicalDevices,omitempty"`
	Links             pcieDeviceLinks `json:"Links"`
}

type pcieInterface struct {
	PCIeType    string `json:"PCIeType,omitempty"`
	MaxPCIeType string `json:"MaxPCIeType,omitempty"`
	LanesInUse  int    `json:"LanesInUse"`
	MaxLanes    int    `json:"MaxLanes"`
}

type pcieSlot struct {
	HotPluggable bool     `json:"HotPluggable"`
	Lanes        int      `json:"Lanes"`
	PCIeType     string   `json:"PCIeType,omitempty"`
	Location     location `json:"Location"`
}

type cxlDeviceProps struct {
	DeviceType              string   `json:"DeviceType"`
	CurrentProtocolVersion  string   `json:"CurrentProtocolVersion,omitempty"`
	CapableProtocolVersions []string `json:"CapableProtocolVersions,omitempty"`
	MaxNumberLogicalDevices int      `json:"MaxNumberLogicalDevices"`
}

type pcieDeviceLinks struct {
	Chassis            []link `json:"Chassis"`
	PCIeFunctions      []link `json:"PCIeFunctions"`
	PCIeFunctionsCount int    `json:"PCIeFunctions@odata.count"`
}

func (s *service) getPCIeDevices(r *request) (any, error) {
	if err := lookupChassis(r); err != nil {
		return nil, err
	}
	if r.snap.CXL == nil {
		return nil, errInvalidURI(pcieDevicesPath())
	}
	return newCollection(pcieDevicesPath(), typePCIeDeviceCollection, "PCIe Device Collection", cxlDeviceLinks(r.snap)), nil
}

// cxlDeviceLinks are the PCIe devices of the seated cards.
func cxlDeviceLinks(snap *platform.Snapshot) []link {
	var out []link
	for _, sl := range cxlSeated(snap) {
		out = append(out, link{ID: pcieDevicePath(sl.Slot)})
	}
	return out
}

func (s *service) getPCIeDevice(r *request) (any, error) {
	sl, err := lookupCXLCard(r)
	if err != nil {
		return nil, err
	}
	return pcieDeviceResource(sl), nil
}

// linkGen is the link generation a CXL 2.0 device trains to: CXL 1.1 and
// 2.0 run on the PCIe 5.0 physical layer at 32 GT/s (CXL 3.1 §6.4.1).
func linkGen(c cxlClass) string {
	if c.protocol == "CXL2_0" {
		return "Gen5"
	}
	return ""
}

func pcieDeviceResource(sl cxl.SlotStatus) pcieDevice {
	d := sl.Device
	cls, _ := classOf(d)
	gen := linkGen(cls)
	// The link is up while the slot is powered, at the slot's width and
	// the card's generation; down, nothing is in use.
	lanes, cur := 0, ""
	if sl.Power {
		lanes, cur = sl.Lanes, gen
	}
	desc := fmt.Sprintf("PCIe device %s below root port %s", d.BDF, sl.RootPort)
	if d.Memdev != "" {
		desc += fmt.Sprintf("; the CXL drivers bound it as %s (%s)", d.Memdev, d.Endpoint)
	}
	pd := pcieDevice{
		odata:         odata{ID: pcieDevicePath(sl.Slot), Type: typePCIeDevice},
		ID:            sl.Slot,
		Name:          "CXL memory expander in " + sl.Slot,
		Description:   desc,
		Manufacturer:  pciVendorName(d.VendorID),
		SerialNumber:  deviceSerial(d.Spec.Serial),
		DeviceType:    "SingleFunction",
		PCIeInterface: pcieInterface{PCIeType: cur, MaxPCIeType: gen, LanesInUse: lanes, MaxLanes: sl.Lanes},
		Slot: pcieSlot{HotPluggable: true, Lanes: sl.Lanes, PCIeType: gen, Location: location{PartLocation: partLocation{
			ServiceLabel: sl.Slot, LocationType: "Slot", LocationOrdinalValue: sl.Number}}},
		Status:        cxlDeviceStatus(sl),
		PCIeFunctions: link{ID: pcieFunctionsPath(sl.Slot)},
		Links: pcieDeviceLinks{Chassis: links(chassisPath()), PCIeFunctions: links(pcieFunctionPath(sl.Slot)),
			PCIeFunctionsCount: 1},
	}
	if cls.memory {
		pd.CXLDevice = &cxlDeviceProps{DeviceType: "Type3", CurrentProtocolVersion: cls.protocol, MaxNumberLogicalDevices: 1}
		if cls.protocol != "" {
			pd.CXLDevice.CapableProtocolVersions = []string{cls.protocol}
		}
		pd.CXLLogicalDevices = &link{ID: cxlLogicalDevicesPath(sl.Slot)}
	}
	return pd
}

type pcieFunction struct {
	odata
	ID               string            `json:"Id"`
	Name             string            `json:"Name"`
	FunctionID       int               `json:"FunctionId"`
	FunctionType     string            `json:"FunctionType"`
	FunctionProtocol string            `json:"FunctionProtocol"`
	DeviceClass      string            `json:"DeviceClass"`
	ClassCode        string            `json:"ClassCode"`
	VendorID         string            `json:"VendorId"`
	DeviceID         string            `json:"DeviceId"`
	SegmentNumber    string            `json:"SegmentNumber,omitempty"`
	BusNumber        string            `json:"BusNumber,omitempty"`
	DeviceNumber     string            `json:"DeviceNumber,omitempty"`
	FunctionNumber   string            `json:"FunctionNumber,omitempty"`
	Status           cxlStatus         `json:"Status"`
	Links            pcieFunctionLinks `json:"Links"`
}

type pcieFunctionLinks struct {
	PCIeDevice       link  `json:"PCIeDevice"`
	CXLLogicalDevice *link `json:"CXLLogicalDevice,omitempty"`
}

func (s *service) getPCIeFunctions(r *request) (any, error) {
	sl, err := lookupCXLCard(r)
	if err != nil {
		return nil, err
	}
	return newCollection(pcieFunctionsPath(sl.Slot), typePCIeFunctionCollection, "PCIe Function Collection",
		links(pcieFunctionPath(sl.Slot))), nil
}

func (s *service) getPCIeFunction(r *request) (any, error) {
	sl, err := lookupCXLCard(r)
	if err != nil {
		return nil, err
	}
	if id := r.param("function"); id != cxlFunctionID {
		return nil, errResourceNotFound("PCIeFunction", id)
	}
	return pcieFunctionResource(sl), nil
}

func pcieFunctionResource(sl cxl.SlotStatus) pcieFunction {
	d := sl.Device
	cls, _ := classOf(d)
	f := pcieFunction{
		odata:            odata{ID: pcieFunctionPath(sl.Slot), Type: typePCIeFunction},
		ID:               cxlFunctionID,
		Name:             "Function 0 of " + sl.Slot,
		FunctionType:     "Physical",
		FunctionProtocol: "PCIe",
		DeviceClass:      pcieDeviceClass(cls.code),
		ClassCode:        fmt.Sprintf("0x%06X", cls.code),
		VendorID:         "0x" + strings.ToUpper(d.VendorID),
		DeviceID:         "0x" + strings.ToUpper(d.DeviceID),
		Status:           cxlDeviceStatus(sl),
		Links:            pcieFunctionLinks{PCIeDevice: link{ID: pcieDevicePath(sl.Slot)}},
	}
	if cls.memory {
		f.FunctionProtocol = "CXL"
		f.Links.CXLLogicalDevice = &link{ID: cxlLogicalDevicePath(sl.Slot)}
	}
	// The BDF as the OS enumerated it, "ssss:bb:dd.f".
	var seg, bus, dev, fn uint
	if n, err := fmt.Sscanf(d.BDF, "%04x:%02x:%02x.%1x", &seg, &bus, &dev, &fn); err == nil && n == 4 {
		f.FunctionID = int(fn)
		f.SegmentNumber = fmt.Sprintf("0x%04X", seg)
		f.BusNumber = fmt.Sprintf("0x%02X", bus)
		f.DeviceNumber = fmt.Sprintf("0x%02X", dev)
		f.FunctionNumber = fmt.Sprintf("0x%X", fn)
	}
	return f
}

type cxlLogicalDevice struct {
	odata
	ID                 string       `json:"Id"`
	Name               string       `json:"Name"`
	Description        string       `json:"Description,omitempty"`
	MemorySizeMiB      uint64       `json:"MemorySizeMiB"`
	Identifiers        []identifier `json:"Identifiers"`
	SemanticsSupported []string     `json:"SemanticsSupported"`
	Status             cxlStatus    `json:"Status"`
	MemoryRegions      link         `json:"MemoryRegions"`
	Links              cxlLDLinks   `json:"Links"`
}

type identifier struct {
	DurableName       string `json:"DurableName"`
	DurableNameFormat string `json:"DurableNameFormat"`
}

type cxlLDLinks struct {
	PCIeFunctions      []link `json:"PCIeFunctions"`
	PCIeFunctionsCount int    `json:"PCIeFunctions@odata.count"`
}

func (s *service) getCXLLogicalDevices(r *request) (any, error) {
	sl, err := lookupCXLCard(r)
	if err != nil {
		return nil, err
	}
	var members []link
	if cls, _ := classOf(sl.Device); cls.memory {
		members = links(cxlLogicalDevicePath(sl.Slot))
	}
	return newCollection(cxlLogicalDevicesPath(sl.Slot), typeCXLLogicalDeviceCollection, "CXL Logical Device Collection", members), nil
}

func (s *service) getCXLLogicalDevice(r *request) (any, error) {
	sl, err := lookupCXLLogicalDevice(r)
	if err != nil {
		return nil, err
	}
	if cls, _ := classOf(sl.Device); !cls.memory {
		return nil, errResourceNotFound("CXLLogicalDevice", cxlLogicalID)
	}
	return cxlLogicalDeviceResource(sl), nil
}

// gcxlID is the logical device's GCXLID: the device serial number and the
// LD-ID, which an SLD's only logical device has as 0 (DSP8010
// Resource.DurableNameFormat GCXLID).
func gcxlID(serial uint64) string { return deviceSerial(serial) + ":0000" }

func cxlLogicalDeviceResource(sl cxl.SlotStatus) cxlLogicalDevice {
	d := sl.Device
	ld := cxlLogicalDevice{
		odata:         odata{ID: cxlLogicalDevicePath(sl.Slot), Type: typeCXLLogicalDevice},
		ID:            cxlLogicalID,
		Name:          "CXL logical device of " + sl.Slot,
		MemorySizeMiB: d.Spec.Capacity >> 20,
		Identifiers:   []identifier{{DurableName: gcxlID(d.Spec.Serial), DurableNameFormat: "GCXLID"}},
		// A type-3 device speaks CXL.io and CXL.mem (CXL 3.1 §2.3).
		SemanticsSupported: []string{"CXLio", "CXLmem"},
		Status:             cxlDeviceStatus(sl),
		MemoryRegions:      link{ID: memoryRegionsPath(sl.Slot)},
		Links:              cxlLDLinks{PCIeFunctions: links(pcieFunctionPath(sl.Slot)), PCIeFunctionsCount: 1},
	}
	if d.Memdev != "" {
		ld.Description = fmt.Sprintf("Memory device %s, CXL port %s", d.Memdev, d.Endpoint)
	}
	return ld
}

type memoryRegion struct {
	odata
	ID                string    `json:"Id"`
	Name              string    `json:"Name"`
	Description       string    `json:"Description"`
	RegionNumber      *int      `json:"RegionNumber,omitempty"`
	RegionType        string    `json:"RegionType"`
	RegionSizeMiB     uint64    `json:"RegionSizeMiB"`
	NonVolatileRegion bool      `json:"NonVolatileRegion"`
	Status            cxlStatus `json:"Status"`
}

func (s *service) getMemoryRegions(r *request) (any, error) {
	sl, err := lookupCXLLogicalDevice(r)
	if err != nil {
		return nil, err
	}
	var members []link
	if rg := sl.Device.Region; rg != nil {
		members = links(memoryRegionPath(sl.Slot, rg.Name))
	}
	return newCollection(memoryRegionsPath(sl.Slot), typeMemoryRegionCollection, "Memory Region Collection", members), nil
}

func (s *service) getMemoryRegion(r *request) (any, error) {
	sl, err := lookupCXLLogicalDevice(r)
	if err != nil {
		return nil, err
	}
	rg := sl.Device.Region
	if rg == nil || rg.Name != r.param("region") {
		return nil, errResourceNotFound("MemoryRegion", r.param("region"))
	}
	return memoryRegionResource(sl), nil
}

// memoryRegionResource is the region the kernel mapped from the card: a
// static-capacity region (not dynamic capacity, CXL 3.1 §9.13.3) of its
// volatile capacity. Where it sits in host physical address space, and
// the NUMA node its memory went to, have no property in MemoryRegion
// v1_0_3, so the Description says them.
func memoryRegionResource(sl cxl.SlotStatus) memoryRegion {
	rg := sl.Device.Region
	m := memoryRegion{
		odata: odata{ID: memoryRegionPath(sl.Slot, rg.Name), Type: typeMemoryRegion},
		ID:    rg.Name,
		Name:  "CXL region " + rg.Name,
		Description: fmt.Sprintf("Mapped at host physical address %#x-%#x in CXL Window %d as %s; %d MiB online in NUMA node %d",
			rg.Base, rg.Base+rg.Size-1, rg.Window, rg.Dax, rg.OnlineBytes>>20, rg.Node),
		RegionType:    "Static",
		RegionSizeMiB: rg.Size >> 20,
		Status:        cxlStatus{State: "Enabled", Health: "OK"},
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(rg.Name, "region")); err == nil {
		m.RegionNumber = &n
	}
	if rg.OnlineBytes == 0 {
		m.Status.State = "StandbyOffline"
	}
	return m
}

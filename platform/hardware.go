package platform

import (
	"crypto/sha1"
	"encoding/base32"
	"fmt"
	"net"

	"github.com/bmcemu/bmcemu/platform/profile"
)

// The server's hardware beyond memory: processors, network adapters,
// storage, fans and power supplies. What is installed comes from the
// profile and does not change while the server runs; what the parts read
// (temperatures, fan speeds, power) follows the host's power state and
// load through the model in environment.go. Both BMC surfaces render the
// snapshot's Hardware, so Redfish's Processors, EthernetInterfaces,
// Storage, Power and Thermal and IPMI's FRU records and sensors describe
// one set of parts.

// Hardware is the snapshot's view of the installed parts and their readings.
type Hardware struct {
	Processors    []Processor         `json:"processors"`
	NICs          []NIC               `json:"nics"`
	Storage       []StorageController `json:"storage"`
	Fans          []Fan               `json:"fans"`
	PowerSupplies []PowerSupply       `json:"power_supplies"`
	// Power is the chassis' draw as its supplies meter it.
	Power PowerReading `json:"power"`
	// InletC is the chassis inlet (ambient) air temperature.
	InletC int `json:"inlet_c"`
	// Firmware lists every component with a firmware version of its own.
	Firmware []FirmwareComponent `json:"firmware"`
}

// Processor is the CPU in one socket.
type Processor struct {
	// ID names the socket as the board does: CPU0, CPU1, ... (the DIMM
	// slots CPU0_DIMM_A1 ... belong to it).
	ID     string `json:"id"`
	Socket int    `json:"socket"`
	profile.Processor
	// InstructionSet is x86-64 for x86, ARM-A64 for ARM.
	InstructionSet string `json:"instruction_set"`
	// SerialNumber stands for the package's PPIN, derived from the
	// system serial (PartSerial).
	SerialNumber string `json:"serial_number"`
	// TemperatureC is the package temperature; PowerWatts its draw.
	TemperatureC int `json:"temperature_c"`
	PowerWatts   int `json:"power_watts"`
}

// NIC is one network adapter.
type NIC struct {
	ID              string    `json:"id"`
	Model           string    `json:"model"`
	Manufacturer    string    `json:"manufacturer"`
	PartNumber      string    `json:"part_number,omitempty"`
	SerialNumber    string    `json:"serial_number"`
	FirmwareVersion string    `json:"firmware_version,omitempty"`
	SpeedMbps       int       `json:"speed_mbps"`
	PXE             bool      `json:"pxe"`
	Ports           []NICPort `json:"ports"`
}

// NICPort is one port of an adapter: one host network interface.
type NICPort struct {
	// ID is the adapter's id and the 1-based port number ("NIC1-2").
	ID string `json:"id"`
	// Port is the 1-based port on the adapter; Index the 0-based position
	// among all host ports, which the MAC derives from.
	Port  int `json:"port"`
	Index int `json:"index"`
	// MAC is HostPortMAC(serial, Index), in the colon form.
	MAC    string `json:"mac"`
	LinkUp bool   `json:"link_up"`
	// SpeedMbps is the negotiated speed, 0 while the link is down.
	SpeedMbps int  `json:"speed_mbps"`
	PXE       bool `json:"pxe"`
}

// StorageController is a RAID controller with its drives and volumes.
type StorageController struct {
	ID              string   `json:"id"`
	Model           string   `json:"model"`
	Manufacturer    string   `json:"manufacturer"`
	SerialNumber    string   `json:"serial_number"`
	FirmwareVersion string   `json:"firmware_version,omitempty"`
	SpeedGbps       float64  `json:"speed_gbps,omitempty"`
	RAIDLevels      []string `json:"raid_levels"`
	Drives          []Drive  `json:"drives"`
	Volumes         []Volume `json:"volumes"`
}

// Drive is one drive in a controller's bay.
type Drive struct {
	// ID is "Disk" and the bay number (Disk0 ...).
	ID              string `json:"id"`
	Bay             int    `json:"bay"`
	Media           string `json:"media"`    // SSD, HDD
	Protocol        string `json:"protocol"` // SATA, SAS, NVMe
	CapacityBytes   uint64 `json:"capacity_bytes"`
	Model           string `json:"model"`
	Manufacturer    string `json:"manufacturer"`
	SerialNumber    string `json:"serial_number"`
	FirmwareVersion string `json:"firmware_version,omitempty"`
	RPM             int    `json:"rpm,omitempty"`
	// LifeLeftPercent is an SSD's predicted media life left (nil for a
	// hard disk). Below DriveLifeWarnPercent the drive predicts failure.
	LifeLeftPercent  *int   `json:"life_left_percent,omitempty"`
	FailurePredicted bool   `json:"failure_predicted"`
	Health           string `json:"health"`
	// Volume is the id of the volume the drive belongs to, "" if none.
	Volume string `json:"volume,omitempty"`
}

// DriveLifeWarnPercent is the media life left below which an SSD warns
// that it will wear out (SMART's "percentage used" past 90%).
const DriveLifeWarnPercent = 10

// Volume is a logical drive.
type Volume struct {
	// ID is "Volume" and the volume's position (Volume0 ...).
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	RAID          string   `json:"raid"`
	CapacityBytes uint64   `json:"capacity_bytes"`
	Drives        []string `json:"drives"` // member drive ids
	Health        string   `json:"health"`
}

// Fan is one chassis fan.
type Fan struct {
	ID     string `json:"id"` // FAN1 ...
	Index  int    `json:"index"`
	MaxRPM int    `json:"max_rpm"`
	MinRPM int    `json:"min_rpm"`
	// RPM is the tachometer reading, a multiple of 100; 0 while the host
	// is off (the fans stop in S5).
	RPM         int `json:"rpm"`
	DutyPercent int `json:"duty_percent"`
	// LowerCautionRPM and LowerCriticalRPM are the limits below which a
	// running fan is failing.
	LowerCautionRPM  int `json:"lower_caution_rpm"`
	LowerCriticalRPM int `json:"lower_critical_rpm"`
}

// PowerSupply is one supply.
type PowerSupply struct {
	ID                string `json:"id"` // PSU1 ...
	Bay               int    `json:"bay"`
	Model             string `json:"model"`
	Manufacturer      string `json:"manufacturer"`
	SerialNumber      string `json:"serial_number"`
	FirmwareVersion   string `json:"firmware_version,omitempty"`
	CapacityWatts     int    `json:"capacity_watts"`
	Input             string `json:"input"` // AC, DC
	LineInputVolts    int    `json:"line_input_volts"`
	EfficiencyPercent int    `json:"efficiency_percent"`
	// InputWatts and OutputWatts are the supply's share of the load (the
	// supplies share it evenly).
	InputWatts  int `json:"input_watts"`
	OutputWatts int `json:"output_watts"`
}

// PowerReading is the chassis' power.
type PowerReading struct {
	// ConsumedWatts is what the chassis draws from the mains (the
	// supplies' input), OutputWatts what they deliver to the board.
	ConsumedWatts int `json:"consumed_watts"`
	OutputWatts   int `json:"output_watts"`
	// CapacityWatts is what the supplies can deliver while staying
	// redundant: all but the largest when there are two or more (N+1).
	CapacityWatts int  `json:"capacity_watts"`
	Redundant     bool `json:"redundant"`
}

// Firmware component kinds.
const (
	FirmwareBIOS              = "BIOS"
	FirmwareBMC               = "BMC"
	FirmwareMicrocode         = "Microcode"
	FirmwareNIC               = "NIC"
	FirmwareStorageController = "StorageController"
	FirmwareDrive             = "Drive"
	FirmwarePowerSupply       = "PowerSupply"
)

// FirmwareComponent is one firmware image the server runs.
type FirmwareComponent struct {
	// ID is unique among components: BIOS, BMC, CPU0_Microcode,
	// NIC_LOM, Storage_RAID1, Drive_RAID1_Disk0, PSU1.
	ID           string `json:"id"`
	Kind         string `json:"kind"`
	Name         string `json:"name"`
	Version      string `json:"version"`
	Manufacturer string `json:"manufacturer,omitempty"`
	// Target is the id of the part the image runs on (the socket, NIC,
	// controller, "RAID1/Disk0" for a drive, the supply); "" for the
	// BIOS and the BMC.
	Target string `json:"target,omitempty"`
}

// HostPortMAC is the MAC address of host network port index (0-based,
// counting every adapter's ports in the profile's order): the first six
// bytes of SHA-1("nic<index>:" + serial) with the first octet 02h, a
// locally administered unicast address. Port 0 is HostNICMAC(serial), the
// PXE boot port inventories name before asking the server.
func HostPortMAC(serial string, index int) net.HardwareAddr {
	if index == 0 {
		return HostNICMAC(serial)
	}
	h := sha1.Sum([]byte(fmt.Sprintf("nic%d:", index) + serial))
	mac := make(net.HardwareAddr, 6)
	mac[0] = 0x02
	copy(mac[1:], h[:5])
	return mac
}

// BMCMAC is the MAC address of the BMC's own LAN port (IPMI LAN
// configuration parameter 5, the Redfish Manager's EthernetInterface):
// SHA-1("mac:" + serial) with the first octet 02h. Never a host port's.
func BMCMAC(serial string) net.HardwareAddr {
	h := sha1.Sum([]byte("mac:" + serial))
	mac := make(net.HardwareAddr, 6)
	mac[0] = 0x02
	copy(mac[1:], h[:5])
	return mac
}

// PartSerial derives a part's serial number from the system's, so two
// servers of one profile never share a drive or adapter serial and one
// server keeps its serials across restarts: 12 base32 characters of
// SHA-1(kind:serial:id).
func PartSerial(kind, serial, id string) string {
	h := sha1.Sum([]byte(kind + ":" + serial + ":" + id))
	return base32.StdEncoding.EncodeToString(h[:])[:12]
}

// installed is the hardware as built from the profile: everything but the
// readings, fixed for the platform's life.
type installed struct {
	hw      Hardware
	profile profile.Hardware
}

func newInstalled(prof *profile.Profile) *installed {
	spec := prof.Hardware.Resolved(prof.Memory)
	serial := prof.System.SerialNumber
	in := &installed{profile: spec}
	h := &in.hw
	for i, c := range spec.Processors {
		p := Processor{ID: fmt.Sprintf("CPU%d", i), Socket: i, Processor: c, InstructionSet: "x86-64"}
		p.SerialNumber = PartSerial("cpu", serial, p.ID)
		if c.Architecture == "ARM" {
			p.InstructionSet = "ARM-A64"
		}
		h.Processors = append(h.Processors, p)
	}
	index := 0
	for _, n := range spec.NICs {
		nic := NIC{ID: n.Name, Model: n.Model, Manufacturer: n.Manufacturer, PartNumber: n.PartNumber,
			SerialNumber: PartSerial("nic", serial, n.Name), FirmwareVersion: n.FirmwareVersion, SpeedMbps: n.SpeedMbps, PXE: *n.PXE}
		for j, pt := range n.Ports {
			port := NICPort{ID: fmt.Sprintf("%s-%d", n.Name, j+1), Port: j + 1, Index: index,
				MAC: HostPortMAC(serial, index).String(), LinkUp: pt.Link == "up", PXE: nic.PXE}
			if port.LinkUp {
				port.SpeedMbps = pt.SpeedMbps
			}
			nic.Ports = append(nic.Ports, port)
			index++
		}
		h.NICs = append(h.NICs, nic)
	}
	for _, c := range spec.Storage {
		sc := StorageController{ID: c.Name, Model: c.Model, Manufacturer: c.Manufacturer,
			SerialNumber: PartSerial("storage", serial, c.Name), FirmwareVersion: c.FirmwareVersion,
			SpeedGbps: c.SpeedGbps, RAIDLevels: c.RAIDLevels}
		for b := range c.DriveCount() {
			g, _ := c.Bay(b)
			d := Drive{ID: fmt.Sprintf("Disk%d", b), Bay: b, Media: g.Media, Protocol: g.Protocol,
				CapacityBytes: uint64(g.CapacityGB) * 1_000_000_000, Model: g.Model, Manufacturer: g.Manufacturer,
				FirmwareVersion: g.FirmwareVersion, RPM: g.RPM, Health: HealthOK}
			d.SerialNumber = PartSerial("drive", serial, c.Name+"/"+d.ID)
			if g.LifeLeftPercent != nil {
				life := *g.LifeLeftPercent
				d.LifeLeftPercent = &life
				if life < DriveLifeWarnPercent {
					d.FailurePredicted, d.Health = true, HealthWarning
				}
			}
			sc.Drives = append(sc.Drives, d)
		}
		for j, v := range c.Volumes {
			vol := Volume{ID: fmt.Sprintf("Volume%d", j), Name: v.Name, RAID: v.RAID,
				CapacityBytes: uint64(v.CapacityGB) * 1_000_000_000, Health: HealthOK}
			for _, b := range v.Drives {
				d := &sc.Drives[b]
				d.Volume = vol.ID
				vol.Drives = append(vol.Drives, d.ID)
				// A member predicting failure puts the volume's
				// redundancy at risk: it warns too.
				if d.FailurePredicted {
					vol.Health = HealthWarning
				}
			}
			sc.Volumes = append(sc.Volumes, vol)
		}
		h.Storage = append(h.Storage, sc)
	}
	f := spec.Fans
	for i := range f.Count {
		h.Fans = append(h.Fans, Fan{ID: fmt.Sprintf("FAN%d", i+1), Index: i, MaxRPM: roundRPM(f.MaxRPM), MinRPM: roundRPM(f.MinRPM),
			LowerCautionRPM: roundRPM(f.MinRPM / 2), LowerCriticalRPM: roundRPM(f.MinRPM / 4)})
	}
	bay := 0
	for _, ps := range spec.PowerSupplies {
		for range ps.Count {
			id := fmt.Sprintf("PSU%d", bay+1)
			volts := 230
			if ps.Input == "DC" {
				volts = 48
			}
			h.PowerSupplies = append(h.PowerSupplies, PowerSupply{ID: id, Bay: bay, Model: ps.Model, Manufacturer: ps.Manufacturer,
				SerialNumber: PartSerial("psu", serial, id), FirmwareVersion: ps.FirmwareVersion, CapacityWatts: ps.CapacityWatts,
				Input: ps.Input, LineInputVolts: volts, EfficiencyPercent: ps.EfficiencyPercent})
			bay++
		}
	}
	h.Power.CapacityWatts, h.Power.Redundant = supplyCapacity(h.PowerSupplies)
	h.Firmware = firmwareComponents(prof, h)
	return in
}

// supplyCapacity is what the supplies deliver while one may fail (N+1):
// the sum less the largest, when there are two or more.
func supplyCapacity(ps []PowerSupply) (watts int, redundant bool) {
	largest := 0
	for _, s := range ps {
		watts += s.CapacityWatts
		largest = max(largest, s.CapacityWatts)
	}
	if len(ps) < 2 {
		return watts, false
	}
	return watts - largest, true
}

// firmwareComponents lists every versioned image; parts whose profile
// gives no version have none to list.
func firmwareComponents(prof *profile.Profile, h *Hardware) []FirmwareComponent {
	var out []FirmwareComponent
	add := func(c FirmwareComponent) {
		if c.Version != "" {
			out = append(out, c)
		}
	}
	add(FirmwareComponent{ID: "BIOS", Kind: FirmwareBIOS, Name: "System BIOS", Version: prof.System.BIOSVersion, Manufacturer: prof.System.Manufacturer})
	add(FirmwareComponent{ID: "BMC", Kind: FirmwareBMC, Name: "BMC Firmware", Version: prof.BMC.FirmwareVersion, Manufacturer: "bmcemu"})
	for _, c := range h.Processors {
		add(FirmwareComponent{ID: c.ID + "_Microcode", Kind: FirmwareMicrocode, Name: c.ID + " Microcode", Version: c.Microcode,
			Manufacturer: c.Manufacturer, Target: c.ID})
	}
	for _, n := range h.NICs {
		add(FirmwareComponent{ID: "NIC_" + n.ID, Kind: FirmwareNIC, Name: n.ID + " " + n.Model, Version: n.FirmwareVersion,
			Manufacturer: n.Manufacturer, Target: n.ID})
	}
	for _, c := range h.Storage {
		add(FirmwareComponent{ID: "Storage_" + c.ID, Kind: FirmwareStorageController, Name: c.ID + " " + c.Model, Version: c.FirmwareVersion,
			Manufacturer: c.Manufacturer, Target: c.ID})
		for _, d := range c.Drives {
			add(FirmwareComponent{ID: "Drive_" + c.ID + "_" + d.ID, Kind: FirmwareDrive, Name: c.ID + " " + d.ID + " " + d.Model,
				Version: d.FirmwareVersion, Manufacturer: d.Manufacturer, Target: c.ID + "/" + d.ID})
		}
	}
	for _, ps := range h.PowerSupplies {
		add(FirmwareComponent{ID: ps.ID, Kind: FirmwarePowerSupply, Name: ps.ID + " " + ps.Model, Version: ps.FirmwareVersion,
			Manufacturer: ps.Manufacturer, Target: ps.ID})
	}
	return out
}

// NIC finds an adapter by id.
func (h *Hardware) NIC(id string) (NIC, bool) {
	for _, n := range h.NICs {
		if n.ID == id {
			return n, true
		}
	}
	return NIC{}, false
}

// Port finds a host network port by id ("NIC1-2").
func (h *Hardware) Port(id string) (NICPort, bool) {
	for _, n := range h.NICs {
		for _, p := range n.Ports {
			if p.ID == id {
				return p, true
			}
		}
	}
	return NICPort{}, false
}

// Controller finds a storage controller by id.
func (h *Hardware) Controller(id string) (StorageController, bool) {
	for _, c := range h.Storage {
		if c.ID == id {
			return c, true
		}
	}
	return StorageController{}, false
}

// Drive finds a drive of the controller by id.
func (c StorageController) Drive(id string) (Drive, bool) {
	for _, d := range c.Drives {
		if d.ID == id {
			return d, true
		}
	}
	return Drive{}, false
}

// Volume finds a volume of the controller by id.
func (c StorageController) Volume(id string) (Volume, bool) {
	for _, v := range c.Volumes {
		if v.ID == id {
			return v, true
		}
	}
	return Volume{}, false
}

// Processor finds a processor by id (CPU0 ...).
func (h *Hardware) Processor(id string) (Processor, bool) {
	for _, p := range h.Processors {
		if p.ID == id {
			return p, true
		}
	}
	return Processor{}, false
}

// ProcessorTotals are the system-wide processor counts (Redfish
// ProcessorSummary): sockets, cores and logical processors.
func (h *Hardware) ProcessorTotals() (count, cores, threads int) {
	for _, p := range h.Processors {
		count++
		cores += p.Cores
		threads += p.Threads
	}
	return count, cores, threads
}

// FirmwareByID finds a firmware component.
func (h *Hardware) FirmwareByID(id string) (FirmwareComponent, bool) {
	for _, f := range h.Firmware {
		if f.ID == id {
			return f, true
		}
	}
	return FirmwareComponent{}, false
}

// Ports lists every host network port in index order.
func (h *Hardware) Ports() []NICPort {
	var out []NICPort
	for _, n := range h.NICs {
		out = append(out, n.Ports...)
	}
	return out
}

// roundRPM rounds to the tachometer's 100 RPM steps.
func roundRPM(rpm int) int { return (rpm + 50) / 100 * 100 }

package redfish

import (
	"strconv"

	"github.com/bmcemu/bmcemu/platform"
)

// The chassis' Power (DSP0268 Power.v1_7_3) and Thermal (Thermal.v1_7_3)
// resources. Both are deprecated in favour of PowerSubsystem and
// ThermalSubsystem, but they are what Ansible's GetChassisPower,
// GetChassisThermals, GetFanInventory and GetPsuInventory read (and what
// most deployed BMCs still serve), so they are the ones served. Every
// reading is the platform's environment model (platform/environment.go):
// the IPMI sensors show the same values.

const (
	typePower   = "#Power.v1_7_3.Power"
	typeThermal = "#Thermal.v1_7_3.Thermal"
)

func powerPath() string   { return chassisPath() + "/Power" }
func thermalPath() string { return chassisPath() + "/Thermal" }

// chassisEnvironment is the part of the Chassis that links Power and
// Thermal: embedded in chassis so the links sit at the top level.
type chassisEnvironment struct {
	Power   link `json:"Power"`
	Thermal link `json:"Thermal"`
}

func newChassisEnvironment() chassisEnvironment {
	return chassisEnvironment{Power: link{ID: powerPath()}, Thermal: link{ID: thermalPath()}}
}

type power struct {
	odata
	ID                 string         `json:"Id"`
	Name               string         `json:"Name"`
	PowerControl       []powerControl `json:"PowerControl"`
	PowerControlCount  int            `json:"PowerControl@odata.count"`
	PowerSupplies      []powerSupply  `json:"PowerSupplies"`
	PowerSuppliesCount int            `json:"PowerSupplies@odata.count"`
}

type powerControl struct {
	ID                  string `json:"@odata.id"`
	MemberID            string `json:"MemberId"`
	Name                string `json:"Name"`
	PowerConsumedWatts  int    `json:"PowerConsumedWatts"`
	PowerCapacityWatts  int    `json:"PowerCapacityWatts"`
	PowerAvailableWatts int    `json:"PowerAvailableWatts"`
	PowerAllocatedWatts int    `json:"PowerAllocatedWatts"`
	RelatedItem         []link `json:"RelatedItem"`
	Status              status `json:"Status"`
}

type powerSupply struct {
	ID                   string `json:"@odata.id"`
	MemberID             string `json:"MemberId"`
	Name                 string `json:"Name"`
	Manufacturer         string `json:"Manufacturer"`
	Model                string `json:"Model"`
	SerialNumber         string `json:"SerialNumber"`
	FirmwareVersion      string `json:"FirmwareVersion,omitempty"`
	PowerSupplyType      string `json:"PowerSupplyType"`
	LineInputVoltageType string `json:"LineInputVoltageType"`
	LineInputVoltage     int    `json:"LineInputVoltage"`
	PowerCapacityWatts   int    `json:"PowerCapacityWatts"`
	PowerInputWatts      int    `json:"PowerInputWatts"`
	PowerOutputWatts     int    `json:"PowerOutputWatts"`
	LastPowerOutputWatts int    `json:"LastPowerOutputWatts"`
	EfficiencyPercent    int    `json:"EfficiencyPercent"`
	HotPluggable         bool   `json:"HotPluggable"`
	Status               status `json:"Status"`
}

func (s *service) getPower(r *request) (any, error) {
	if err := lookupChassis(r); err != nil {
		return nil, err
	}
	h := r.snap.Hardware
	supplies := []powerSupply{}
	for i, ps := range h.PowerSupplies {
		typ, line := "AC", "AC240V"
		if ps.Input == "DC" {
			typ, line = "DC", "DCNeg48V"
		}
		supplies = append(supplies, powerSupply{
			ID: powerPath() + "#/PowerSupplies/" + strconv.Itoa(i), MemberID: strconv.Itoa(i), Name: ps.ID,
			Manufacturer: ps.Manufacturer, Model: ps.Model, SerialNumber: ps.SerialNumber, FirmwareVersion: ps.FirmwareVersion,
			PowerSupplyType: typ, LineInputVoltageType: line, LineInputVoltage: ps.LineInputVolts,
			PowerCapacityWatts: ps.CapacityWatts, PowerInputWatts: ps.InputWatts, PowerOutputWatts: ps.OutputWatts,
			LastPowerOutputWatts: ps.OutputWatts, EfficiencyPercent: ps.EfficiencyPercent, HotPluggable: true,
			Status: status{State: "Enabled", Health: "OK"},
		})
	}
	ctl := powerControl{
		ID: powerPath() + "#/PowerControl/0", MemberID: "0", Name: "System Power Control",
		PowerConsumedWatts: h.Power.ConsumedWatts, PowerCapacityWatts: h.Power.CapacityWatts,
		PowerAvailableWatts: max(h.Power.CapacityWatts-h.Power.OutputWatts, 0), PowerAllocatedWatts: h.Power.OutputWatts,
		RelatedItem: links(chassisPath(), systemPath()), Status: status{State: "Enabled", Health: "OK"},
	}
	if !h.Power.Redundant || h.Power.OutputWatts > h.Power.CapacityWatts {
		// A lone supply, or a load one supply cannot carry: losing one
		// supply would drop the chassis.
		ctl.Status.Health = "Warning"
	}
	return power{
		odata:              odata{ID: powerPath(), Type: typePower},
		ID:                 "Power",
		Name:               "Power",
		PowerControl:       []powerControl{ctl},
		PowerControlCount:  1,
		PowerSupplies:      supplies,
		PowerSuppliesCount: len(supplies),
	}, nil
}

type thermal struct {
	odata
	ID                string        `json:"Id"`
	Name              string        `json:"Name"`
	Temperatures      []temperature `json:"Temperatures"`
	TemperaturesCount int           `json:"Temperatures@odata.count"`
	Fans              []fan         `json:"Fans"`
	FansCount         int           `json:"Fans@odata.count"`
	Status            status        `json:"Status"`
}

type temperature struct {
	ID                        string `json:"@odata.id"`
	MemberID                  string `json:"MemberId"`
	Name                      string `json:"Name"`
	PhysicalContext           string `json:"PhysicalContext"`
	ReadingCelsius            int    `json:"ReadingCelsius"`
	UpperThresholdNonCritical *int   `json:"UpperThresholdNonCritical,omitempty"`
	UpperThresholdCritical    *int   `json:"UpperThresholdCritical,omitempty"`
	UpperThresholdFatal       *int   `json:"UpperThresholdFatal,omitempty"`
	RelatedItem               []link `json:"RelatedItem"`
	Status                    status `json:"Status"`
}

type fan struct {
	ID                        string `json:"@odata.id"`
	MemberID                  string `json:"MemberId"`
	Name                      string `json:"Name"`
	PhysicalContext           string `json:"PhysicalContext"`
	Reading                   int    `json:"Reading"`
	ReadingUnits              string `json:"ReadingUnits"`
	MinReadingRange           int    `json:"MinReadingRange"`
	MaxReadingRange           int    `json:"MaxReadingRange"`
	LowerThresholdNonCritical int    `json:"LowerThresholdNonCritical"`
	LowerThresholdCritical    int    `json:"LowerThresholdCritical"`
	HotPluggable              bool   `json:"HotPluggable"`
	RelatedItem               []link `json:"RelatedItem"`
	Status                    status `json:"Status"`
}

func limits(warn, crit, fatal int) (w, c, f *int) { return &warn, &crit, &fatal }

// tempHealth grades a reading against its caution and critical limits.
func tempHealth(c, warn, crit int) string {
	switch {
	case c >= crit:
		return "Critical"
	case c >= warn:
		return "Warning"
	}
	return "OK"
}

func (s *service) getThermal(r *request) (any, error) {
	if err := lookupChassis(r); err != nil {
		return nil, err
	}
	h := r.snap.Hardware
	var temps []temperature
	add := func(t temperature) {
		t.MemberID = strconv.Itoa(len(temps))
		t.ID = thermalPath() + "#/Temperatures/" + t.MemberID
		temps = append(temps, t)
	}
	add(temperature{Name: "Inlet Temp", PhysicalContext: "Intake", ReadingCelsius: h.InletC,
		RelatedItem: links(chassisPath()), Status: status{State: "Enabled", Health: "OK"}})
	for _, p := range h.Processors {
		t := temperature{Name: p.ID + " Temp", PhysicalContext: "CPU", ReadingCelsius: p.TemperatureC,
			RelatedItem: links(processorPath(p.ID)),
			Status:      status{State: "Enabled", Health: tempHealth(p.TemperatureC, platform.CPUWarningC, platform.CPUCriticalC)}}
		t.UpperThresholdNonCritical, t.UpperThresholdCritical, t.UpperThresholdFatal = limits(platform.CPUWarningC, platform.CPUCriticalC, platform.CPUFatalC)
		add(t)
	}
	// The DIMMs' readings are the Sensors collection's: Thermal repeats
	// them for clients that read only Thermal.
	for _, sl := range temperatureSlots(r.snap) {
		c := *sl.TemperatureC
		t := temperature{Name: sl.Name + " Temp", PhysicalContext: "Memory", ReadingCelsius: c,
			RelatedItem: links(memoryPath(sl.Name)), Status: status{State: "Enabled", Health: temperatureHealth(c)}}
		t.UpperThresholdNonCritical, t.UpperThresholdCritical, t.UpperThresholdFatal = limits(platform.DIMMWarningC, platform.DIMMCriticalC, platform.DIMMFatalC)
		add(t)
	}
	fans := []fan{}
	roll := "OK"
	for i, f := range h.Fans {
		// The fans stop with the host (S5): present, not running.
		st := status{State: "Enabled", Health: "OK"}
		switch {
		case !r.snap.PowerOn:
			st.State = "StandbyOffline"
		case f.RPM < f.LowerCriticalRPM:
			st.Health = "Critical"
		case f.RPM < f.LowerCautionRPM:
			st.Health = "Warning"
		}
		roll = worseHealth(roll, st.Health)
		fans = append(fans, fan{
			ID: thermalPath() + "#/Fans/" + strconv.Itoa(i), MemberID: strconv.Itoa(i), Name: f.ID, PhysicalContext: "Fan",
			Reading: f.RPM, ReadingUnits: "RPM", MinReadingRange: 0, MaxReadingRange: f.MaxRPM,
			LowerThresholdNonCritical: f.LowerCautionRPM, LowerThresholdCritical: f.LowerCriticalRPM,
			HotPluggable: true, RelatedItem: links(chassisPath()), Status: st,
		})
	}
	for _, t := range temps {
		roll = worseHealth(roll, t.Status.Health)
	}
	return thermal{
		odata:             odata{ID: thermalPath(), Type: typeThermal},
		ID:                "Thermal",
		Name:              "Thermal",
		Temperatures:      temps,
		TemperaturesCount: len(temps),
		Fans:              fans,
		FansCount:         len(fans),
		Status:            status{State: "Enabled", Health: "OK", HealthRollup: roll},
	}, nil
}

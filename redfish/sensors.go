package redfish

import (
	"strings"

	"github.com/bmcemu/bmcemu/platform"
)

const (
	typeSensorCollection   = "#SensorCollection.SensorCollection"
	typeSensor             = "#Sensor.v1_12_0.Sensor"
	typeEnvironmentMetrics = "#EnvironmentMetrics.v1_5_0.EnvironmentMetrics"

	// temperatureSensorPrefix makes a DIMM temperature sensor's Id the way
	// bmcweb does (<reading type>_<name>), so a sensor's kind shows in its
	// URI and other kinds can join the collection without clashing.
	temperatureSensorPrefix = "temperature_"
)

func sensorsPath() string { return chassisPath() + "/Sensors" }

func temperatureSensorPath(slot string) string {
	return sensorsPath() + "/" + temperatureSensorPrefix + slot
}

func environmentMetricsPath(slot string) string { return memoryPath(slot) + "/EnvironmentMetrics" }

// sensor is Sensor.v1_12_0: one DIMM's temperature.
type sensor struct {
	odata
	ID              string           `json:"Id"`
	Name            string           `json:"Name"`
	ReadingType     string           `json:"ReadingType"`
	Reading         int              `json:"Reading"`
	ReadingUnits    string           `json:"ReadingUnits"`
	PhysicalContext string           `json:"PhysicalContext"`
	Status          status           `json:"Status"`
	Thresholds      sensorThresholds `json:"Thresholds"`
	RelatedItem     []link           `json:"RelatedItem"`
}

type sensorThresholds struct {
	UpperCaution  threshold `json:"UpperCaution"`
	UpperCritical threshold `json:"UpperCritical"`
	UpperFatal    threshold `json:"UpperFatal"`
}

type threshold struct {
	Reading    int    `json:"Reading"`
	Activation string `json:"Activation"`
}

// sensorExcerpt is Sensor's SensorExcerpt, the copy of a reading that
// metrics resources carry.
type sensorExcerpt struct {
	Reading       int    `json:"Reading"`
	DataSourceURI string `json:"DataSourceUri"`
}

// environmentMetrics is EnvironmentMetrics.v1_5_0 of one module.
type environmentMetrics struct {
	odata
	ID                 string        `json:"Id"`
	Name               string        `json:"Name"`
	Description        string        `json:"Description"`
	TemperatureCelsius sensorExcerpt `json:"TemperatureCelsius"`
}

// temperatureSlots are the slots with a temperature sensor: those with a
// seated module. An empty slot has none rather than an Absent one: bmcweb
// lists the sensors the platform exposes, and on real boards the DIMM
// temperature source (PECI dimmtemp, the SPD hub's thermal sensor) only
// exists for populated DIMMs.
func temperatureSlots(snap *platform.Snapshot) []platform.Slot {
	var out []platform.Slot
	for _, sl := range snap.Slots {
		if sl.TemperatureC != nil {
			out = append(out, sl)
		}
	}
	return out
}

func (s *service) getSensors(r *request) (any, error) {
	if err := lookupChassis(r); err != nil {
		return nil, err
	}
	var members []link
	for _, sl := range temperatureSlots(r.snap) {
		members = append(members, link{ID: temperatureSensorPath(sl.Name)})
	}
	return newCollection(sensorsPath(), typeSensorCollection, "Sensor Collection", members), nil
}

func (s *service) getSensor(r *request) (any, error) {
	if err := lookupChassis(r); err != nil {
		return nil, err
	}
	id := r.param("sensor")
	slot, ok := strings.CutPrefix(id, temperatureSensorPrefix)
	if !ok {
		return nil, errResourceNotFound("Sensor", id)
	}
	sl, ok := r.snap.Slot(slot)
	if !ok || sl.TemperatureC == nil {
		return nil, errResourceNotFound("Sensor", id)
	}
	return temperatureSensor(sl), nil
}

func temperatureSensor(sl platform.Slot) sensor {
	c := *sl.TemperatureC
	return sensor{
		odata:           odata{ID: temperatureSensorPath(sl.Name), Type: typeSensor},
		ID:              temperatureSensorPrefix + sl.Name,
		Name:            sl.Name + " Temperature",
		ReadingType:     "Temperature",
		Reading:         c,
		ReadingUnits:    "Cel",
		PhysicalContext: "Memory",
		Status:          status{State: "Enabled", Health: temperatureHealth(c)},
		Thresholds: sensorThresholds{
			UpperCaution:  threshold{Reading: platform.DIMMWarningC, Activation: "Increasing"},
			UpperCritical: threshold{Reading: platform.DIMMCriticalC, Activation: "Increasing"},
			UpperFatal:    threshold{Reading: platform.DIMMFatalC, Activation: "Increasing"},
		},
		RelatedItem: links(memoryPath(sl.Name)),
	}
}

// temperatureHealth is what the reading says against the limits: Warning
// from the caution threshold, Critical from the critical one up.
func temperatureHealth(c int) string {
	switch {
	case c >= platform.DIMMCriticalC:
		return "Critical"
	case c >= platform.DIMMWarningC:
		return "Warning"
	}
	return "OK"
}

func lookupChassis(r *request) error {
	if id := r.param("chassis"); id != chassisID {
		return errResourceNotFound("Chassis", id)
	}
	return nil
}

func (s *service) getEnvironmentMetrics(r *request) (any, error) {
	sl, err := seatedModule(r, "EnvironmentMetrics")
	if err != nil {
		return nil, err
	}
	if sl.TemperatureC == nil {
		// A seated module always has a reading; without one there is
		// nothing to report rather than a made-up value.
		return nil, errResourceNotFound("EnvironmentMetrics", sl.Name)
	}
	return environmentMetrics{
		odata:       odata{ID: environmentMetricsPath(sl.Name), Type: typeEnvironmentMetrics},
		ID:          "EnvironmentMetrics",
		Name:        "Environment Metrics of " + sl.Name,
		Description: "Temperature of the module in " + sl.Name,
		TemperatureCelsius: sensorExcerpt{
			Reading: *sl.TemperatureC, DataSourceURI: temperatureSensorPath(sl.Name),
		},
	}, nil
}

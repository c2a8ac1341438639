package redfish

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/bmcemu/bmcemu/platform/sel"
)

type manager struct {
	odata
	ID                    string `json:"Id"`
	Name                  string `json:"Name"`
	ManagerType           string `json:"ManagerType"`
	Manufacturer          string `json:"Manufacturer"`
	Model                 string `json:"Model"`
	FirmwareVersion       string `json:"FirmwareVersion,omitempty"`
	UUID                  string `json:"UUID"`
	ServiceEntryPointUUID string `json:"ServiceEntryPointUUID"`
	// DateTime is the BMC's clock, which is the SEL's: IPMI Get/Set SEL
	// Time and Redfish read and set the same one.
	DateTime            string `json:"DateTime,omitempty"`
	DateTimeLocalOffset string `json:"DateTimeLocalOffset,omitempty"`
	// The BMC runs on standby power, so it is on whatever the host does.
	PowerState string       `json:"PowerState"`
	Status     status       `json:"Status"`
	Links      managerLinks `json:"Links"`
	// EthernetInterfaces, NetworkProtocol and LogServices
	// (inventory_routes.go).
	managerResources
	// VirtualMedia are the BMC's virtual CD and USB (virtualmedia.go).
	VirtualMedia link `json:"VirtualMedia"`
}

type managerLinks struct {
	ManagerForServers []link `json:"ManagerForServers"`
	ManagerForChassis []link `json:"ManagerForChassis"`
	ManagerInChassis  link   `json:"ManagerInChassis"`
}

func (s *service) getManagers(*request) (any, error) {
	return newCollection(pathManagers, typeManagerCollection, "Manager Collection", links(managerPath())), nil
}

func (s *service) getManager(r *request) (any, error) {
	if id := r.param("manager"); id != managerID {
		return nil, errResourceNotFound("Manager", id)
	}
	sys := r.snap.System
	uuid := serviceUUID(sys.SerialNumber)
	var dateTime, offset string
	if c, ok := s.sel.(bmcClock); ok {
		dateTime, offset = clockView(c)
	}
	return manager{
		DateTime:              dateTime,
		DateTimeLocalOffset:   offset,
		odata:                 odata{ID: managerPath(), Type: typeManager},
		ID:                    managerID,
		Name:                  "Baseboard Management Controller",
		ManagerType:           "BMC",
		Manufacturer:          "bmcemu",
		Model:                 "bmcemu",
		FirmwareVersion:       r.snap.Firmware.BMC,
		UUID:                  uuid,
		ServiceEntryPointUUID: uuid,
		PowerState:            "On",
		managerResources:      newManagerResources(),
		Status:                statusOK(),
		Links: managerLinks{
			ManagerForServers: links(systemPath()),
			ManagerForChassis: links(chassisPath()),
			ManagerInChassis:  link{ID: chassisPath()},
		},
		VirtualMedia: link{ID: virtualMediaPath()},
	}, nil
}

// bmcClock is the BMC's real-time clock: *sel.SEL keeps it (IPMI Get/Set
// SEL Time and UTC offset), so one clock stamps SEL records and answers
// both surfaces.
type bmcClock interface {
	Time() time.Time
	SetTime(t time.Time) error
	UTCOffset() int16
	SetUTCOffset(minutes int16) error
}

// etagIgnoringClock is the Manager's ETag: the payload's hash with
// DateTime's value left out. The clock ticks every second; were it in the
// ETag, a client that reads the Manager and PATCHes it back with If-Match
// (redfishtool does) would get 412 whenever a second passed in between,
// and a conditional GET would never answer 304.
func etagIgnoringClock(body []byte) string {
	const key = `"DateTime":"`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return etagOf(body)
	}
	start := i + len(key)
	end := bytes.IndexByte(body[start:], '"')
	if end < 0 {
		return etagOf(body)
	}
	masked := make([]byte, 0, len(body))
	masked = append(append(masked, body[:start]...), body[start+end:]...)
	return etagOf(masked)
}

// clockView is the clock as Redfish shows it: the time in the BMC's local
// offset, and that offset ("+00:00" when IPMI left it unspecified).
func clockView(c bmcClock) (dateTime, offset string) {
	mins := c.UTCOffset()
	if mins == sel.UTCOffsetUnspecified {
		mins = 0
	}
	zone := time.FixedZone("", int(mins)*60)
	t := c.Time().In(zone)
	return t.Format(time.RFC3339), t.Format("-07:00")
}

type managerPatch struct {
	DateTime            *string `json:"DateTime" validate:"omitempty,max=64"`
	DateTimeLocalOffset *string `json:"DateTimeLocalOffset" validate:"omitempty,max=6"`
}

var managerReadOnly = append(jsonNames(manager{}), "Actions", "Oem", "NetworkProtocol", "LogServices", "EthernetInterfaces")

// patchManager sets the BMC clock. A DateTime with an offset sets that
// instant; DateTimeLocalOffset changes only how it is shown (and what
// IPMI's Get SEL Time UTC Offset says), as DSP0268 describes.
func (s *service) patchManager(r *request) (*response, error) {
	if id := r.param("manager"); id != managerID {
		return nil, errResourceNotFound("Manager", id)
	}
	var p managerPatch
	d, err := decodeBody(r.body, &p, managerReadOnly)
	if err != nil {
		return nil, err
	}
	c, ok := s.sel.(bmcClock)
	if !ok {
		for name := range d.present {
			d.problems = append(d.problems, propErr(http.StatusBadRequest, "PropertyNotWritable", name, name))
		}
		return nil, failAll(d.problems)
	}
	var at *time.Time
	var offset *int16
	if d.has("DateTime") {
		t, err := time.Parse(time.RFC3339, *p.DateTime)
		if err != nil || t.Year() < 1970 || t.Unix() > math.MaxUint32 {
			delete(d.present, "DateTime")
			d.problems = append(d.problems, propErr(http.StatusBadRequest, "PropertyValueFormatError", "DateTime", *p.DateTime, "DateTime"))
		} else {
			at = &t
		}
	}
	if d.has("DateTimeLocalOffset") {
		m, ok := parseOffset(*p.DateTimeLocalOffset)
		if !ok {
			delete(d.present, "DateTimeLocalOffset")
			d.problems = append(d.problems, propErr(http.StatusBadRequest, "PropertyValueFormatError", "DateTimeLocalOffset", *p.DateTimeLocalOffset, "DateTimeLocalOffset"))
		} else {
			offset = &m
		}
	}
	if len(d.present) == 0 {
		return nil, failAll(d.problems)
	}
	if at != nil {
		if err := c.SetTime(*at); err != nil {
			return nil, fmt.Errorf("set the BMC clock: %w", err)
		}
	}
	if offset != nil {
		if err := c.SetUTCOffset(*offset); err != nil {
			return nil, fmt.Errorf("set the BMC clock's UTC offset: %w", err)
		}
	}
	return s.afterPatch(r, s.getManager, d)
}

// parseOffset reads "+HH:MM" or "-HH:MM" (DSP0268's DateTimeLocalOffset
// pattern) within IPMI's +-24 hours, in minutes.
func parseOffset(v string) (int16, bool) {
	if len(v) != 6 || (v[0] != '+' && v[0] != '-') || v[3] != ':' {
		return 0, false
	}
	h, err1 := strconv.Atoi(v[1:3])
	m, err2 := strconv.Atoi(v[4:6])
	if err1 != nil || err2 != nil || m > 59 || h*60+m > 1440 {
		return 0, false
	}
	mins := int16(h*60 + m)
	if v[0] == '-' {
		mins = -mins
	}
	return mins, true
}

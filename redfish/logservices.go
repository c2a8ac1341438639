package redfish

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/sel"
)

// SELLog is what the SEL log service needs of the IPMI System Event Log:
// *sel.SEL (ipmi.Server.SEL()) implements it. The service reads the SEL on
// every request, so Redfish and IPMI show one log, never two copies.
type SELLog interface {
	Info() sel.Info
	Entries() []sel.Record
	Clear() error
}

// SensorResolver maps an IPMI sensor (type, number) of a SEL record to the
// slot it watches, for Links.OriginOfCondition.
type SensorResolver func(sensorType, sensorNumber uint8) (slot string, ok bool)

const (
	selServiceID   = "SEL"
	eventServiceID = "EventLog"
	// logPageSize is the page a LogEntryCollection is cut into when the
	// client asks for no $top: nextLink leads on.
	logPageSize = 1000
)

func logServicesPath() string          { return systemPath() + "/LogServices" }
func logServicePath(id string) string  { return logServicesPath() + "/" + id }
func logEntriesPath(id string) string  { return logServicePath(id) + "/Entries" }
func clearLogPath(id string) string    { return logServicePath(id) + "/Actions/LogService.ClearLog" }
func logEntryPath(id, e string) string { return logEntriesPath(id) + "/" + e }

type logService struct {
	odata
	ID                 string            `json:"Id"`
	Name               string            `json:"Name"`
	Description        string            `json:"Description"`
	ServiceEnabled     bool              `json:"ServiceEnabled"`
	LogEntryType       string            `json:"LogEntryType"`
	OverWritePolicy    string            `json:"OverWritePolicy"`
	MaxNumberOfRecords uint64            `json:"MaxNumberOfRecords"`
	Overflow           bool              `json:"Overflow"`
	DateTime           string            `json:"DateTime"`
	DateTimeLocalOff   string            `json:"DateTimeLocalOffset"`
	Persistency        bool              `json:"Persistency"`
	Status             status            `json:"Status"`
	Entries            link              `json:"Entries"`
	Actions            logServiceActions `json:"Actions"`
}

type logServiceActions struct {
	ClearLog actionTarget `json:"#LogService.ClearLog"`
}

type actionTarget struct {
	Target string `json:"target"`
}

type logEntry struct {
	odata
	ID           string        `json:"Id"`
	Name         string        `json:"Name"`
	EntryType    string        `json:"EntryType"`
	Created      string        `json:"Created"`
	Severity     string        `json:"Severity,omitempty"`
	Message      string        `json:"Message"`
	MessageID    string        `json:"MessageId,omitempty"`
	MessageArgs  []string      `json:"MessageArgs,omitempty"`
	SensorType   string        `json:"SensorType,omitempty"`
	SensorNumber *int          `json:"SensorNumber,omitempty"`
	EntryCode    string        `json:"EntryCode,omitempty"`
	GeneratorID  string        `json:"GeneratorId,omitempty"`
	OemRecordFmt string        `json:"OemRecordFormat,omitempty"`
	OemSensorTyp string        `json:"OemSensorType,omitempty"`
	Links        *logEntryLink `json:"Links,omitempty"`
}

type logEntryLink struct {
	OriginOfCondition link `json:"OriginOfCondition"`
}

// logEntryCollection embeds its members, as DSP0268 allows for logs: a
// client reads a page of entries in one request.
type logEntryCollection struct {
	odata
	Name     string     `json:"Name"`
	Members  []logEntry `json:"Members"`
	Count    int        `json:"Members@odata.count"`
	NextLink string     `json:"Members@odata.nextLink,omitempty"`
}

func (s *service) logServiceIDs() []string {
	var ids []string
	if s.sel != nil {
		ids = append(ids, selServiceID)
	}
	return append(ids, eventServiceID)
}

func (s *service) getLogServices(r *request) (any, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	var members []link
	for _, id := range s.logServiceIDs() {
		members = append(members, link{ID: logServicePath(id)})
	}
	return newCollection(logServicesPath(), typeLogServiceCollection, "Log Service Collection", members), nil
}

// lookupLogService resolves :system and :log.
func (s *service) lookupLogService(r *request) (string, error) {
	if err := lookupSystem(r); err != nil {
		return "", err
	}
	id := r.param("log")
	switch {
	case id == selServiceID && s.sel != nil, id == eventServiceID:
		return id, nil
	}
	return "", errResourceNotFound("LogService", id)
}

func (s *service) getLogService(r *request) (any, error) {
	id, err := s.lookupLogService(r)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	ls := logService{
		odata:            odata{ID: logServicePath(id), Type: typeLogService},
		ID:               id,
		ServiceEnabled:   true,
		DateTime:         now.Format(time.RFC3339),
		DateTimeLocalOff: "+00:00",
		Status:           statusOK(),
		Entries:          link{ID: logEntriesPath(id)},
		Actions:          logServiceActions{ClearLog: actionTarget{Target: clearLogPath(id)}},
	}
	ls.Status.HealthRollup = ""
	if id == selServiceID {
		info := s.sel.Info()
		ls.Name = "IPMI System Event Log"
		ls.Description = "The IPMI SEL of the BMC, as ipmitool sel list shows it"
		ls.LogEntryType = "SEL"
		ls.OverWritePolicy = "WrapsWhenFull"
		if info.Policy == sel.Stop {
			ls.OverWritePolicy = "NeverOverWrites"
		}
		ls.MaxNumberOfRecords = uint64(info.Capacity)
		ls.Overflow = info.Overflow
		ls.Persistency = true
		return ls, nil
	}
	ls.Name = "Event Log"
	ls.Description = "Redfish events of the platform's hot-plug and RAS steps"
	ls.LogEntryType = "Event"
	ls.OverWritePolicy = "WrapsWhenFull"
	ls.MaxNumberOfRecords = uint64(s.hub.capacity())
	ls.Overflow = s.hub.logOverflow()
	return ls, nil
}

func (s *service) getLogEntries(r *request) (any, error) {
	id, err := s.lookupLogService(r)
	if err != nil {
		return nil, err
	}
	var entries []logEntry
	if id == selServiceID {
		for _, rec := range s.sel.Entries() {
			entries = append(entries, s.selEntry(r.snap, rec))
		}
	} else {
		for _, ev := range s.hub.logEvents() {
			entries = append(entries, eventLogEntry(ev))
		}
	}
	if entries == nil {
		entries = []logEntry{}
	}
	c := logEntryCollection{
		odata: odata{ID: logEntriesPath(id), Type: typeLogEntryCollection},
		Name:  "Log Entry Collection", Members: entries, Count: len(entries),
	}
	// Without paging options a large log is cut into pages; with them
	// the query layer slices and links.
	q := r.c.Request.URL.Query()
	if !q.Has("$top") && !q.Has("$skip") && len(entries) > logPageSize {
		c.Members = entries[:logPageSize]
		c.NextLink = logEntriesPath(id) + "?$skip=" + strconv.Itoa(logPageSize)
	}
	return c, nil
}

func (s *service) getLogEntry(r *request) (any, error) {
	id, err := s.lookupLogService(r)
	if err != nil {
		return nil, err
	}
	eid := r.param("entry")
	n, perr := strconv.ParseUint(eid, 10, 64)
	if perr == nil && strconv.FormatUint(n, 10) == eid {
		if id == selServiceID {
			for _, rec := range s.sel.Entries() {
				if uint64(rec.ID()) == n {
					return s.selEntry(r.snap, rec), nil
				}
			}
		} else if ev, ok := s.hub.logEvent(n); ok {
			return eventLogEntry(ev), nil
		}
	}
	return nil, errResourceNotFound("LogEntry", eid)
}

// postClearLog is LogService.ClearLog. The SEL is erased through the same
// SEL the IPMI Clear SEL command erases.
func (s *service) postClearLog(r *request) (*response, error) {
	id, err := s.lookupLogService(r)
	if err != nil {
		return nil, err
	}
	if len(r.body) > 0 {
		var in struct {
			LogEntriesETag *string `json:"LogEntriesETag"`
		}
		d, err := decodeBody(r.body, &in, nil)
		if err != nil {
			return nil, err
		}
		if len(d.problems) > 0 {
			return nil, failAll(d.problems)
		}
	}
	if id == selServiceID {
		if err := s.sel.Clear(); err != nil {
			return nil, fmt.Errorf("clear SEL: %w", err)
		}
	} else {
		s.hub.clearLog()
	}
	return &response{status: http.StatusNoContent}, nil
}

// selEntry renders one SEL record.
func (s *service) selEntry(snap *platform.Snapshot, rec sel.Record) logEntry {
	id := strconv.Itoa(int(rec.ID()))
	le := logEntry{
		odata:     odata{ID: logEntryPath(selServiceID, id), Type: typeLogEntry},
		ID:        id,
		Name:      "SEL Entry " + id,
		EntryType: "SEL",
		Created:   rec.Time().Format(time.RFC3339),
	}
	e, ok := rec.Event()
	if !ok {
		// An OEM record: its bytes are the message.
		le.MessageID = fmt.Sprintf("0x%02X", rec.Type())
		le.Message = fmt.Sprintf("OEM record type %02Xh: % X", rec.Type(), rec[3:])
		le.OemRecordFmt = fmt.Sprintf("IPMI OEM record %02Xh", rec.Type())
		if !rec.Timestamped() {
			le.Created = time.Unix(0, 0).UTC().Format(time.RFC3339)
		}
		return le
	}
	num := int(e.SensorNumber)
	le.SensorNumber = &num
	if name, ok := sensorTypeName(e.SensorType); ok {
		le.SensorType = name
	} else {
		le.OemSensorTyp = fmt.Sprintf("0x%02X", e.SensorType)
	}
	if code, ok := entryCode(e); ok {
		le.EntryCode = code
	}
	le.GeneratorID = fmt.Sprintf("0x%04X", e.GeneratorID)
	le.MessageID = selMessageID(e)
	le.Severity = selSeverity(e)
	slot, ok := s.resolveSensor(snap, e.SensorType, e.SensorNumber)
	le.Message = selMessage(e, slot)
	if ok {
		le.Links = &logEntryLink{OriginOfCondition: link{ID: memoryPath(slot)}}
	}
	return le
}

// selSeverity grades the offsets this BMC logs; anything else is OK.
func selSeverity(e sel.Event) string {
	if e.EventType != 0x6F || e.Deassertion {
		return "OK"
	}
	switch {
	case e.SensorType == ipmiSensorMemory && (e.Offset() == 0x01 || e.Offset() == 0x07):
		return "Critical"
	case e.SensorType == ipmiSensorMemory && (e.Offset() == 0x00 || e.Offset() == 0x04 || e.Offset() == 0x05):
		return "Warning"
	case e.SensorType == ipmiSensorSlotConnector && e.Offset() == 0x00:
		return "Critical"
	}
	return "OK"
}

// resolveSensor finds the slot an IPMI sensor watches: Config.SensorResolver
// when given, else this BMC's numbering over the snapshot's ordinals.
func (s *service) resolveSensor(snap *platform.Snapshot, typ, num uint8) (string, bool) {
	if s.sensorResolver != nil {
		return s.sensorResolver(typ, num)
	}
	ord, ok := defaultSensorSlot(typ, num)
	if !ok || snap == nil {
		return "", false
	}
	for _, sl := range snap.Slots {
		if sl.Ordinal == ord {
			return sl.Name, true
		}
	}
	return "", false
}

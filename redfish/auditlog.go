package redfish

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// The Manager's own log (Managers/bmc/LogServices/AuditLog): what was done
// to the BMC through Redfish, as a BMC's security or lifecycle log keeps
// it. Logins and failed logins are AccountSecurity events, clearing any
// log is LogService.LogCleared (DMTF registries AccountSecurity.1.0.1 and
// LogService.1.1.0); every other change a client made (a successful
// POST, PATCH, PUT or DELETE) is an OEM record naming the user, method,
// resource and status. Reads are not logged. The log keeps the latest
// auditCapacity records in memory: it is the BMC's, not the host's, and
// starts empty with the BMC.

const (
	auditLogID    = "AuditLog"
	auditCapacity = 1000
	// auditRecordFormat is OemRecordFormat of the change records.
	auditRecordFormat = "BmcemuAudit"

	accountSecurityRegistry = "AccountSecurity.1.0.1"
	logServiceRegistry      = "LogService.1.1.0"
)

// auditMessages are the registry messages the log uses, as the DMTF
// registries word them (TestAuditMessagesMatchRegistries).
var auditMessages = map[string]registryMessage{
	accountSecurityRegistry + ".SuccessfulLogin": {severity: "OK", args: 3,
		text: "Successful login of user '%1' from '%2' over '%3'.", resolution: "None."},
	accountSecurityRegistry + ".InvalidCredentials": {severity: "Critical", args: 2,
		text: "'%1' provided invalid credentials over '%2'.", resolution: "None."},
	logServiceRegistry + ".LogCleared": {severity: "OK", args: 1,
		text: "Log '%1' was cleared.", resolution: "None."},
}

func managerLogServicesPath() string       { return managerPath() + "/LogServices" }
func managerLogServicePath() string        { return managerLogServicesPath() + "/" + auditLogID }
func managerLogEntriesPath() string        { return managerLogServicePath() + "/Entries" }
func managerLogEntryPath(id string) string { return managerLogEntriesPath() + "/" + id }

// auditRecord is one entry of the log.
type auditRecord struct {
	id        uint64
	at        time.Time
	entryType string // Event or Oem
	severity  string
	messageID string // registry messages only
	args      []string
	message   string
}

// auditLog is a bounded, ordered log; IDs are never reused, not even
// after a clear, so a client holding one cannot be shown another record
// under it.
type auditLog struct {
	mu       sync.Mutex
	records  []auditRecord
	next     uint64
	overflow bool
}

func (l *auditLog) add(r auditRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	r.id = l.next
	if len(l.records) == auditCapacity {
		l.records = append(l.records[:0:0], l.records[1:]...)
		l.overflow = true
	}
	l.records = append(l.records, r)
}

// addMessage records a registry message.
func (l *auditLog) addMessage(at time.Time, id string, args ...string) {
	m := auditMessages[id]
	l.add(auditRecord{at: at, entryType: "Event", severity: m.severity, messageID: id, args: args, message: formatMessage(m.text, args)})
}

func (l *auditLog) list() ([]auditRecord, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]auditRecord(nil), l.records...), l.overflow
}

func (l *auditLog) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records, l.overflow = nil, false
}

// audit is the middleware that writes the log: it runs around every
// request but looks only at writes, after the handler answered.
func (s *service) audit(c *gin.Context, next func()) {
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		next()
		return
	}
	// The pipeline notes who the request acts as in the access log's
	// slot; borrow it, or put one there.
	var who *principal
	if v, ok := c.Get(accessLogKey); ok {
		who, _ = v.(*principal)
	}
	if who == nil {
		who = &principal{}
		c.Set(accessLogKey, who)
	}
	path := c.Request.URL.Path
	login := c.Request.Method == http.MethodPost && (path == pathSessions || path == pathSessions+"/Members")
	var claimed string
	if login {
		claimed = peekUserName(c)
	}
	next()
	code := c.Writer.Status()
	now := s.now()
	switch {
	case login && code == http.StatusCreated:
		s.auditLog.addMessage(now, accountSecurityRegistry+".SuccessfulLogin", claimed, remoteIP(c.Request), "Redfish")
	case login && code == http.StatusUnauthorized:
		s.auditLog.addMessage(now, accountSecurityRegistry+".InvalidCredentials", claimed, "Redfish")
	case code < 200 || code > 299:
	case strings.HasSuffix(path, "/Actions/LogService.ClearLog"):
		s.auditLog.addMessage(now, logServiceRegistry+".LogCleared", strings.TrimSuffix(path, "/Actions/LogService.ClearLog"))
	default:
		s.auditLog.add(auditRecord{at: now, entryType: "Oem", severity: "OK",
			message: fmt.Sprintf("User '%s' %s %s from %s: %d %s", who.user, c.Request.Method, path, remoteIP(c.Request), code, http.StatusText(code))})
	}
}

// peekUserName reads the UserName a login request claims, leaving the
// body for the handler. The body is bounded as the handler bounds it.
func peekUserName(c *gin.Context) string {
	if c.Request.Body == nil {
		return ""
	}
	b, err := io.ReadAll(io.LimitReader(c.Request.Body, maxBody+1))
	c.Request.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), c.Request.Body))
	if err != nil {
		return ""
	}
	var in struct{ UserName string }
	if json.Unmarshal(b, &in) != nil {
		return ""
	}
	return sanitizeArg(in.UserName)
}

// sanitizeArg keeps a client-chosen string fit for a log: printable,
// at most 64 characters.
func sanitizeArg(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *service) getManagerLogServices(r *request) (any, error) {
	if err := lookupManager(r); err != nil {
		return nil, err
	}
	return newCollection(managerLogServicesPath(), typeLogServiceCollection, "Manager Log Service Collection",
		links(managerLogServicePath())), nil
}

func lookupManagerLog(r *request) error {
	if err := lookupManager(r); err != nil {
		return err
	}
	if id := r.param("mlog"); id != auditLogID {
		return errResourceNotFound("LogService", id)
	}
	return nil
}

func (s *service) getManagerLogService(r *request) (any, error) {
	if err := lookupManagerLog(r); err != nil {
		return nil, err
	}
	_, overflow := s.auditLog.list()
	now := s.now().UTC()
	ls := logService{
		odata:              odata{ID: managerLogServicePath(), Type: typeLogService},
		ID:                 auditLogID,
		Name:               "BMC Audit Log",
		Description:        "Logins and the changes clients made through the BMC's Redfish service",
		ServiceEnabled:     true,
		LogEntryType:       "Multiple",
		OverWritePolicy:    "WrapsWhenFull",
		MaxNumberOfRecords: auditCapacity,
		Overflow:           overflow,
		DateTime:           now.Format(time.RFC3339),
		DateTimeLocalOff:   "+00:00",
		Status:             status{State: "Enabled", Health: "OK"},
		Entries:            link{ID: managerLogEntriesPath()},
		Actions:            logServiceActions{ClearLog: actionTarget{Target: managerLogServicePath() + "/Actions/LogService.ClearLog"}},
	}
	return ls, nil
}

func auditEntry(rec auditRecord) logEntry {
	id := strconv.FormatUint(rec.id, 10)
	le := logEntry{
		odata:       odata{ID: managerLogEntryPath(id), Type: typeLogEntry},
		ID:          id,
		Name:        "Audit Log Entry " + id,
		EntryType:   rec.entryType,
		Created:     rec.at.UTC().Format(time.RFC3339),
		Severity:    rec.severity,
		Message:     rec.message,
		MessageID:   rec.messageID,
		MessageArgs: rec.args,
	}
	if rec.entryType == "Oem" {
		le.OemRecordFmt = auditRecordFormat
	}
	return le
}

func (s *service) getManagerLogEntries(r *request) (any, error) {
	if err := lookupManagerLog(r); err != nil {
		return nil, err
	}
	recs, _ := s.auditLog.list()
	entries := make([]logEntry, 0, len(recs))
	for _, rec := range recs {
		entries = append(entries, auditEntry(rec))
	}
	c := logEntryCollection{
		odata: odata{ID: managerLogEntriesPath(), Type: typeLogEntryCollection},
		Name:  "Audit Log Entry Collection", Members: entries, Count: len(entries),
	}
	q := r.c.Request.URL.Query()
	if !q.Has("$top") && !q.Has("$skip") && len(entries) > logPageSize {
		c.Members = entries[:logPageSize]
		c.NextLink = managerLogEntriesPath() + "?$skip=" + strconv.Itoa(logPageSize)
	}
	return c, nil
}

func (s *service) getManagerLogEntry(r *request) (any, error) {
	if err := lookupManagerLog(r); err != nil {
		return nil, err
	}
	eid := r.param("mentry")
	if n, err := strconv.ParseUint(eid, 10, 64); err == nil && strconv.FormatUint(n, 10) == eid {
		recs, _ := s.auditLog.list()
		for _, rec := range recs {
			if rec.id == n {
				return auditEntry(rec), nil
			}
		}
	}
	return nil, errResourceNotFound("LogEntry", eid)
}

// postClearManagerLog empties the audit log. The middleware then records
// LogCleared, so a cleared log's first record says that it was.
func (s *service) postClearManagerLog(r *request) (*response, error) {
	if err := lookupManagerLog(r); err != nil {
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
	s.auditLog.clear()
	return &response{status: http.StatusNoContent}, nil
}

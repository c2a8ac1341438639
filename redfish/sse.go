package redfish

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/bmcemu/bmcemu/platform/netfault"
)

// registryPrefix is the MessageId's registry prefix ("ResourceEvent").
func (e rfEvent) registryPrefix() string {
	p, _, _ := strings.Cut(e.MessageID, ".")
	return p
}

// resourceType is the schema name of the OriginOfCondition ("Memory"), or
// "" when the event has none or its origin is not one the service knows
// (a SubmitTestEvent may name any URI).
func (e rfEvent) resourceType() string {
	switch {
	case strings.HasPrefix(e.Origin, memoryCollectionPath()+"/"):
		return "Memory"
	case strings.HasPrefix(e.Origin, memoryChunksPath()+"/"):
		return "MemoryChunks"
	case e.Origin == memoryDomainPath():
		return "MemoryDomain"
	case e.Origin == systemPath():
		return "ComputerSystem"
	case strings.HasPrefix(e.Origin, pathTasks+"/"):
		return "Task"
	case e.Origin == chassisPath():
		return "Chassis"
	case strings.HasPrefix(e.Origin, pathAccounts+"/"):
		return "ManagerAccount"
	case strings.HasPrefix(e.Origin, pathSubscriptions+"/"):
		return "EventDestination"
	case strings.HasPrefix(e.Origin, pcieDevicesPath()+"/"):
		return "PCIeDevice"
	}
	return ""
}

func (h *eventHub) unlisten(l *listener) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.listeners, l)
}

// sseCondition is one "Property eq 'value'" of an SSE $filter.
type sseCondition struct {
	prop, value string
}

// sseFilter is a disjunction of conjunctions: DSP0266 clause 7.3.4's
// filter on the SSE properties, with eq, and, or and parentheses-free
// grouping. An empty filter passes everything.
type sseFilter [][]sseCondition

var sseProps = map[string]bool{"MessageId": true, "RegistryPrefix": true, "ResourceType": true, "OriginResource": true, "EventFormatType": true}

// parseSSEFilter reads $filter for the SSE stream.
func parseSSEFilter(s string) (sseFilter, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out sseFilter
	for or := range strings.SplitSeq(s, " or ") {
		var group []sseCondition
		for and := range strings.SplitSeq(or, " and ") {
			and = strings.Trim(strings.TrimSpace(and), "()")
			prop, val, ok := strings.Cut(and, " eq ")
			prop, val = strings.TrimSpace(prop), strings.TrimSpace(val)
			if !ok || !sseProps[prop] || len(val) < 2 || val[0] != '\'' || val[len(val)-1] != '\'' {
				return nil, fmt.Errorf("bad condition %q", and)
			}
			val = strings.ReplaceAll(val[1:len(val)-1], "''", "'")
			group = append(group, sseCondition{prop, val})
		}
		out = append(out, group)
	}
	return out, nil
}

func (f sseFilter) matches(ev rfEvent) bool {
	if len(f) == 0 {
		return true
	}
	for _, group := range f {
		ok := true
		for _, c := range group {
			switch c.prop {
			case "MessageId":
				ok = ok && messageIDMatches(c.value, ev.MessageID)
			case "RegistryPrefix":
				ok = ok && ev.registryPrefix() == c.value
			case "ResourceType":
				ok = ok && ev.resourceType() == c.value
			case "OriginResource":
				ok = ok && ev.Origin == c.value
			case "EventFormatType":
				ok = ok && c.value == "Event"
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// sseQueueDepth bounds one SSE client's backlog; a client that falls
// further behind is disconnected and resumes with Last-Event-ID.
const sseQueueDepth = 256

// serveSSE streams events as text/event-stream: "id:" is the EventId, so a
// reconnecting client's Last-Event-ID replays what it missed from the
// hub's buffer.
func (s *service) serveSSE(c *gin.Context) {
	raw := c.Request.URL.RawQuery
	vals, err := url.ParseQuery(raw)
	if err != nil {
		s.fail(c, newAPIError(http.StatusBadRequest, "QueryParameterValueError", raw))
		return
	}
	filter, err := parseSSEFilter(vals.Get("$filter"))
	if err != nil {
		s.fail(c, badQueryValue("$filter", vals.Get("$filter")))
		return
	}
	var after uint64
	if h := c.GetHeader("Last-Event-ID"); h != "" {
		if after, err = strconv.ParseUint(strings.TrimSpace(h), 10, 64); err != nil {
			after = 0
		}
	} else {
		after = s.hub.lastIDValue()
	}
	if n := s.sseClients.Add(1); n > int64(s.maxSSE) {
		s.sseClients.Add(-1)
		s.fail(c, newAPIError(http.StatusServiceUnavailable, "EventSubscriptionLimitExceeded"))
		return
	}
	defer s.sseClients.Add(-1)
	// DSP0266: the stream is an EventDestination (SubscriptionType SSE)
	// in the Subscriptions collection for as long as it is open, and
	// deleting that member closes the stream. It is registered before the
	// 200 goes out so a client that has the headers can already find it.
	sub := newSSESubscription(filter, principalUser(c))
	if err := s.subs.addSSE(sub); err != nil {
		// Only after close(): the service is shutting down.
		s.fail(c, newAPIError(http.StatusServiceUnavailable, "GeneralError"))
		return
	}
	defer s.subs.remove(sub.ID)
	l, replay := s.hub.listen("sse "+sub.ID+" "+c.Request.RemoteAddr, sseQueueDepth, after)
	defer s.hub.unlisten(l)

	w := c.Writer
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("OData-Version", "4.0")
	w.WriteHeader(http.StatusOK)
	send := func(ev rfEvent) bool {
		if !filter.matches(ev) {
			return true
		}
		b, err := json.Marshal(eventPayload(ev, s.subs.contextOf(sub)))
		if err != nil {
			return false
		}
		frame := fmt.Appendf(nil, "id: %d\ndata: %s\n\n", ev.ID, b)
		if s.faults != nil && s.faults.Active(netfault.SSE) {
			subject := "EventId " + strconv.FormatUint(ev.ID, 10) + " on SSE stream " + sub.ID + " (" + c.Request.RemoteAddr + ")"
			if _, ok := s.faults.Decide(netfault.SSE, netfault.Cut, subject); ok {
				cutStream(w, frame[:len(frame)/2])
				return false
			}
		}
		if _, err := w.Write(frame); err != nil {
			return false
		}
		w.Flush()
		return true
	}
	for _, ev := range replay {
		if !send(ev) {
			return
		}
	}
	w.Flush()
	for {
		select {
		case <-c.Request.Context().Done():
			return
		case <-s.sseStop:
			return
		case <-sub.stop:
			// The member was deleted: returning ends the response, which
			// the client sees as the connection closing.
			s.log.Info("redfish: SSE stream closed by deleting its subscription", "id", sub.ID, "remote", c.Request.RemoteAddr)
			return
		case <-l.overflow:
			// Drain what was queued, then end: the client resumes.
			for {
				select {
				case ev := <-l.c:
					if !send(ev) {
						return
					}
				default:
					s.log.Warn("redfish: SSE client too slow; disconnected", "remote", c.Request.RemoteAddr)
					return
				}
			}
		case ev := <-l.c:
			if !send(ev) {
				return
			}
		}
	}
}

// cutStream writes part of an event and closes the connection under the
// stream, without the chunked encoding's last chunk: the client sees the
// stream end mid-event, as when a BMC's web server dies.
func cutStream(w gin.ResponseWriter, part []byte) {
	_, _ = w.Write(part)
	w.Flush()
	// gin refuses a takeover once the body has begun; the connection is
	// taken from the writer at the bottom of the wrappers instead.
	var bottom http.ResponseWriter = w
	for {
		u, ok := bottom.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		bottom = u.Unwrap()
	}
	if conn, _, err := http.NewResponseController(bottom).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

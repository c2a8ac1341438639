package redfish

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	pathEventService  = "/redfish/v1/EventService"
	pathSubscriptions = pathEventService + "/Subscriptions"
	pathSSE           = pathEventService + "/SSE"
	pathSubmitTest    = pathEventService + "/Actions/EventService.SubmitTestEvent"

	typeEventService         = "#EventService.v1_12_0.EventService"
	typeEventDestinationColl = "#EventDestinationCollection.EventDestinationCollection"
	typeEventDestination     = "#EventDestination.v1_16_0.EventDestination"
	typeEvent                = "#Event.v1_13_0.Event"
)

func subscriptionPath(id string) string { return pathSubscriptions + "/" + id }
func resumePath(id string) string {
	return subscriptionPath(id) + "/Actions/EventDestination.ResumeSubscription"
}

// eventRegistryPrefixes and eventResourceTypes are what events can carry.
var (
	eventRegistryPrefixes = []string{"ResourceEvent", "Platform", oemPrefix}
	eventResourceTypes    = []string{"Memory", "ComputerSystem", "MemoryDomain", "MemoryChunks", "Task", "Chassis", "ManagerAccount", "EventDestination"}
)

type eventService struct {
	odata
	ID                           string              `json:"Id"`
	Name                         string              `json:"Name"`
	ServiceEnabled               bool                `json:"ServiceEnabled"`
	DeliveryRetryAttempts        int                 `json:"DeliveryRetryAttempts"`
	DeliveryRetryIntervalSeconds int                 `json:"DeliveryRetryIntervalSeconds"`
	EventFormatTypes             []string            `json:"EventFormatTypes"`
	RegistryPrefixes             []string            `json:"RegistryPrefixes"`
	ResourceTypes                []string            `json:"ResourceTypes"`
	ServerSentEventURI           string              `json:"ServerSentEventUri"`
	SSEFilterPropertiesSupported sseFilterProps      `json:"SSEFilterPropertiesSupported"`
	Status                       status              `json:"Status"`
	Subscriptions                link                `json:"Subscriptions"`
	Actions                      eventServiceActions `json:"Actions"`
}

type sseFilterProps struct {
	EventFormatType        bool `json:"EventFormatType"`
	MessageID              bool `json:"MessageId"`
	MetricReportDefinition bool `json:"MetricReportDefinition"`
	OriginResource         bool `json:"OriginResource"`
	RegistryPrefix         bool `json:"RegistryPrefix"`
	ResourceType           bool `json:"ResourceType"`
	SubordinateResources   bool `json:"SubordinateResources"`
}

type eventServiceActions struct {
	SubmitTestEvent actionTarget `json:"#EventService.SubmitTestEvent"`
}

func (s *service) getEventService(*request) (any, error) {
	attempts, interval := s.subs.retry()
	st := statusOK()
	st.HealthRollup = ""
	return eventService{
		odata:                        odata{ID: pathEventService, Type: typeEventService},
		ID:                           "EventService",
		Name:                         "Event Service",
		ServiceEnabled:               true,
		DeliveryRetryAttempts:        attempts,
		DeliveryRetryIntervalSeconds: int((interval + time.Second - 1) / time.Second),
		EventFormatTypes:             []string{"Event"},
		RegistryPrefixes:             eventRegistryPrefixes,
		ResourceTypes:                eventResourceTypes,
		ServerSentEventURI:           pathSSE,
		SSEFilterPropertiesSupported: sseFilterProps{EventFormatType: true, MessageID: true, OriginResource: true, RegistryPrefix: true, ResourceType: true},
		Status:                       st,
		Subscriptions:                link{ID: pathSubscriptions},
		Actions:                      eventServiceActions{SubmitTestEvent: actionTarget{Target: pathSubmitTest}},
	}, nil
}

// eventServicePatch is what a client may change on the EventService: how
// hard delivery tries before a subscription's DeliveryRetryPolicy acts.
// The bounds keep a typo from making a dead subscriber hold its queue for
// days.
type eventServicePatch struct {
	DeliveryRetryAttempts        *int `json:"DeliveryRetryAttempts" validate:"omitempty,min=0,max=20"`
	DeliveryRetryIntervalSeconds *int `json:"DeliveryRetryIntervalSeconds" validate:"omitempty,min=1,max=3600"`
}

func (s *service) patchEventService(r *request) (*response, error) {
	var p eventServicePatch
	d, err := decodeBody(r.body, &p, jsonNames(eventService{}))
	if err != nil {
		return nil, err
	}
	if len(d.present) == 0 {
		return nil, failAll(d.problems)
	}
	var interval *time.Duration
	if p.DeliveryRetryIntervalSeconds != nil {
		v := time.Duration(*p.DeliveryRetryIntervalSeconds) * time.Second
		interval = &v
	}
	s.subs.setRetry(p.DeliveryRetryAttempts, interval)
	return s.afterPatch(r, s.getEventService, d)
}

func (s *service) getSubscriptions(*request) (any, error) {
	var members []link
	for _, sub := range s.subs.list() {
		members = append(members, link{ID: subscriptionPath(sub.ID)})
	}
	return newCollection(pathSubscriptions, typeEventDestinationColl, "Event Subscriptions", members), nil
}

type eventDestination struct {
	odata
	ID                  string            `json:"Id"`
	Name                string            `json:"Name"`
	Destination         string            `json:"Destination"`
	Context             string            `json:"Context"`
	Protocol            string            `json:"Protocol"`
	SubscriptionType    string            `json:"SubscriptionType"`
	EventFormatType     string            `json:"EventFormatType"`
	RegistryPrefixes    []string          `json:"RegistryPrefixes"`
	MessageIDs          []string          `json:"MessageIds"`
	ResourceTypes       []string          `json:"ResourceTypes"`
	OriginResources     []link            `json:"OriginResources"`
	HTTPHeaders         []struct{}        `json:"HttpHeaders"`
	DeliveryRetryPolicy string            `json:"DeliveryRetryPolicy"`
	Status              status            `json:"Status"`
	Actions             destinationAction `json:"Actions"`
}

type destinationAction struct {
	Resume actionTarget `json:"#EventDestination.ResumeSubscription"`
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func (s *service) lookupSubscription(r *request) (*subscription, error) {
	id := r.param("sub")
	sub, ok := s.subs.get(id)
	if !ok {
		return nil, errResourceNotFound("EventDestination", id)
	}
	return sub, nil
}

// isOwnSubscription: ConfigureSelf covers the subscriptions one created.
func (s *service) isOwnSubscription(r *request) bool {
	sub, ok := s.subs.get(r.param("sub"))
	return ok && r.authed && sub.Owner == r.who.user
}

func (s *service) getSubscription(r *request) (any, error) {
	sub, err := s.lookupSubscription(r)
	if err != nil {
		return nil, err
	}
	v := s.subs.view(sub)
	st := status{State: "Enabled", Health: "OK"}
	if v.Suspended {
		st = status{State: "Disabled", Health: "Warning"}
	}
	origins := make([]link, len(v.OriginResources))
	for i, o := range v.OriginResources {
		origins[i] = link{ID: o}
	}
	return eventDestination{
		odata:       odata{ID: subscriptionPath(v.ID), Type: typeEventDestination},
		ID:          v.ID,
		Name:        "Event Subscription " + v.ID,
		Destination: v.Destination, Context: v.Context, Protocol: v.Protocol,
		SubscriptionType: v.SubscriptionType, EventFormatType: v.EventFormatType,
		RegistryPrefixes: nonNil(v.RegistryPrefixes), MessageIDs: nonNil(v.MessageIDs),
		ResourceTypes: nonNil(v.ResourceTypes), OriginResources: origins,
		// Headers often hold credentials: never read back (DSP0268).
		HTTPHeaders:         []struct{}{},
		DeliveryRetryPolicy: v.DeliveryRetryPolicy,
		Status:              st,
		Actions:             destinationAction{Resume: actionTarget{Target: resumePath(v.ID)}},
	}, nil
}

type subscriptionCreate struct {
	Destination         string              `json:"Destination" validate:"required,max=1024"`
	Context             *string             `json:"Context" validate:"omitempty,max=256"`
	Protocol            string              `json:"Protocol" validate:"required"`
	SubscriptionType    *string             `json:"SubscriptionType"`
	EventFormatType     *string             `json:"EventFormatType"`
	RegistryPrefixes    []string            `json:"RegistryPrefixes" validate:"max=16"`
	MessageIDs          []string            `json:"MessageIds" validate:"max=64"`
	ResourceTypes       []string            `json:"ResourceTypes" validate:"max=16"`
	OriginResources     []link              `json:"OriginResources" validate:"max=64"`
	HTTPHeaders         []map[string]string `json:"HttpHeaders" validate:"max=16"`
	DeliveryRetryPolicy *string             `json:"DeliveryRetryPolicy" validate:"omitempty,oneof=TerminateAfterRetries SuspendRetries RetryForever RetryForeverWithBackoff"`
	// EventTypes is deprecated; older clients (sushy) still send it.
	EventTypes []string `json:"EventTypes" validate:"max=8"`
}

func (s *service) postSubscription(r *request) (*response, error) {
	var in subscriptionCreate
	d, err := decodeBody(r.body, &in, []string{"Id", "Name", "Status", "Actions", "@odata.id", "@odata.type"})
	if err != nil {
		return nil, err
	}
	if len(d.problems) > 0 {
		return nil, failAll(d.problems)
	}
	var problems []*apiError
	if in.Protocol != "Redfish" {
		problems = append(problems, propErr(http.StatusBadRequest, "PropertyValueNotInList", "Protocol", in.Protocol, "Protocol"))
	}
	sub := &subscription{Owner: r.who.user, Destination: in.Destination, Protocol: "Redfish",
		SubscriptionType: "RedfishEvent", EventFormatType: "Event", DeliveryRetryPolicy: "TerminateAfterRetries",
		RegistryPrefixes: in.RegistryPrefixes, MessageIDs: in.MessageIDs, ResourceTypes: in.ResourceTypes}
	if in.Context != nil {
		sub.Context = *in.Context
	}
	if in.SubscriptionType != nil && *in.SubscriptionType != "RedfishEvent" {
		problems = append(problems, propErr(http.StatusBadRequest, "PropertyValueNotInList", "SubscriptionType", *in.SubscriptionType, "SubscriptionType"))
	}
	if in.EventFormatType != nil && *in.EventFormatType != "Event" {
		problems = append(problems, propErr(http.StatusBadRequest, "PropertyValueNotInList", "EventFormatType", *in.EventFormatType, "EventFormatType"))
	}
	if in.DeliveryRetryPolicy != nil {
		sub.DeliveryRetryPolicy = *in.DeliveryRetryPolicy
	}
	for _, p := range in.RegistryPrefixes {
		if !slices.Contains(eventRegistryPrefixes, p) {
			problems = append(problems, propErr(http.StatusBadRequest, "PropertyValueNotInList", "RegistryPrefixes", p, "RegistryPrefixes"))
		}
	}
	for _, t := range in.ResourceTypes {
		if !slices.Contains(eventResourceTypes, t) {
			problems = append(problems, propErr(http.StatusBadRequest, "PropertyValueNotInList", "ResourceTypes", t, "ResourceTypes"))
		}
	}
	for _, id := range in.MessageIDs {
		if _, ok := eventMessages[id]; !ok && !knownMessageKey(id) {
			problems = append(problems, propErr(http.StatusBadRequest, "PropertyValueNotInList", "MessageIds", id, "MessageIds"))
		}
	}
	for _, o := range in.OriginResources {
		sub.OriginResources = append(sub.OriginResources, o.ID)
	}
	for _, h := range in.HTTPHeaders {
		for k, v := range h {
			if k == "" || strings.ContainsAny(k+v, "\r\n") {
				problems = append(problems, propErr(http.StatusBadRequest, "PropertyValueFormatError", "HttpHeaders", k, "HttpHeaders"))
				continue
			}
			if sub.Headers == nil {
				sub.Headers = map[string]string{}
			}
			sub.Headers[k] = v
		}
	}
	if len(problems) > 0 {
		return nil, failAll(problems)
	}
	if err := s.subs.checkDestination(in.Destination); err != nil {
		return nil, err
	}
	if err := s.subs.add(sub); err != nil {
		return nil, newAPIError(http.StatusBadRequest, "EventSubscriptionLimitExceeded")
	}
	s.log.Info("redfish: event subscription created", "id", sub.ID, "destination", sub.Destination, "user", r.who.user)
	s.publishLifecycle("ResourceCreated", subscriptionPath(sub.ID), sub.ID)
	out, err := s.getSubscription(&request{c: r.c, params: map[string]string{"sub": sub.ID}})
	if err != nil {
		return nil, err
	}
	return &response{status: http.StatusCreated, body: out, location: subscriptionPath(sub.ID)}, nil
}

// knownMessageKey accepts a version-less MessageId ("Prefix.Key") of a
// message the service emits.
func knownMessageKey(id string) bool {
	for full := range eventMessages {
		if messageIDMatches(id, full) {
			return true
		}
	}
	return false
}

func (s *service) deleteSubscription(r *request) (*response, error) {
	sub, err := s.lookupSubscription(r)
	if err != nil {
		return nil, err
	}
	if s.subs.remove(sub.ID) && !sub.sse {
		s.publishLifecycle("ResourceRemoved", subscriptionPath(sub.ID), "")
	}
	return &response{status: http.StatusNoContent}, nil
}

// publishLifecycle sends ResourceEvent ResourceCreated or ResourceRemoved
// for a resource a client created or deleted, as a BMC does for accounts
// and event subscriptions. Sessions get none: like bmcweb, the service
// does not flood subscribers with a login's every session (SessionService
// and the access log record those), and SSE stream members come and go
// with their connection. skip is a subscription not to tell (its own
// creation).
func (s *service) publishLifecycle(name, origin, skip string) {
	ev := s.hub.publish(s.now(), eventSpec{id: resourceEventRegistry + "." + name, origin: origin})
	s.subs.dispatchExcept(ev, skip)
}

func (s *service) postResumeSubscription(r *request) (*response, error) {
	sub, err := s.lookupSubscription(r)
	if err != nil {
		return nil, err
	}
	s.subs.resumeSub(sub.ID)
	return &response{status: http.StatusNoContent}, nil
}

type testEvent struct {
	MessageID         *string  `json:"MessageId"`
	MessageArgs       []string `json:"MessageArgs" validate:"max=16"`
	Message           *string  `json:"Message" validate:"omitempty,max=1024"`
	MessageSeverity   *string  `json:"MessageSeverity" validate:"omitempty,oneof=OK Warning Critical"`
	Severity          *string  `json:"Severity" validate:"omitempty,oneof=OK Warning Critical"`
	OriginOfCondition *string  `json:"OriginOfCondition" validate:"omitempty,max=512"`
	EventID           *string  `json:"EventId"`
	EventTimestamp    *string  `json:"EventTimestamp"`
	EventGroupID      *int64   `json:"EventGroupId"`
	EventType         *string  `json:"EventType"`
	Context           *string  `json:"Context"`
}

// postSubmitTestEvent is EventService.SubmitTestEvent: the event goes
// through the same hub as platform events, so SSE, the Event log and push
// subscribers all see it.
func (s *service) postSubmitTestEvent(r *request) (*response, error) {
	var in testEvent
	if len(strings.TrimSpace(string(r.body))) > 0 {
		d, err := decodeBody(r.body, &in, nil)
		if err != nil {
			return nil, err
		}
		if len(d.problems) > 0 {
			return nil, failAll(d.problems)
		}
	}
	spec := eventSpec{id: resourceEventRegistry + ".TestMessage", args: in.MessageArgs}
	if in.MessageID != nil {
		spec.id = *in.MessageID
	}
	if in.OriginOfCondition != nil {
		spec.origin = *in.OriginOfCondition
	}
	if _, ok := eventMessages[spec.id]; !ok {
		// A message of a registry the service does not carry: keep what
		// the client said.
		text := spec.id
		if in.Message != nil {
			text = *in.Message
		}
		sev := "OK"
		if in.MessageSeverity != nil {
			sev = *in.MessageSeverity
		} else if in.Severity != nil {
			sev = *in.Severity
		}
		spec.text, spec.severity = &text, sev
	}
	ev := s.hub.publish(s.now(), spec)
	s.subs.dispatch(ev)
	return &response{status: http.StatusNoContent}, nil
}

// eventBody is Event.v1_13_0 with one record.
type eventBody struct {
	Type    string        `json:"@odata.type"`
	ID      string        `json:"Id"`
	Name    string        `json:"Name"`
	Context string        `json:"Context,omitempty"`
	Events  []eventRecord `json:"Events"`
}

type eventRecord struct {
	EventID           string   `json:"EventId"`
	EventTimestamp    string   `json:"EventTimestamp"`
	EventType         string   `json:"EventType"`
	MemberID          string   `json:"MemberId"`
	MessageID         string   `json:"MessageId"`
	MessageArgs       []string `json:"MessageArgs"`
	MessageSeverity   string   `json:"MessageSeverity"`
	Message           string   `json:"Message"`
	Resolution        string   `json:"Resolution,omitempty"`
	OriginOfCondition *link    `json:"OriginOfCondition,omitempty"`
}

func eventPayload(ev rfEvent, context string) eventBody {
	id := strconv.FormatUint(ev.ID, 10)
	rec := eventRecord{EventID: id, EventTimestamp: ev.Time.Format(time.RFC3339), EventType: "Other", MemberID: "0",
		MessageID: ev.MessageID, MessageArgs: ev.Args, MessageSeverity: ev.Severity, Message: ev.Message, Resolution: ev.Resolution}
	if rec.MessageArgs == nil {
		rec.MessageArgs = []string{}
	}
	if ev.Origin != "" {
		rec.OriginOfCondition = &link{ID: ev.Origin}
	}
	return eventBody{Type: typeEvent, ID: id, Name: "Event " + id, Context: context, Events: []eventRecord{rec}}
}

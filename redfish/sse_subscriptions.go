package redfish

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// principalUser is the account an authenticated raw handler acts for.
func principalUser(c *gin.Context) string {
	if v, ok := c.Get(principalKey); ok {
		if p, ok := v.(principal); ok {
			return p.user
		}
	}
	return ""
}

// newSSESubscription is the EventDestination an SSE stream opened with
// filter appears as. The stream itself keeps filtering with filter; the
// member only reflects it.
func newSSESubscription(filter sseFilter, owner string) *subscription {
	sub := &subscription{Owner: owner, Protocol: "Redfish", SubscriptionType: "SSE", EventFormatType: "Event",
		// A stream that cannot keep up is disconnected, not retried: the
		// nearest of the schema's policies, and the property is required
		// to hold one of them.
		DeliveryRetryPolicy: "TerminateAfterRetries"}
	sub.RegistryPrefixes, sub.MessageIDs, sub.ResourceTypes, sub.OriginResources, _ = filter.destinationFilters()
	return sub
}

// destinationFilters maps the $filter onto EventDestination's filter
// properties, whose meaning is "any of the listed values" per property and
// "all of" across properties. That is exactly a filter whose or-groups are
// every combination of one value per property, e.g.
// "(MessageId eq 'a' and ResourceType eq 'Memory') or (MessageId eq 'b'
// and ResourceType eq 'Memory')". Any other filter (say "MessageId eq 'a'
// or ResourceType eq 'Memory'") has no such form; then ok is false and
// nothing is reflected, since listing values would claim a narrower or
// wider filter than the stream applies. EventFormatType eq 'Event' is
// dropped: every event the service sends is of that format.
func (f sseFilter) destinationFilters() (prefixes, ids, types, origins []string, ok bool) {
	if len(f) == 0 {
		return nil, nil, nil, nil, true
	}
	values := map[string][]string{}
	var props []string // the properties of the first group, sorted
	groups := map[string]bool{}
	for gi, g := range f {
		seen := map[string]string{}
		for _, c := range g {
			if c.prop == "EventFormatType" {
				if c.value != "Event" {
					return nil, nil, nil, nil, false
				}
				continue
			}
			if _, dup := seen[c.prop]; dup {
				return nil, nil, nil, nil, false
			}
			seen[c.prop] = c.value
		}
		var mine []string
		for p := range seen {
			mine = append(mine, p)
		}
		slices.Sort(mine)
		if gi == 0 {
			props = mine
		} else if !slices.Equal(props, mine) {
			return nil, nil, nil, nil, false
		}
		var key strings.Builder
		for _, p := range mine {
			if !slices.Contains(values[p], seen[p]) {
				values[p] = append(values[p], seen[p])
			}
			key.WriteString(p + "\x00" + seen[p] + "\x00")
		}
		groups[key.String()] = true
	}
	product := 1
	for _, p := range props {
		product *= len(values[p])
	}
	if len(groups) != product {
		return nil, nil, nil, nil, false
	}
	return values["RegistryPrefix"], values["MessageId"], values["ResourceType"], values["OriginResource"], true
}

// subscriptionPatch holds what a PATCH may change on an EventDestination.
// Everything else the resource shows is refused as PropertyNotWritable.
type subscriptionPatch struct {
	Context             *string `json:"Context" validate:"omitempty,max=256"`
	DeliveryRetryPolicy *string `json:"DeliveryRetryPolicy" validate:"omitempty,oneof=TerminateAfterRetries SuspendRetries RetryForever RetryForeverWithBackoff"`
}

// patchSubscription changes Context of any member and DeliveryRetryPolicy
// of a push subscription. An SSE member's policy is refused: its delivery
// is the open stream, which has no retries to configure.
func (s *service) patchSubscription(r *request) (*response, error) {
	sub, err := s.lookupSubscription(r)
	if err != nil {
		return nil, err
	}
	var p subscriptionPatch
	d, err := decodeBody(r.body, &p, jsonNames(eventDestination{}))
	if err != nil {
		return nil, err
	}
	if p.DeliveryRetryPolicy != nil && sub.sse {
		p.DeliveryRetryPolicy = nil
		delete(d.present, "DeliveryRetryPolicy")
		d.problems = append(d.problems, propErr(http.StatusBadRequest, "PropertyNotWritable", "DeliveryRetryPolicy", "DeliveryRetryPolicy"))
	}
	if len(d.present) == 0 {
		return nil, failAll(d.problems)
	}
	s.subs.update(sub, p.Context, p.DeliveryRetryPolicy)
	return s.afterPatch(r, s.getSubscription, d)
}

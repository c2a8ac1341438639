package redfish

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// registryMessage is one Base registry entry, copied verbatim from
// Base.1.22.1.json. Only the messages the service emits are kept so the table
// stays reviewable against the registry.
type registryMessage struct {
	severity   string
	args       int
	text       string
	resolution string
}

// baseMessage returns the Base registry entry for id. A switch rather than a
// map keeps the table immutable.
func baseMessage(id string) (registryMessage, bool) {
	switch id {
	case "InternalError":
		return registryMessage{severity: "Critical", args: 0,
			text:       "The request failed due to an internal service error.  The service is still operational.",
			resolution: "Resubmit the request.  If the problem persists, consider resetting the service."}, true
	case "InvalidURI":
		return registryMessage{severity: "Critical", args: 1,
			text:       "The URI %1 was not found.",
			resolution: "Provide a valid URI and resubmit the request."}, true
	case "NoValidSession":
		return registryMessage{severity: "Critical", args: 0,
			text:       "There is no valid session established with the implementation.",
			resolution: "Establish a session before attempting any operations."}, true
	case "OperationNotAllowed":
		return registryMessage{severity: "Critical", args: 0,
			text:       "The HTTP method is not allowed on this resource.",
			resolution: "None."}, true
	case "QueryParameterUnsupported":
		return registryMessage{severity: "Warning", args: 1,
			text:       "Query parameter '%1' is not supported.",
			resolution: "Correct or remove the query parameter and resubmit the request."}, true
	case "ResourceNotFound":
		return registryMessage{severity: "Critical", args: 2,
			text:       "The requested resource of type %1 named '%2' was not found.",
			resolution: "Provide a valid resource identifier and resubmit the request."}, true
	}
	return registryMessage{}, false
}

// apiError is a failure a handler reports to the client: an HTTP status and
// the Base registry message that explains it. Handlers return it as an
// error; the rendering layer turns it into a DSP0266 error body. Any other
// error is an internal fault and becomes InternalError.
type apiError struct {
	status    int
	messageID string // Base registry key, without the registry prefix
	args      []string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("redfish: %d %s %q", e.status, e.messageID, e.args)
}

func errResourceNotFound(typ, id string) error {
	return &apiError{status: http.StatusNotFound, messageID: "ResourceNotFound", args: []string{typ, id}}
}

func errInvalidURI(uri string) error {
	return &apiError{status: http.StatusNotFound, messageID: "InvalidURI", args: []string{uri}}
}

func errNoValidSession() error {
	return &apiError{status: http.StatusUnauthorized, messageID: "NoValidSession"}
}

func errOperationNotAllowed() error {
	return &apiError{status: http.StatusMethodNotAllowed, messageID: "OperationNotAllowed"}
}

func errQueryParameterUnsupported(param string) error {
	return &apiError{status: http.StatusNotImplemented, messageID: "QueryParameterUnsupported", args: []string{param}}
}

func errInternal() *apiError {
	return &apiError{status: http.StatusInternalServerError, messageID: "InternalError"}
}

// asAPIError reports whether err carries a client-facing message; anything
// else is a fault the client must not see the details of.
func asAPIError(err error) (*apiError, bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		if _, ok := baseMessage(ae.messageID); ok {
			return ae, true
		}
	}
	return nil, false
}

// message is Message.v1_3_0 as it appears in @Message.ExtendedInfo.
type message struct {
	Type            string   `json:"@odata.type"`
	MessageID       string   `json:"MessageId"`
	Message         string   `json:"Message"`
	MessageArgs     []string `json:"MessageArgs"`
	MessageSeverity string   `json:"MessageSeverity"`
	Resolution      string   `json:"Resolution"`
}

// errorBody is the DSP0266 error response (redfish-error.v1_0_2).
type errorBody struct {
	Error errorContents `json:"error"`
}

type errorContents struct {
	Code         string    `json:"code"`
	Message      string    `json:"message"`
	ExtendedInfo []message `json:"@Message.ExtendedInfo"`
}

func (e *apiError) body() errorBody {
	m, ok := baseMessage(e.messageID)
	if !ok {
		return errInternal().body()
	}
	args := make([]string, m.args)
	copy(args, e.args)
	id := baseRegistry + "." + e.messageID
	text := formatMessage(m.text, args)
	return errorBody{Error: errorContents{
		Code:    id,
		Message: text,
		ExtendedInfo: []message{{
			Type: typeMessage, MessageID: id, Message: text, MessageArgs: args,
			MessageSeverity: m.severity, Resolution: m.resolution,
		}},
	}}
}

// formatMessage substitutes %1..%n in one pass, so an argument that itself
// contains "%2" (a client-supplied URI) is never expanded again.
func formatMessage(text string, args []string) string {
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		if text[i] == '%' {
			j := i + 1
			for j < len(text) && text[j] >= '0' && text[j] <= '9' {
				j++
			}
			if n, err := strconv.Atoi(text[i+1 : j]); err == nil && n >= 1 && n <= len(args) {
				b.WriteString(args[n-1])
				i = j - 1
				continue
			}
		}
		b.WriteByte(text[i])
	}
	return b.String()
}

package redfish

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// registryMessage is one Base registry entry, copied verbatim from
// Base.1.22.1.json. Only the messages the service emits are kept so the table
// stays reviewable against the registry (TestBaseMessagesMatchRegistry).
type registryMessage struct {
	severity   string
	args       int
	text       string
	resolution string
}

var baseMessages = map[string]registryMessage{
	"InternalError": {severity: "Critical", args: 0,
		text:       "The request failed due to an internal service error.  The service is still operational.",
		resolution: "Resubmit the request.  If the problem persists, consider resetting the service."},
	"InvalidURI": {severity: "Critical", args: 1,
		text:       "The URI %1 was not found.",
		resolution: "Provide a valid URI and resubmit the request."},
	"NoValidSession": {severity: "Critical", args: 0,
		text:       "There is no valid session established with the implementation.",
		resolution: "Establish a session before attempting any operations."},
	"OperationNotAllowed": {severity: "Critical", args: 0,
		text:       "The HTTP method is not allowed on this resource.",
		resolution: "None."},
	"QueryParameterUnsupported": {severity: "Warning", args: 1,
		text:       "Query parameter '%1' is not supported.",
		resolution: "Correct or remove the query parameter and resubmit the request."},
	"ResourceNotFound": {severity: "Critical", args: 2,
		text:       "The requested resource of type %1 named '%2' was not found.",
		resolution: "Provide a valid resource identifier and resubmit the request."},
	"MalformedJSON": {severity: "Critical", args: 0,
		text:       "The request body submitted was malformed JSON and could not be parsed by the receiving service.",
		resolution: "Ensure that the request body is valid JSON and resubmit the request."},
	"PropertyUnknown": {severity: "Warning", args: 1,
		text:       "The property %1 is not in the list of valid properties for the resource.",
		resolution: "Remove the unknown property from the request body and resubmit the request if the operation failed."},
	"PropertyValueTypeError": {severity: "Warning", args: 2,
		text:       "The value '%1' for the property %2 is not a type that the property can accept.",
		resolution: "Correct the value for the property in the request body and resubmit the request if the operation failed."},
	"PropertyValueNotInList": {severity: "Warning", args: 2,
		text:       "The value '%1' for the property %2 is not in the list of acceptable values.",
		resolution: "Choose a value from the enumeration list that the implementation can support and resubmit the request if the operation failed."},
	"PropertyNotWritable": {severity: "Warning", args: 1,
		text:       "The property %1 is a read-only property and cannot be assigned a value.",
		resolution: "Remove the property from the request body and resubmit the request if the operation failed."},
	"PropertyValueOutOfRange": {severity: "Warning", args: 2,
		text:       "The value '%1' for the property %2 is not in the supported range of acceptable values.",
		resolution: "Correct the value for the property in the request body and resubmit the request if the operation failed."},
	"PropertyValueFormatError": {severity: "Warning", args: 2,
		text:       "The value '%1' for the property %2 is not a format that the property can accept.",
		resolution: "Correct the value for the property in the request body and resubmit the request if the operation failed."},
	"PropertyMissing": {severity: "Warning", args: 1,
		text:       "The property %1 is a required property and must be included in the request.",
		resolution: "Ensure that the property is in the request body and has a valid value and resubmit the request if the operation failed."},
	"InsufficientPrivilege": {severity: "Critical", args: 0,
		text:       "There are insufficient privileges for the account or credentials associated with the current session to perform the requested operation.",
		resolution: "Either abandon the operation or change the associated access rights and resubmit the request if the operation failed."},
	"PreconditionFailed": {severity: "Critical", args: 0,
		text:       "The ETag supplied did not match the ETag required to change this resource.",
		resolution: "Try the operation again using the appropriate ETag."},
	"HeaderInvalid": {severity: "Critical", args: 1,
		text:       "Header '%1' is invalid.",
		resolution: "Resubmit the request with a valid request header."},
	"PreconditionRequired": {severity: "Critical", args: 0,
		text:       "A precondition header or annotation is required to change this resource.",
		resolution: "Try the operation again using an If-Match or If-None-Match header and appropriate ETag."},
	"QueryParameterValueFormatError": {severity: "Warning", args: 2,
		text:       "The value '%1' for the parameter %2 is not a format that the parameter can accept.",
		resolution: "Correct the value for the query parameter in the request and resubmit the request if the operation failed."},
	"QueryParameterOutOfRange": {severity: "Warning", args: 3,
		text:       "The value '%1' for the query parameter %2 is out of range %3.",
		resolution: "Reduce the value for the query parameter to a value that is within range, such as a start or count value that is within bounds of the number of resources in a collection or a page number that is within the range of valid pages."},
	"QueryCombinationInvalid": {severity: "Warning", args: 0,
		text:       "Two or more query parameters in the request cannot be used together.",
		resolution: "Remove one or more of the query parameters and resubmit the request if the operation failed."},
	"QueryParameterValueTypeError": {severity: "Warning", args: 2,
		text:       "The value '%1' for the query parameter %2 is not a type that the parameter can accept.",
		resolution: "Correct the value for the query parameter in the request and resubmit the request if the operation failed."},
	"QueryNotSupportedOnResource": {severity: "Warning", args: 0,
		text:       "Querying is not supported on the requested resource.",
		resolution: "Remove the query parameters and resubmit the request if the operation failed."},
	"QueryNotSupportedOnOperation": {severity: "Warning", args: 0,
		text:       "Querying is not supported with the requested operation.",
		resolution: "Remove the query parameters and resubmit the request if the operation failed."},
	"NoOperation": {severity: "Warning", args: 0,
		text:       "The request body submitted contain no data to act upon and no changes to the resource took place.",
		resolution: "Add properties in the JSON object and resubmit the request."},
	"PasswordChangeRequired": {severity: "Critical", args: 1,
		text:       "The password provided for this account must be changed before access is granted.  PATCH the Password property for this account located at the target URI '%1' to complete this process.",
		resolution: "Change the password for this account using a PATCH to the Password property at the URI provided."},
	"PasswordIncorrectLength": {severity: "Critical", args: 0,
		text:       "The password provided for this account does not meet the password length requirements of the service.",
		resolution: "Resubmit the request with a password that meets the password length requirements as specified by the `MinPasswordLength` and `MaxPasswordLength` properties in the `AccountService` resource."},
	"ResourceAlreadyExists": {severity: "Critical", args: 3,
		text:       "The requested resource of type %1 with the property %2 with the value '%3' already exists.",
		resolution: "Do not repeat the create operation as the resource was already created."},
	"Created": {severity: "OK", args: 0,
		text:       "The resource was created successfully.",
		resolution: "None."},
	"Success": {severity: "OK", args: 0,
		text:       "The request completed successfully.",
		resolution: "None."},
	"CreateLimitReachedForResource": {severity: "Critical", args: 0,
		text:       "The create operation failed because the resource has reached the limit of possible resources.",
		resolution: "Either delete resources and resubmit the request if the operation failed or do not resubmit the request."},
	"SessionLimitExceeded": {severity: "Critical", args: 0,
		text:       "The session establishment failed due to the number of simultaneous sessions exceeding the limit of the implementation.",
		resolution: "Reduce the number of other sessions before trying to establish the session or increase the limit of simultaneous sessions, if supported."},
	"ResourceCannotBeDeleted": {severity: "Critical", args: 0,
		text:       "The delete request failed because the resource requested cannot be deleted.",
		resolution: "Do not attempt to delete a non-deletable resource."},
	"PropertyValueConflict": {severity: "Warning", args: 2,
		text:       "The property '%1' could not be written because its value would conflict with the value of the '%2' property.",
		resolution: "None."},
	"GeneralError": {severity: "Critical", args: 0,
		text:       "A general error has occurred.  See Resolution for information on how to resolve the error, or @Message.ExtendedInfo if Resolution is not provided.",
		resolution: "None."},
	"ActionNotSupported": {severity: "Critical", args: 1,
		text:       "The action %1 is not supported by the resource.",
		resolution: "Check the Actions property in the resource for the supported actions."},
	"AccountRemoved": {severity: "OK", args: 0,
		text:       "The account was successfully removed.",
		resolution: "None."},
	"AccountModified": {severity: "OK", args: 0,
		text:       "The account was successfully modified.",
		resolution: "None."},
	"PropertyValueIncorrect": {severity: "Warning", args: 2,
		text:       "The property '%1' with the requested value of '%2' could not be written because the value is not acceptable for the property.",
		resolution: "None."},
	"ResourceInUse": {severity: "Warning", args: 0,
		text:       "The change to the requested resource failed because the resource is in use or in transition.",
		resolution: "Remove the condition and resubmit the request if the operation failed."},
	"PropertyDuplicate": {severity: "Warning", args: 1,
		text:       "The property %1 was duplicated in the request.",
		resolution: "Remove the duplicate property from the request body and resubmit the request if the operation failed."},
	"EventSubscriptionLimitExceeded": {severity: "Critical", args: 0,
		text:       "The event subscription failed due to the number of simultaneous subscriptions exceeding the limit of the implementation.",
		resolution: "Reduce the number of other subscriptions before trying to establish the event subscription or increase the limit of simultaneous subscriptions, if supported."},
	"ServiceTemporarilyUnavailable": {severity: "Critical", args: 1,
		text:       "The service is temporarily unavailable.  Retry in %1 seconds.",
		resolution: "Wait for the indicated retry duration and retry the operation."},
	"QueryParameterValueError": {severity: "Warning", args: 1,
		text:       "The value for the parameter %1 is invalid.",
		resolution: "Correct the value for the query parameter in the request and resubmit the request if the operation failed."},
}

func baseMessage(id string) (registryMessage, bool) {
	m, ok := baseMessages[id]
	return m, ok
}

// apiError is a failure a handler reports to the client: an HTTP status and
// the Base registry messages that explain it. Handlers return it as an
// error; the rendering layer turns it into a DSP0266 error body. Any other
// error is an internal fault and becomes InternalError.
type apiError struct {
	status    int
	messageID string // Base registry key, without the registry prefix
	args      []string
	related   []string // RelatedProperties, as JSON pointers
	// more carries further messages (several refused properties).
	more []*apiError
	// detail, when set, is the top-level message: what the registry text
	// cannot say (which setting refused the request).
	detail string
	// retryAfter, when set, is sent as Retry-After (RFC 9110 clause 10.2.3)
	// with a 503, in whole seconds.
	retryAfter time.Duration
}

func (e *apiError) Error() string {
	return fmt.Sprintf("redfish: %d %s %q", e.status, e.messageID, e.args)
}

func newAPIError(status int, id string, args ...string) *apiError {
	return &apiError{status: status, messageID: id, args: args}
}

func errResourceNotFound(typ, id string) error {
	return newAPIError(http.StatusNotFound, "ResourceNotFound", typ, id)
}

func errInvalidURI(uri string) error { return newAPIError(http.StatusNotFound, "InvalidURI", uri) }

func errNoValidSession() error { return newAPIError(http.StatusUnauthorized, "NoValidSession") }

func errOperationNotAllowed() error {
	return newAPIError(http.StatusMethodNotAllowed, "OperationNotAllowed")
}

func errQueryParameterUnsupported(param string) error {
	return newAPIError(http.StatusNotImplemented, "QueryParameterUnsupported", param)
}

// errAddressBlocked refuses a login from an address blocked after repeated
// failures (per-address blocking, platform/ipblock): 503 with Retry-After
// and ServiceTemporarilyUnavailable, as DSP0266 answers a service that
// cannot serve this client for now. It is not 401: the credentials were not
// looked at, and a client that has the right password should learn that
// retrying now is pointless rather than that its password is wrong.
func errAddressBlocked(retry time.Duration) *apiError {
	secs := int64((retry + time.Second - 1) / time.Second)
	e := newAPIError(http.StatusServiceUnavailable, "ServiceTemporarilyUnavailable", strconv.FormatInt(secs, 10))
	e.retryAfter = time.Duration(secs) * time.Second
	e.detail = "Login attempts from this address are refused for a while after repeated failed logins."
	return e
}

func errInsufficientPrivilege() error {
	return newAPIError(http.StatusForbidden, "InsufficientPrivilege")
}

func errInternal() *apiError { return newAPIError(http.StatusInternalServerError, "InternalError") }

// property errors carry the property as a RelatedProperties pointer.
func propErr(status int, id, prop string, args ...string) *apiError {
	e := newAPIError(status, id, args...)
	e.related = []string{"#/" + strings.ReplaceAll(prop, ".", "/")}
	return e
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
	Type              string   `json:"@odata.type"`
	MessageID         string   `json:"MessageId"`
	Message           string   `json:"Message"`
	MessageArgs       []string `json:"MessageArgs"`
	MessageSeverity   string   `json:"MessageSeverity"`
	Resolution        string   `json:"Resolution"`
	RelatedProperties []string `json:"RelatedProperties,omitempty"`
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

// infoMessage renders one registry message.
func infoMessage(id string, related []string, a ...string) message {
	m, ok := baseMessage(id)
	if !ok {
		m, id = baseMessages["InternalError"], "InternalError"
	}
	args := make([]string, m.args)
	copy(args, a)
	full := baseRegistry + "." + id
	return message{Type: typeMessage, MessageID: full, Message: formatMessage(m.text, args), MessageArgs: args,
		MessageSeverity: m.severity, Resolution: m.resolution, RelatedProperties: related}
}

func (e *apiError) messages() []message {
	out := []message{infoMessage(e.messageID, e.related, e.args...)}
	for _, m := range e.more {
		out = append(out, m.messages()...)
	}
	return out
}

func (e *apiError) body() errorBody {
	if _, ok := baseMessage(e.messageID); !ok {
		return errInternal().body()
	}
	msgs := e.messages()
	if len(msgs) > 1 {
		// Several problems: the top-level code is the general one and the
		// details are the extended info, as DSP0266 clause 9.6 shows.
		gen := infoMessage("GeneralError", nil)
		return errorBody{Error: errorContents{Code: gen.MessageID, Message: gen.Message, ExtendedInfo: msgs}}
	}
	top := msgs[0].Message
	if e.detail != "" {
		top = e.detail
		msgs[0].Resolution = e.detail + " " + msgs[0].Resolution
	}
	return errorBody{Error: errorContents{Code: msgs[0].MessageID, Message: top, ExtendedInfo: msgs}}
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

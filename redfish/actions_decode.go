package redfish

import "net/http"

// Action parameters are refused with the Base registry's ActionParameter*
// messages (DSP0266 clause 9.7.4: an action's body holds parameters, not
// properties), naming the action as "#Type.Action".

// actionBaseMessages are the Base.1.22.1 messages the actions use, verbatim.
var actionBaseMessages = map[string]registryMessage{
	"ActionParameterMissing": {severity: "Critical", args: 2,
		text:       "The action %1 requires the parameter %2 to be present in the request body.",
		resolution: "Supply the action with the required parameter in the request body when the request is resubmitted."},
	"ActionParameterUnknown": {severity: "Warning", args: 2,
		text:       "The action %1 was submitted with the invalid parameter %2.",
		resolution: "Correct the invalid action parameter and resubmit the request if the operation failed."},
	"ActionParameterValueTypeError": {severity: "Warning", args: 3,
		text:       "The value '%1' for the parameter %2 in the action %3 is not a type that the parameter can accept.",
		resolution: "Correct the value for the parameter in the request body and resubmit the request if the operation failed."},
	"ActionParameterValueFormatError": {severity: "Warning", args: 3,
		text:       "The value '%1' for the parameter %2 in the action %3 is not a format that the parameter can accept.",
		resolution: "Correct the value for the parameter in the request body and resubmit the request if the operation failed."},
	"ActionParameterValueNotInList": {severity: "Warning", args: 3,
		text:       "The value '%1' for the parameter %2 in the action %3 is not in the list of acceptable values.",
		resolution: "Choose a value from the enumeration list that the implementation can support and resubmit the request if the operation failed."},
	"ActionParameterValueOutOfRange": {severity: "Warning", args: 3,
		text:       "The value '%1' for the parameter %2 in the action %3 is not in the supported range of acceptable values.",
		resolution: "Correct the value for the parameter in the request body and resubmit the request if the operation failed."},
	"ActionParameterValueError": {severity: "Warning", args: 2,
		text:       "The value for the parameter %1 in the action %2 is invalid.",
		resolution: "Correct the value for the parameter in the request body and resubmit the request if the operation failed."},
	"ActionParameterNotSupported": {severity: "Warning", args: 2,
		text:       "The parameter %1 for the action %2 is not supported on the target resource.",
		resolution: "Remove the parameter supplied and resubmit the request if the operation failed."},
	"ActionParameterValueConflict": {severity: "Warning", args: 2,
		text:       "The parameter '%1' with the requested value of '%2' does not meet the constraints of the implementation.",
		resolution: "None."},
	"ResourceInStandby": {severity: "Critical", args: 0,
		text:       "The request could not be performed because the resource is in standby.",
		resolution: "Ensure that the resource is in the correct power state and resubmit the request."},
	"ResetRequired": {severity: "Warning", args: 2,
		text:       "In order to apply changes, recover from errors, or complete the operation, a component reset is required with the Reset action URI '%1' and ResetType '%2'.",
		resolution: "Perform the required reset action on the specified component."},
	"CouldNotEstablishConnection": {severity: "Critical", args: 1,
		text:       "The service failed to establish a connection with the URI '%1'.",
		resolution: "Ensure that the URI contains a valid and reachable node name, protocol information, and other URI components."},
	"ResourceMissingAtURI": {severity: "Critical", args: 1,
		text:       "The resource at the URI '%1' was not found.",
		resolution: "Place a valid resource at the URI or correct the URI and resubmit the request."},
	"ResourceAtUriInUnknownFormat": {severity: "Critical", args: 1,
		text:       "The resource at '%1' is in a format not recognized by the service.",
		resolution: "Place an image or resource or file that is recognized by the service at the URI."},
	"SourceDoesNotSupportProtocol": {severity: "Critical", args: 2,
		text:       "The other end of the connection at '%1' does not support the specified protocol %2.",
		resolution: "Change protocols or URIs."},
	"InsufficientStorage": {severity: "Critical", args: 0,
		text:       "Insufficient storage or memory available to complete the request.",
		resolution: "Increase the free storage space available to the service and resubmit the request."},
	"ResourceAtUriUnauthorized": {severity: "Critical", args: 2,
		text:       "While accessing the resource at '%1', the service received an authorization error '%2'.",
		resolution: "Ensure that the appropriate access is provided for the service in order for it to access the URI."},
	"PayloadTooLarge": {severity: "Critical", args: 0,
		text:       "The supplied payload exceeds the maximum size supported by the service.",
		resolution: "Check that the supplied payload is correct and supported by this service."},
}

func init() {
	for k, v := range actionBaseMessages {
		baseMessages[k] = v
	}
}

// decodeAction decodes an action's parameters into dst (as decodeBody
// does a PATCH body) and words every problem as the ActionParameter*
// message for action ("#ComputerSystem.Reset"). An empty body is no
// parameters: actions such as #Bios.ResetBios take none.
func decodeAction(body []byte, dst any, action string) (*decoded, error) {
	if len(body) == 0 {
		body = []byte("{}")
	}
	d, err := decodeBody(body, dst, nil)
	if err != nil {
		return nil, err
	}
	for i, p := range d.problems {
		param := ""
		if len(p.related) > 0 {
			param = p.related[0][2:]
		}
		val := ""
		if len(p.args) > 0 {
			val = p.args[0]
		}
		var q *apiError
		switch p.messageID {
		case "PropertyUnknown", "PropertyNotWritable":
			q = newAPIError(http.StatusBadRequest, "ActionParameterUnknown", action, param)
		case "PropertyMissing":
			q = newAPIError(http.StatusBadRequest, "ActionParameterMissing", action, param)
		case "PropertyValueTypeError":
			q = newAPIError(http.StatusBadRequest, "ActionParameterValueTypeError", val, param, action)
		case "PropertyValueNotInList":
			q = newAPIError(http.StatusBadRequest, "ActionParameterValueNotInList", val, param, action)
		case "PropertyValueOutOfRange":
			q = newAPIError(http.StatusBadRequest, "ActionParameterValueOutOfRange", val, param, action)
		default:
			q = newAPIError(http.StatusBadRequest, "ActionParameterValueFormatError", val, param, action)
		}
		q.related = p.related
		d.problems[i] = q
	}
	return d, nil
}

package redfish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/events"
)

// UpdateService.SimpleUpdate (DSP0268 UpdateService v1_17_0): the BMC
// fetches a firmware image from ImageURI (the networks it may reach are
// the virtual media's), verifies it and stages it on its component, as a
// Task a client follows through its monitor. The component activates it
// when it next starts: the system firmware at the host's next reset (the
// Task ends with Base ResetRequired and Update AwaitToActivate), the BMC's
// when the BMC restarts. Targets name the component by its firmware
// inventory entry (UpdateService/FirmwareInventory/BIOS or BMC, the
// hardware inventory's ids) or by the System or Manager it runs on.
//
// The UpdateService resource (updateservice.go) advertises the action; its
// firmware inventory is the hardware inventory's, with the BIOS and BMC
// versions these updates change.

const (
	pathSimpleUpdate = pathUpdateService + "/Actions/UpdateService.SimpleUpdate"

	updateRegistry = "Update.1.3.0"
	simpleUpdate   = "#UpdateService.SimpleUpdate"
)

// updateTargets maps the URIs a client may name to components.
var updateTargets = map[string]string{
	pathUpdateService + "/FirmwareInventory/BIOS": platform.FirmwareComponentBIOS,
	pathUpdateService + "/FirmwareInventory/BMC":  platform.FirmwareComponentBMC,
	"/redfish/v1/Systems/1":                       platform.FirmwareComponentBIOS,
	"/redfish/v1/Managers/bmc":                    platform.FirmwareComponentBMC,
}

// componentTarget is the firmware inventory URI of a component.
func componentTarget(component string) string {
	return pathUpdateService + "/FirmwareInventory/" + component
}

type firmwareStager interface {
	StageFirmware(data []byte) (platform.FirmwareImage, error)
}

type simpleUpdateAction struct {
	Target            string   `json:"target"`
	ProtocolsAllowed  []string `json:"TransferProtocol@Redfish.AllowableValues"`
	ApplyTimesAllowed []string `json:"@Redfish.OperationApplyTimeSupport,omitempty"`
}

// simpleUpdateActions is the Actions member the UpdateService resource
// carries, whoever renders it.
func (s *service) simpleUpdateActions() simpleUpdateAction {
	return simpleUpdateAction{Target: pathSimpleUpdate, ProtocolsAllowed: []string{"HTTP", "HTTPS"}}
}

type simpleUpdateBody struct {
	ImageURI         string   `json:"ImageURI" validate:"required,max=2048"`
	TransferProtocol *string  `json:"TransferProtocol,omitempty" validate:"omitempty,oneof=CIFS FTP SFTP HTTP HTTPS NSF SCP TFTP OEM NFS"`
	Targets          []string `json:"Targets,omitempty" validate:"omitempty,max=4"`
	Username         *string  `json:"Username,omitempty" validate:"omitempty,max=256"`
	Password         *string  `json:"Password,omitempty" validate:"omitempty,max=256"`
	ForceUpdate      *bool    `json:"ForceUpdate,omitempty"`
	ApplyTime        *string  `json:"@Redfish.OperationApplyTime,omitempty" validate:"omitempty,oneof=OnReset"`
}

// postSimpleUpdate checks the request, then hands the transfer to a task.
func (s *service) postSimpleUpdate(r *request) (*response, error) {
	st, ok := s.platform.(firmwareStager)
	if !ok {
		return nil, newAPIError(http.StatusBadRequest, "ActionNotSupported", simpleUpdate)
	}
	var in simpleUpdateBody
	d, err := decodeAction(r.body, &in, simpleUpdate)
	if err != nil {
		return nil, err
	}
	if len(d.problems) > 0 {
		return nil, failAll(d.problems)
	}
	if in.ForceUpdate != nil && *in.ForceUpdate {
		return nil, newAPIError(http.StatusBadRequest, "ActionParameterNotSupported", "ForceUpdate", simpleUpdate)
	}
	want := ""
	for _, t := range in.Targets {
		c, ok := updateTargets[strings.TrimSuffix(t, "/")]
		if !ok {
			return nil, newAPIError(http.StatusBadRequest, "ActionParameterValueNotInList", t, "Targets", simpleUpdate)
		}
		if want != "" && c != want {
			e := newAPIError(http.StatusBadRequest, "ActionParameterValueConflict", "Targets", strings.Join(in.Targets, ", "))
			e.detail = "One image updates one component: the targets name both the system firmware and the BMC."
			return nil, e
		}
		want = c
	}
	u, _, err := s.checkImageURL(in.ImageURI, in.TransferProtocol)
	if err != nil {
		return nil, renameImageParam(err)
	}
	user, pass := "", ""
	if in.Username != nil {
		user = *in.Username
	}
	if in.Password != nil {
		pass = *in.Password
	}
	op := &updateOp{image: in.ImageURI}
	// The Task keeps the request, without the image server's password.
	shown := in
	if shown.Password != nil {
		hidden := "********"
		shown.Password = &hidden
	}
	body, _ := json.Marshal(shown)
	t, err := s.startTask(op, 0, &taskPayload{HTTPOperation: http.MethodPost, TargetURI: pathSimpleUpdate,
		JSONBody: string(body)}, nil)
	if err != nil {
		return nil, err
	}
	op.task = t.id
	s.armTask(t.id)
	go s.runUpdate(op, st, u.String(), user, pass, want)
	return s.accepted(t)
}

// renameImageParam rewords the virtual media URL checks for SimpleUpdate.
func renameImageParam(err error) error {
	var e *apiError
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	for i, a := range c.args {
		switch a {
		case "Image":
			c.args[i] = "ImageURI"
		case insertAction:
			c.args[i] = simpleUpdate
		case "TransferProtocolType":
			c.args[i] = "TransferProtocol"
		}
	}
	return &c
}

// updateOp follows one SimpleUpdate. Its steps are the update agent's own
// (updateStep), fed to the task store as it works; no platform event
// moves it.
type updateOp struct {
	task, image string
	pct         int
}

// updateStep is the update agent reporting on one update task. It never
// reaches the event bus.
type updateStep struct {
	task    string
	pct     int
	done    bool
	failure *apiError
	msgs    []message
}

func (updateStep) Kind() string { return "UpdateStep" }

func (o *updateOp) observe(e events.Event) (int, bool, *apiError, []message) {
	st, ok := e.(updateStep)
	if !ok || st.task != o.task {
		return o.pct, false, nil, nil
	}
	o.pct = max(o.pct, st.pct)
	return o.pct, st.done, st.failure, st.msgs
}

// result: the update has no resource of its own; once the image is
// staged the monitor answers with the completed Task, the report of what
// was done (its messages say what activates it).
func (o *updateOp) result(s *service) (*response, error) {
	t, ok := s.tasks.get(o.task)
	if !ok {
		return nil, errResourceNotFound("Task", o.task)
	}
	return &response{status: http.StatusOK, body: taskResourceOf(t)}, nil
}

// step feeds one step of an update to its task.
func (s *service) step(st updateStep) {
	// A sequence number past every platform record's: the task was armed
	// before the agent started.
	for _, c := range s.tasks.observe(events.Record{Seq: math.MaxUint64, Time: s.now(), Event: st}, s.now()) {
		s.publishTaskEvent(c)
	}
}

func updateMessage(name string, args ...string) message {
	return registryMessageOf(updateRegistry+"."+name, nil, args...)
}

// runUpdate is the BMC's update agent: transfer, verify, stage.
func (s *service) runUpdate(op *updateOp, st firmwareStager, imageURL, user, pass, want string) {
	img := op.image
	target := "the BMC's update agent"
	if want != "" {
		target = componentTarget(want)
	}
	s.step(updateStep{task: op.task, pct: 10, msgs: []message{updateMessage("TransferringToComponent", img, target)}})
	u, _, err := s.checkImageURL(imageURL, nil)
	var data []byte
	if err == nil {
		data, err = s.fetchImage(context.Background(), u, user, pass)
	}
	if err != nil {
		fail := asUpdateFailure(err)
		s.step(updateStep{task: op.task, done: true, failure: fail, msgs: append([]message{updateMessage("TransferFailed", img, target)}, fail.messages()...)})
		return
	}
	s.step(updateStep{task: op.task, pct: 50, msgs: []message{updateMessage("VerifyingAtComponent", img, target)}})
	parsed, perr := platform.ParseFirmwareImage(data)
	if perr == nil && want != "" && parsed.Component != want {
		e := newAPIError(http.StatusBadRequest, "ActionParameterValueConflict", "Targets", target)
		e.detail = fmt.Sprintf("The image is %s firmware, not for %s.", parsed.Component, target)
		s.step(updateStep{task: op.task, done: true, failure: e, msgs: []message{updateMessage("UpdateNotApplicable", img, target)}})
		return
	}
	if perr == nil {
		target = componentTarget(parsed.Component)
		_, perr = st.StageFirmware(data)
	}
	switch {
	case errors.Is(perr, platform.ErrSameVersion):
		s.step(updateStep{task: op.task, done: true, msgs: []message{updateMessage("UpdateSkippedSameVersion", target, img)}})
		return
	case errors.Is(perr, platform.ErrBadImage):
		e := newAPIError(http.StatusBadRequest, "ResourceAtUriInUnknownFormat", img)
		e.detail = fmt.Sprintf("The image at %s was refused: %v.", img, strings.TrimPrefix(perr.Error(), platform.ErrBadImage.Error()+": "))
		s.step(updateStep{task: op.task, done: true, failure: e, msgs: []message{updateMessage("VerificationFailed", img, target)}})
		return
	case perr != nil:
		s.log.Error("firmware update not staged", "image", img, "err", perr)
		s.step(updateStep{task: op.task, done: true, failure: errInternal(), msgs: []message{updateMessage("ApplyFailed", img, target)}})
		return
	}
	msgs := []message{updateMessage("TargetDetermined", target, img), updateMessage("AwaitToActivate", img, target)}
	if parsed.Component == platform.FirmwareComponentBIOS {
		// The system firmware is written by the next POST.
		msgs = append(msgs, infoMessage("ResetRequired", nil, resetPath(), platform.ResetForceRestart))
	}
	s.step(updateStep{task: op.task, pct: 100, done: true, msgs: msgs})
}

// asUpdateFailure keeps an apiError as it is; anything else is internal.
func asUpdateFailure(err error) *apiError {
	var e *apiError
	if errors.As(err, &e) {
		return renameImageParam(e).(*apiError)
	}
	return errInternal()
}

// updateMessages are Update.1.3.0's messages the agent reports, verbatim
// (TestUpdateMessagesMatchRegistry).
var updateMessages = map[string]registryMessage{
	updateRegistry + ".TargetDetermined": {severity: "OK", args: 2,
		text: "The target device '%1' will be updated with image '%2'.", resolution: "None."},
	updateRegistry + ".TransferringToComponent": {severity: "OK", args: 2,
		text: "Image '%1' is being transferred to '%2'.", resolution: "None."},
	updateRegistry + ".VerifyingAtComponent": {severity: "OK", args: 2,
		text: "Image '%1' is being verified at '%2'.", resolution: "None."},
	updateRegistry + ".AwaitToActivate": {severity: "OK", args: 2,
		text: "Awaiting for an action to proceed with activating image '%1' on '%2'.", resolution: "Perform the requested action to advance the update operation."},
	updateRegistry + ".TransferFailed": {severity: "Critical", args: 2,
		text: "Transfer of image '%1' to '%2' failed.", resolution: "None."},
	updateRegistry + ".VerificationFailed": {severity: "Critical", args: 2,
		text: "Verification of image '%1' at '%2' failed.", resolution: "None."},
	updateRegistry + ".ApplyFailed": {severity: "Critical", args: 2,
		text: "Installation of image '%1' to '%2' failed.", resolution: "None."},
	updateRegistry + ".UpdateNotApplicable": {severity: "Warning", args: 2,
		text: "Image '%1' was not applicable to device '%2'.", resolution: "None."},
	updateRegistry + ".UpdateSkippedSameVersion": {severity: "OK", args: 2,
		text: "Device '%1' skipped the update with image '%2' because the same version is already installed.", resolution: "None."},
}

func init() {
	for k, v := range updateMessages {
		eventMessages[k] = v
	}
	servedRegistries = append(servedRegistries, updateRegistry)
	servedTypes = append(servedTypes, typeUpdateService)
	privilegeMap["UpdateService"] = readLogin(privConfigureComponents)
	hostMetadataRefs = append(hostMetadataRefs, struct{ file, namespaces string }{"UpdateService_v1.xml", "UpdateService UpdateService.v1_17_0"})
}

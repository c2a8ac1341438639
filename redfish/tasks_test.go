package redfish

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/conformance/schemacheck"
	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/spd"
)

const hotSlot = "CPU1_DIMM_C2"

// patchEnabled PATCHes Enabled on slot's Memory resource.
func patchEnabled(t *testing.T, h http.Handler, slot string, v bool, opts ...reqOpt) *httptest.ResponseRecorder {
	t.Helper()
	body := `{"Enabled":false}`
	if v {
		body = `{"Enabled":true}`
	}
	return do(t, h, http.MethodPatch, memoryPath(slot), append([]reqOpt{withBody(body)}, opts...)...)
}

// acceptedTask checks a 202 answer and returns the task monitor and the
// Task it carries.
func acceptedTask(t *testing.T, w *httptest.ResponseRecorder) (string, map[string]any) {
	t.Helper()
	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d, want 202; body %s", w.Code, w.Body)
	}
	loc := w.Header().Get("Location")
	if !strings.HasPrefix(loc, "/redfish/v1/TaskService/TaskMonitors/") || w.Header().Get("Retry-After") == "" {
		t.Fatalf("202 headers: %v", w.Header())
	}
	task := decode(t, w.Body.Bytes())
	if task["TaskMonitor"] != loc || task["@odata.type"] != typeTask {
		t.Fatalf("202 body: %v", task)
	}
	return loc, task
}

func taskState(t *testing.T, h http.Handler, uri string) (string, float64) {
	t.Helper()
	m := getJSON(t, h, uri)
	return m["TaskState"].(string), m["PercentComplete"].(float64)
}

func messageIDs(t *testing.T, task map[string]any) []string {
	t.Helper()
	var out []string
	for _, m := range task["Messages"].([]any) {
		out = append(out, m.(map[string]any)["MessageId"].(string))
	}
	return out
}

// A hot-added module disabled through Redfish: 202 and a task that
// follows the platform's eject step by step, Running until the slot has
// powered down (which takes simulated time, so it waits for the clock),
// then Completed with the Memory resource as the monitor's answer.
func TestMemoryEjectTask(t *testing.T) {
	v := schemacheck.NewForTest(t)
	p := newPlatform(t)
	h := newHandler(t, p)
	insert(t, p, hotSlot, 64)

	if svc := getJSON(t, h, "/redfish/v1/TaskService"); svc["ServiceEnabled"] != true || svc["CompletedTaskOverWritePolicy"] != "Oldest" ||
		svc["LifeCycleEventOnTaskStateChange"] != true || path(t, svc, "Tasks", "@odata.id") != pathTasks {
		t.Errorf("TaskService = %v", svc)
	}
	if root := getJSON(t, h, "/redfish/v1/"); path(t, root, "Tasks", "@odata.id") != pathTaskService {
		t.Errorf("service root Tasks = %v", root["Tasks"])
	}

	w := patchEnabled(t, h, hotSlot, false)
	monitor, task := acceptedTask(t, w)
	if task["TaskState"] != taskRunning || path(t, task, "Payload", "HttpOperation") != "PATCH" ||
		path(t, task, "Payload", "TargetUri") != memoryPath(hotSlot) || path(t, task, "Payload", "JsonBody") != `{"Enabled":false}` {
		t.Errorf("202 Task = %v", task)
	}
	if err := v.Validate(w.Body.Bytes(), schemacheck.URLPrefix+"Task.v1_7_4.json#/definitions/Task"); err != nil {
		t.Errorf("202 body: %v", err)
	}
	taskURI := task["@odata.id"].(string)

	// The OS offlined and removed the memory and _EJ0 ran inside the
	// request; the slot's power-down is still to come on the clock.
	waitFor(t, "the eject to reach _EJ0", func() bool {
		_, pct := taskState(t, h, taskURI)
		return pct >= 83
	})
	if st, pct := taskState(t, h, taskURI); st != taskRunning || pct != 83 {
		t.Fatalf("before the power-down: %s %v%%", st, pct)
	}
	mw := do(t, h, http.MethodGet, monitor)
	if mw.Code != http.StatusAccepted || mw.Header().Get("Location") != monitor {
		t.Fatalf("running monitor: %d %v %s", mw.Code, mw.Header(), mw.Body)
	}
	if at, err := http.ParseTime(mw.Header().Get("Retry-After")); err != nil || !at.After(time.Now()) || at.After(time.Now().Add(3*time.Second)) {
		t.Errorf("Retry-After %q: %v", mw.Header().Get("Retry-After"), err)
	}
	if m := decode(t, mw.Body.Bytes()); m["TaskState"] != taskRunning {
		t.Errorf("running monitor body = %v", m)
	}
	// Not cancellable: the OS has already given the memory up.
	checkErrorDetail(t, do(t, h, http.MethodDelete, monitor), http.StatusMethodNotAllowed, "OperationNotAllowed", "cannot be cancelled")
	// The module is out of service already (Disabled while it powers
	// down): asking again is no new operation.
	if w := patchEnabled(t, h, hotSlot, false); w.Code != http.StatusOK || decode(t, w.Body.Bytes())["Enabled"] != false {
		t.Errorf("PATCH while powering down: %d %s", w.Code, w.Body)
	}

	settle(t, p)
	waitFor(t, "the task to complete", func() bool {
		st, _ := taskState(t, h, taskURI)
		return st != taskRunning
	})
	done := getJSON(t, h, taskURI)
	if done["TaskState"] != taskCompleted || done["TaskStatus"] != "OK" || done["PercentComplete"] != 100.0 || done["EndTime"] == nil {
		t.Errorf("completed Task = %v", done)
	}
	ids := messageIDs(t, done)
	for _, want := range []string{taskEventRegistry + ".TaskStarted", oemRegistry + ".SCIRaised", oemRegistry + ".MemoryEjected",
		oemRegistry + ".SlotReadyForRemoval", taskEventRegistry + ".TaskCompletedOK"} {
		if !slices.Contains(ids, want) {
			t.Errorf("Messages lack %s: %v", want, ids)
		}
	}
	if ids[0] != taskEventRegistry+".TaskStarted" || ids[len(ids)-1] != taskEventRegistry+".TaskCompletedOK" {
		t.Errorf("Messages out of order: %v", ids)
	}
	if err := v.Validate(mustJSON(t, done), schemacheck.URLPrefix+"Task.v1_7_4.json#/definitions/Task"); err != nil {
		t.Errorf("completed Task: %v", err)
	}

	// The monitor now answers what the PATCH would have: the resource.
	mw = do(t, h, http.MethodGet, monitor)
	if mw.Code != http.StatusOK {
		t.Fatalf("completed monitor: %d %s", mw.Code, mw.Body)
	}
	mem := decode(t, mw.Body.Bytes())
	if mem["@odata.id"] != memoryPath(hotSlot) || mem["Enabled"] != false || path(t, mem, "Status", "State") != "Disabled" {
		t.Errorf("completed monitor body = %v", mem)
	}
	if sl, _ := p.Snapshot().Slot(hotSlot); sl.Power != "Isolated" || sl.State != platform.StateDisabled {
		t.Errorf("slot after the task: power %s state %s", sl.Power, sl.State)
	}
	// The lifecycle went out as events.
	waitFor(t, "TaskCompletedOK in the event log", func() bool {
		return hasMessage(members(t, getJSON(t, h, "/redfish/v1/Systems/1/LogServices/EventLog/Entries")),
			"The task with Id '"+done["Id"].(string)+"' has completed.")
	})
	// Already disabled: nothing to do, no task.
	if w := patchEnabled(t, h, hotSlot, false); w.Code != http.StatusOK {
		t.Errorf("PATCH Enabled false again: %d %s", w.Code, w.Body)
	}
	if c := getJSON(t, h, pathTasks); c["Members@odata.count"] != 1.0 {
		t.Errorf("Tasks = %v", c)
	}
	// A finished task can be deleted, and its monitor goes with it.
	if w := do(t, h, http.MethodDelete, taskURI); w.Code != http.StatusNoContent {
		t.Errorf("DELETE finished task: %d %s", w.Code, w.Body)
	}
	checkError(t, do(t, h, http.MethodGet, monitor), http.StatusNotFound, "ResourceNotFound", "TaskMonitor", done["Id"].(string))
}

// A module disabled through Redfish comes back with Enabled true: the SMC
// retries it, a full hot-add the task follows until the OS has the memory.
func TestMemoryReenableTask(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	insert(t, p, hotSlot, 64)
	_, off := acceptedTask(t, patchEnabled(t, h, hotSlot, false))
	settle(t, p)
	waitFor(t, "the eject", func() bool { st, _ := taskState(t, h, off["@odata.id"].(string)); return st == taskCompleted })

	monitor, task := acceptedTask(t, patchEnabled(t, h, hotSlot, true))
	uri := task["@odata.id"].(string)
	// SPD read, ramp and training take simulated time: nothing is done
	// until the clock moves.
	if st, pct := taskState(t, h, uri); st != taskRunning || pct >= 50 {
		t.Errorf("before the clock moved: %s %v%%", st, pct)
	}
	if w := do(t, h, http.MethodGet, monitor); w.Code != http.StatusAccepted {
		t.Errorf("running monitor: %d", w.Code)
	}
	settle(t, p)
	waitFor(t, "the hot-add task to end", func() bool { st, _ := taskState(t, h, uri); return st != taskRunning })
	done := getJSON(t, h, uri)
	if done["TaskState"] != taskCompleted || done["PercentComplete"] != 100.0 {
		t.Fatalf("hot-add task = %v", done)
	}
	for _, want := range []string{oemRegistry + ".SPDAccepted", oemRegistry + ".MemoryTrained", oemRegistry + ".MemoryHotAdded"} {
		if !slices.Contains(messageIDs(t, done), want) {
			t.Errorf("Messages lack %s", want)
		}
	}
	w := do(t, h, http.MethodGet, monitor)
	if m := decode(t, w.Body.Bytes()); w.Code != http.StatusOK || m["Enabled"] != true || path(t, m, "Status", "State") != "Enabled" {
		t.Errorf("completed monitor: %d %s", w.Code, w.Body)
	}
	if sl, _ := p.Snapshot().Slot(hotSlot); sl.State != platform.StateEnabled || sl.Memory == nil || sl.Memory.BlocksOnline != sl.Memory.Blocks {
		t.Errorf("slot after the hot-add: %+v", sl)
	}
}

// A hot-add the firmware fails (a byte lane that will not train) ends the
// task in Exception with the firmware's reason.
func TestMemoryReenableFaultException(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	insert(t, p, hotSlot, 64)
	_, off := acceptedTask(t, patchEnabled(t, h, hotSlot, false))
	settle(t, p)
	waitFor(t, "the eject", func() bool { st, _ := taskState(t, h, off["@odata.id"].(string)); return st == taskCompleted })
	if err := p.ArmFault(hotSlot, "training"); err != nil {
		t.Fatal(err)
	}
	monitor, task := acceptedTask(t, patchEnabled(t, h, hotSlot, true))
	settle(t, p)
	uri := task["@odata.id"].(string)
	waitFor(t, "the hot-add task to end", func() bool { st, _ := taskState(t, h, uri); return st != taskRunning })
	got := getJSON(t, h, uri)
	if got["TaskState"] != taskException || !slices.Contains(messageIDs(t, got), oemRegistry+".TrainingFailed") {
		t.Errorf("Task = %v", got)
	}
	checkErrorDetail(t, do(t, h, http.MethodGet, monitor), http.StatusBadRequest, "PropertyValueIncorrect", "The hot-add of memory slot "+hotSlot+" failed")
}

// Boot memory is striped across its socket's interleave set and has no
// _EJ0: the firmware refuses, and the task ends in Exception with the
// platform's reason while the module stays in service.
func TestMemoryEjectBootModuleException(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	const slot = "CPU0_DIMM_A1"
	monitor, task := acceptedTask(t, patchEnabled(t, h, slot, false))
	taskURI := task["@odata.id"].(string)
	waitFor(t, "the task to end", func() bool {
		st, _ := taskState(t, h, taskURI)
		return st != taskRunning
	})
	got := getJSON(t, h, taskURI)
	if got["TaskState"] != taskException || got["TaskStatus"] != "Critical" || got["EndTime"] == nil {
		t.Errorf("Task = %v", got)
	}
	var reason string
	for _, m := range got["Messages"].([]any) {
		if m := m.(map[string]any); m["MessageId"] == oemRegistry+".EjectFailed" {
			reason = m["Message"].(string)
		}
	}
	if !strings.Contains(reason, "has no _EJ0") {
		t.Errorf("no EjectFailed message with the reason: %v", got["Messages"])
	}
	if ids := messageIDs(t, got); ids[len(ids)-1] != taskEventRegistry+".TaskAborted" {
		t.Errorf("Messages = %v", ids)
	}
	checkErrorDetail(t, do(t, h, http.MethodGet, monitor), http.StatusBadRequest, "PropertyValueIncorrect", "has no _EJ0")
	if sl, _ := p.Snapshot().Slot(slot); sl.State != platform.StateEnabled {
		t.Errorf("boot module after the refused eject: %s", sl.State)
	}
	if m := getJSON(t, h, memoryPath(slot)); m["Enabled"] != true {
		t.Errorf("Enabled = %v", m["Enabled"])
	}
}

// Requests refused before any task exists get the Base registry errors.
func TestMemoryEnabledRefusals(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	const empty = "CPU1_DIMM_H2"
	if sl, _ := p.Snapshot().Slot(empty); sl.Module != nil {
		t.Fatalf("%s is not empty", empty)
	}
	checkError(t, do(t, h, http.MethodPatch, memoryPath("CPU0_DIMM_A1"), withBody(`{"Enabled":"no"}`)),
		http.StatusBadRequest, "PropertyValueTypeError", "no", "Enabled")
	checkError(t, do(t, h, http.MethodPatch, memoryPath("CPU0_DIMM_A1"), withBody(`{"Enabled":null}`)),
		http.StatusBadRequest, "PropertyValueTypeError", "null", "Enabled")
	checkErrorDetail(t, patchEnabled(t, h, empty, false), http.StatusBadRequest, "PropertyValueIncorrect", "is empty")
	checkError(t, do(t, h, http.MethodPatch, memoryPath("CPU0_DIMM_A1"), withBody(`{"Enabled":false}`), basic("reader", "reader-pw")),
		http.StatusForbidden, "InsufficientPrivilege")
	// Enabled true on a module in service changes nothing.
	if w := patchEnabled(t, h, "CPU0_DIMM_A1", true); w.Code != http.StatusOK || decode(t, w.Body.Bytes())["Enabled"] != true {
		t.Errorf("Enabled true: %d %s", w.Code, w.Body)
	}
	// A module still being hot-added: the SMC is busy with the slot.
	if err := p.PressAttention(empty); err != nil {
		t.Fatal(err)
	}
	settle(t, p)
	img, err := spd.Encode(p.NewModuleSpec(empty, spd.Spec{CapacityGiB: 32}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Insert(empty, img); err != nil {
		t.Fatal(err)
	}
	if sl, _ := p.Snapshot().Slot(empty); sl.State != platform.StateStarting {
		t.Fatalf("%s is %s, not starting", empty, sl.State)
	}
	checkErrorDetail(t, patchEnabled(t, h, empty, false), http.StatusConflict, "ResourceInUse", "cannot change Enabled to false now")
	if c := getJSON(t, h, pathTasks); c["Members@odata.count"] != 0.0 {
		t.Errorf("refused requests left tasks: %v", c)
	}
	checkError(t, do(t, h, http.MethodGet, pathTasks+"/9"), http.StatusNotFound, "ResourceNotFound", "Task", "9")
	// Without the platform's event stream no task could follow an eject.
	checkError(t, patchEnabled(t, newHandler(t, snapshotOnly{p}), "CPU0_DIMM_A1", false),
		http.StatusBadRequest, "PropertyNotWritable", "Enabled")
}

// checkErrorDetail asserts an error whose top-level message is the
// service's own explanation (apiError.detail), containing detail.
func checkErrorDetail(t *testing.T, w *httptest.ResponseRecorder, status int, id, detail string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	checkJSONHeaders(t, w)
	m := decode(t, w.Body.Bytes())
	if got := path(t, m, "error", "code"); got != baseRegistry+"."+id {
		t.Errorf("error.code = %v, want %s", got, id)
	}
	if msg, _ := path(t, m, "error", "message").(string); !strings.Contains(msg, detail) {
		t.Errorf("error.message %q lacks %q", msg, detail)
	}
	if path(t, m, "error", "@Message.ExtendedInfo", 0, "MessageId") != baseRegistry+"."+id {
		t.Errorf("ExtendedInfo = %v", path(t, m, "error", "@Message.ExtendedInfo"))
	}
}

// snapshotOnly hides every platform method but Snapshot.
type snapshotOnly struct{ p *platform.Platform }

func (s snapshotOnly) Snapshot() *platform.Snapshot { return s.p.Snapshot() }

// Who may start, read and delete tasks: Enabled is a Memory write
// (ConfigureComponents: Operator and Administrator); the TaskService
// entities read with Login and write with ConfigureManager, per DMTF's
// privilege registry.
func TestTaskPrivileges(t *testing.T) {
	p := newPlatform(t)
	h := newHandlerCfg(t, p, Config{Accounts: append(slices.Clone(testAccounts), Account{UserName: "op", Password: "operator-pw", Role: RoleOperator})})
	op, ro := basic("op", "operator-pw"), basic("reader", "reader-pw")
	insert(t, p, hotSlot, 64)
	checkError(t, patchEnabled(t, h, hotSlot, false, ro), http.StatusForbidden, "InsufficientPrivilege")
	_, task := acceptedTask(t, patchEnabled(t, h, hotSlot, false, op))
	_, boot := acceptedTask(t, patchEnabled(t, h, "CPU0_DIMM_A1", false))
	settle(t, p)
	for _, uri := range []string{task["@odata.id"].(string), boot["@odata.id"].(string)} {
		waitFor(t, "the tasks to end", func() bool {
			st, _ := taskState(t, h, uri)
			return st != taskRunning
		})
	}
	taskURI, monitor := task["@odata.id"].(string), task["TaskMonitor"].(string)
	for _, c := range []struct {
		method, target string
		who            reqOpt
		want           int
	}{
		{http.MethodGet, pathTaskService, ro, http.StatusOK},
		{http.MethodGet, pathTaskService, noAuth, http.StatusUnauthorized},
		{http.MethodPatch, pathTaskService, nil, http.StatusMethodNotAllowed},
		{http.MethodGet, pathTasks, ro, http.StatusOK},
		{http.MethodGet, pathTasks, noAuth, http.StatusUnauthorized},
		{http.MethodPost, pathTasks, nil, http.StatusMethodNotAllowed},
		{http.MethodGet, taskURI, ro, http.StatusOK},
		{http.MethodGet, taskURI, op, http.StatusOK},
		{http.MethodGet, taskURI, noAuth, http.StatusUnauthorized},
		{http.MethodGet, monitor, ro, http.StatusOK},
		{http.MethodGet, monitor, noAuth, http.StatusUnauthorized},
		{http.MethodDelete, taskURI, ro, http.StatusForbidden},
		{http.MethodDelete, taskURI, op, http.StatusForbidden},
		{http.MethodDelete, monitor, op, http.StatusForbidden},
		{http.MethodDelete, monitor, nil, http.StatusNoContent},
		{http.MethodGet, taskURI, nil, http.StatusNotFound},
		{http.MethodDelete, boot["@odata.id"].(string), nil, http.StatusNoContent},
	} {
		opts := []reqOpt{}
		if c.who != nil {
			opts = append(opts, c.who)
		}
		if w := do(t, h, c.method, c.target, opts...); w.Code != c.want {
			t.Errorf("%s %s: %d, want %d (%s)", c.method, c.target, w.Code, c.want, strings.TrimSpace(w.Body.String()))
		}
	}
}

// The store keeps maxTasks; a new task overwrites the oldest finished
// one, never a running one.
func TestTaskStoreOverwritesOldestFinished(t *testing.T) {
	var ts taskStore
	running := &task{state: taskRunning}
	if !ts.add(running) {
		t.Fatal("add to an empty store failed")
	}
	for range maxTasks - 1 {
		if !ts.add(&task{state: taskCompleted}) {
			t.Fatal("add failed below the bound")
		}
	}
	if !ts.add(&task{state: taskRunning}) {
		t.Fatal("add to a full store with finished tasks failed")
	}
	ids := ts.ids()
	if len(ids) != maxTasks || ids[0] != running.id || slices.Contains(ids, "2") || ids[len(ids)-1] != "101" {
		t.Errorf("after overwrite: %d tasks, first %s, last %s", len(ids), ids[0], ids[len(ids)-1])
	}
	full := taskStore{}
	for range maxTasks {
		full.add(&task{state: taskRunning})
	}
	if full.add(&task{state: taskRunning}) {
		t.Error("a store of running tasks took one more")
	}
}

// The TaskEvent messages are DMTF's, verbatim.
func TestTaskEventMessagesMatchRegistry(t *testing.T) {
	var reg struct {
		Messages map[string]struct {
			Message, MessageSeverity, Resolution string
			ParamTypes                           []string
		}
	}
	if err := json.Unmarshal(registryFile(t, taskEventRegistry+".json"), &reg); err != nil {
		t.Fatal(err)
	}
	for full, m := range taskEventMessages {
		r, ok := reg.Messages[strings.TrimPrefix(full, taskEventRegistry+".")]
		if !ok || r.Message != m.text || r.MessageSeverity != m.severity || r.Resolution != m.resolution || len(r.ParamTypes) != m.args {
			t.Errorf("%s differs from %s", full, taskEventRegistry)
		}
	}
}

// A spare copy the hardware starts on its own (a rank crossed its
// correctable-error threshold) is a task too: Running with the copy's
// progress as the platform reports it, Completed when the copy is.
func TestRASCopyTask(t *testing.T) {
	prof, err := profile.Builtin("sparing")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	p, err := platform.New(prof, platform.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, p)
	if _, err := p.RunWorkload(7, 4096); err != nil {
		t.Fatal(err)
	}
	const slot = "CPU0_DIMM_C1"
	for range 10 {
		if err := p.InjectMemoryError(slot, 0, true); err != nil {
			t.Fatal(err)
		}
	}
	job := p.Snapshot().RAS.Job
	if job == nil || job.Slot == "" {
		t.Fatalf("no copy running: %+v", p.Snapshot().RAS)
	}
	waitFor(t, "the copy's task", func() bool { return getJSON(t, h, pathTasks)["Members@odata.count"] == 1.0 })
	uri := path(t, getJSON(t, h, pathTasks), "Members", 0, "@odata.id").(string)
	task := getJSON(t, h, uri)
	if task["TaskState"] != taskRunning || task["Payload"] != nil || !strings.Contains(task["Name"].(string), job.Kind) {
		t.Errorf("copy task = %v", task)
	}
	// Step the hardware until the copy is part way, and the task follows.
	for p.Snapshot().RAS.Job != nil && p.Snapshot().RAS.Job.Percent < 30 {
		clk.Advance(10 * time.Millisecond)
	}
	j := p.Snapshot().RAS.Job
	if j == nil {
		t.Fatal("the copy finished before it could be watched part way")
	}
	t.Logf("copy at %d%%", j.Percent)
	// The task reads the copy's progress off the platform (it is at least
	// the job's) but is not done.
	if st, pct := taskState(t, h, uri); st != taskRunning || pct < float64(j.Percent) || pct == 100 {
		t.Errorf("mid-copy: task %s %v%%, copy %d%%", st, pct, j.Percent)
	}
	if w := do(t, h, http.MethodGet, task["TaskMonitor"].(string)); w.Code != http.StatusAccepted {
		t.Errorf("mid-copy monitor: %d", w.Code)
	}
	clk.RunUntilIdle(10 * time.Minute)
	waitFor(t, "the copy task to complete", func() bool {
		st, _ := taskState(t, h, uri)
		return st == taskCompleted
	})
	if _, pct := taskState(t, h, uri); pct != 100 {
		t.Errorf("completed copy at %v%%", pct)
	}
	if w := do(t, h, http.MethodGet, task["TaskMonitor"].(string)); w.Code != http.StatusOK || decode(t, w.Body.Bytes())["Id"] != job.Slot {
		t.Errorf("completed monitor: %d %s", w.Code, w.Body)
	}
	if err := schemacheck.NewForTest(t).Validate(mustJSON(t, getJSON(t, h, uri)), schemacheck.URLPrefix+"Task.v1_7_4.json#/definitions/Task"); err != nil {
		t.Error(err)
	}
}

// Task lifecycle events name the task as their origin, so an SSE (or push)
// filter on ResourceType 'Task' sees them and nothing else.
func TestTaskEventsFilterByResourceType(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	insert(t, p, hotSlot, 64)
	stream, _ := openSSE(t, srv.URL+"/redfish/v1/EventService/SSE?$filter="+urlq("ResourceType eq 'Task'"), "")
	_, task := acceptedTask(t, patchEnabled(t, h, hotSlot, false))
	ev := nextSSE(t, stream)
	id, _ := path(t, ev.data, "Events", 0, "MessageId").(string)
	if !strings.HasPrefix(id, taskEventRegistry+".") || !strings.HasSuffix(id, ".TaskStarted") ||
		path(t, ev.data, "Events", 0, "OriginOfCondition", "@odata.id") != task["@odata.id"] {
		t.Errorf("first Task event = %v", ev.data)
	}
	if es := getJSON(t, h, "/redfish/v1/EventService"); !slices.Contains(strs(es["ResourceTypes"]), "Task") {
		t.Errorf("EventService ResourceTypes = %v", es["ResourceTypes"])
	}
}

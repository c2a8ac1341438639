package redfish

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/events"
)

// TaskService (DSP0266 clause "Asynchronous operations"): an operation
// that outlives its request answers 202 Accepted with a task monitor in
// Location. GET on the monitor answers 202 (with the Task) while the
// operation runs and the operation's own final response once it ends; the
// Task resource under TaskService/Tasks tells the state, progress and
// messages meanwhile.
//
// A task's progress is never timed: each task follows the platform
// events of what it started (taskOp), fed by the event pump, so a task
// stands still exactly when the simulated hardware does.
//
// The store is volatile, like a real BMC's: tasks are lost when the
// service restarts, and only the last maxTasks are kept, the oldest
// finished one overwritten first (CompletedTaskOverWritePolicy Oldest).

const (
	pathTaskService  = "/redfish/v1/TaskService"
	pathTasks        = pathTaskService + "/Tasks"
	pathTaskMonitors = pathTaskService + "/TaskMonitors"

	typeTaskService    = "#TaskService.v1_3_0.TaskService"
	typeTaskCollection = "#TaskCollection.TaskCollection"
	typeTask           = "#Task.v1_7_4.Task"

	taskEventRegistry = "TaskEvent.1.0.5"
	taskEventPrefix   = "TaskEvent"

	// maxTasks bounds the store: bmcweb keeps 100 as well.
	maxTasks = 100
	// taskRetryAfter is how long a client should wait before reading a
	// running monitor again: the platform's slowest hot-plug step (the
	// VDD ramp) takes about a second.
	taskRetryAfter = time.Second
)

// Task states and statuses used (Task.v1_7_4 TaskState, Resource Health).
const (
	taskNew       = "New"
	taskRunning   = "Running"
	taskCompleted = "Completed"
	taskException = "Exception"
)

// taskEventMessages are TaskEvent.1.0.5's lifecycle messages, verbatim
// (TestTaskEventMessagesMatchRegistry holds them to the file).
var taskEventMessages = map[string]registryMessage{
	taskEventRegistry + ".TaskStarted": {severity: "OK", args: 1,
		text: "The task with Id '%1' has started.", resolution: "None."},
	taskEventRegistry + ".TaskCompletedOK": {severity: "OK", args: 1,
		text: "The task with Id '%1' has completed.", resolution: "None."},
	taskEventRegistry + ".TaskAborted": {severity: "Critical", args: 1,
		text: "The task with Id '%1' has completed with errors.", resolution: "None."},
	taskEventRegistry + ".TaskProgressChanged": {severity: "OK", args: 2,
		text: "The task with Id '%1' has changed to progress %2 percent complete.", resolution: "None."},
}

// The lifecycle messages are events too (LifeCycleEventOnTaskStateChange),
// so subscribers and the Event log can render them.
func init() {
	for k, v := range taskEventMessages {
		eventMessages[k] = v
	}
	eventRegistryPrefixes = append(eventRegistryPrefixes, taskEventPrefix)
	servedRegistries = append(servedRegistries, taskEventRegistry)
}

// taskOp is what a task follows: one operation on the platform, told by
// the platform events that concern it.
type taskOp interface {
	// observe takes one platform event published after the operation
	// started. It returns the progress (0-100) reached, whether the
	// operation ended, and if so the failure (nil: success). Messages
	// worth showing on the Task come back in msgs.
	observe(e events.Event) (percent int, done bool, failure *apiError, msgs []message)
	// result is the final response of a successful operation, rendered
	// when the monitor is read.
	result(s *service) (*response, error)
}

// task is one asynchronous operation.
type task struct {
	id       string
	state    string
	health   string
	percent  int
	start    time.Time
	end      time.Time
	messages []message
	// name is the Task's Name; payload the request that started it, nil
	// for an operation the hardware started.
	name    string
	payload *taskPayload
	// fromSeq: platform events with a higher Seq may concern the task.
	fromSeq uint64
	op      taskOp
	failure *apiError
	// backlog holds the records seen while New.
	backlog []events.Record
}

func (t *task) done() bool { return t.state == taskCompleted || t.state == taskException }

// taskStore keeps the tasks, oldest first.
type taskStore struct {
	mu    sync.Mutex
	next  uint64
	tasks []*task
}

// add registers a new task, overwriting the oldest finished one when the
// store is full. It fails when every kept task is still running: a
// running task is never forgotten.
func (ts *taskStore) add(t *task) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.tasks) >= maxTasks {
		i := -1
		for j, old := range ts.tasks {
			if old.done() {
				i = j
				break
			}
		}
		if i < 0 {
			return false
		}
		ts.tasks = append(ts.tasks[:i], ts.tasks[i+1:]...)
	}
	ts.next++
	t.id = strconv.FormatUint(ts.next, 10)
	ts.tasks = append(ts.tasks, t)
	return true
}

// get returns a copy of task id, so it can be rendered without the lock.
func (ts *taskStore) get(id string) (task, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, t := range ts.tasks {
		if t.id == id {
			c := *t
			c.messages = append([]message(nil), t.messages...)
			c.backlog = nil
			return c, true
		}
	}
	return task{}, false
}

func (ts *taskStore) ids() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := make([]string, len(ts.tasks))
	for i, t := range ts.tasks {
		out[i] = t.id
	}
	return out
}

// remove forgets a finished task; a running one stays (ok false).
func (ts *taskStore) remove(id string) (found, ok bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for i, t := range ts.tasks {
		if t.id == id {
			if !t.done() {
				return true, false
			}
			ts.tasks = append(ts.tasks[:i], ts.tasks[i+1:]...)
			return true, true
		}
	}
	return false, false
}

// forget drops a task whose operation never started (the platform refused
// it synchronously), as if it had not been created.
func (ts *taskStore) forget(id string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for i, t := range ts.tasks {
		if t.id == id {
			ts.tasks = append(ts.tasks[:i], ts.tasks[i+1:]...)
			return
		}
	}
}

// taskChange is a lifecycle step to publish as an event.
type taskChange struct {
	id, msg string
	args    []string
}

// maxBacklog bounds the events a New task holds; an eject publishes
// about fifteen.
const maxBacklog = 256

// observe feeds one platform record to the tasks it may concern and
// returns the lifecycle changes to publish. A New task keeps the record
// until it is armed.
func (ts *taskStore) observe(rec events.Record, now time.Time) []taskChange {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var out []taskChange
	for _, t := range ts.tasks {
		switch {
		case t.done() || rec.Seq <= t.fromSeq:
		case t.state == taskNew:
			if len(t.backlog) < maxBacklog {
				t.backlog = append(t.backlog, rec)
			}
		default:
			out = t.apply(rec, now, out)
		}
	}
	return out
}

// arm starts task id and replays its backlog, publishing each change
// before releasing the lock.
func (ts *taskStore) arm(id string, now time.Time, publish func(taskChange), msgs ...message) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, t := range ts.tasks {
		if t.id != id || t.state != taskNew {
			continue
		}
		t.state = taskRunning
		t.messages = append(append([]message{taskMessage("TaskStarted", t.id)}, t.messages...), msgs...)
		changes := []taskChange{{t.id, "TaskStarted", []string{t.id}}}
		for _, rec := range t.backlog {
			if !t.done() {
				changes = t.apply(rec, now, changes)
			}
		}
		t.backlog = nil
		for _, c := range changes {
			publish(c)
		}
	}
}

// apply advances a running task by one record.
func (t *task) apply(rec events.Record, now time.Time, out []taskChange) []taskChange {
	pct, done, failure, msgs := t.op.observe(rec.Event)
	t.messages = append(t.messages, msgs...)
	if pct > t.percent && !(done && failure == nil) {
		t.percent = pct
		out = append(out, taskChange{t.id, "TaskProgressChanged", []string{t.id, strconv.Itoa(pct)}})
	}
	if !done {
		return out
	}
	t.end = now
	if failure != nil {
		t.state, t.health, t.failure = taskException, "Critical", failure
		t.messages = append(t.messages, taskMessage("TaskAborted", t.id))
		return append(out, taskChange{t.id, "TaskAborted", []string{t.id}})
	}
	t.state, t.health, t.percent = taskCompleted, "OK", 100
	t.messages = append(t.messages, taskMessage("TaskCompletedOK", t.id))
	return append(out, taskChange{t.id, "TaskCompletedOK", []string{t.id}})
}

// observeTasks runs in the event pump: the platform record advances the
// tasks, whose lifecycle changes become events of their own.
func (s *service) observeTasks(rec events.Record) {
	s.startHardwareTasks(rec)
	for _, c := range s.tasks.observe(rec, s.now()) {
		s.publishTaskEvent(c)
	}
}

func (s *service) publishTaskEvent(c taskChange) {
	ev := s.hub.publish(s.now(), eventSpec{id: taskEventRegistry + "." + c.msg, args: c.args, origin: taskPath(c.id)})
	s.subs.dispatch(ev)
}

// taskMessage renders a TaskEvent message for a Task's Messages.
func taskMessage(name string, args ...string) message {
	return registryMessageOf(taskEventRegistry+"."+name, nil, args...)
}

// registryMessageOf renders an event registry message (any registry of
// eventMessages) as a Message.
func registryMessageOf(id string, related []string, a ...string) message {
	m, ok := eventMessages[id]
	if !ok {
		return infoMessage("InternalError", nil)
	}
	args := make([]string, m.args)
	copy(args, a)
	return message{Type: typeMessage, MessageID: id, Message: formatMessage(m.text, args), MessageArgs: args,
		MessageSeverity: m.severity, Resolution: m.resolution, RelatedProperties: related}
}

// specMessages renders the events a platform fact translates to.
func specMessages(e events.Event) []message {
	var out []message
	for _, sp := range translate(e) {
		out = append(out, registryMessageOf(sp.id, nil, sp.args...))
	}
	return out
}

func taskPath(id string) string        { return pathTasks + "/" + id }
func taskMonitorPath(id string) string { return pathTaskMonitors + "/" + id }

// startTask registers a task for op, in state New. fromSeq must be read
// before the operation is set going, so no event of it is missed; the
// caller then starts the operation and arms the task (armTask), or
// forgets it if the platform refused the operation outright.
func (s *service) startTask(op taskOp, fromSeq uint64, payload *taskPayload, msgs []message) (*task, error) {
	t := &task{state: taskNew, health: "OK", start: s.now(), fromSeq: fromSeq, op: op, payload: payload, messages: msgs,
		name: payload.HTTPOperation + " " + payload.TargetURI}
	if !s.tasks.add(t) {
		return nil, newAPIError(http.StatusServiceUnavailable, "CreateLimitReachedForResource")
	}
	return t, nil
}

// armTask moves a New task to Running: TaskStarted, then what its
// operation did meanwhile, published under the store's lock so no later
// change of the task can be published before them.
func (s *service) armTask(id string) {
	s.tasks.arm(id, s.now(), s.publishTaskEvent)
}

// accepted is the 202 answer of an operation that became task t.
func (s *service) accepted(t *task) (*response, error) {
	cur, _ := s.tasks.get(t.id)
	return &response{status: http.StatusAccepted, body: taskResourceOf(cur),
		location: taskMonitorPath(t.id), headers: map[string]string{"Retry-After": retryAfter(s.now())}}, nil
}

// retryAfter is the Retry-After of a running operation, as an HTTP-date
// (RFC 9110 clause 10.2.3 allows it beside delay-seconds). The date form
// because python3-sushy 4.3.3's TaskMonitor passes a delay-seconds value
// to time.sleep as a string and crashes; it handles dates. Rounded up to
// the next whole second so the date, which has no fractions, never lies
// in the past.
func retryAfter(now time.Time) string {
	at := now.Add(taskRetryAfter)
	if t := at.Truncate(time.Second); t.Before(at) {
		at = t.Add(time.Second)
	}
	return at.UTC().Format(http.TimeFormat)
}

// Resources.

type taskService struct {
	odata
	ID                              string `json:"Id"`
	Name                            string `json:"Name"`
	ServiceEnabled                  bool   `json:"ServiceEnabled"`
	CompletedTaskOverWritePolicy    string `json:"CompletedTaskOverWritePolicy"`
	LifeCycleEventOnTaskStateChange bool   `json:"LifeCycleEventOnTaskStateChange"`
	DateTime                        string `json:"DateTime"`
	Status                          status `json:"Status"`
	Tasks                           link   `json:"Tasks"`
}

type taskPayload struct {
	HTTPOperation string   `json:"HttpOperation"`
	TargetURI     string   `json:"TargetUri"`
	JSONBody      string   `json:"JsonBody"`
	HTTPHeaders   []string `json:"HttpHeaders"`
}

type taskResource struct {
	odata
	ID              string       `json:"Id"`
	Name            string       `json:"Name"`
	TaskState       string       `json:"TaskState"`
	TaskStatus      string       `json:"TaskStatus"`
	PercentComplete int          `json:"PercentComplete"`
	StartTime       string       `json:"StartTime"`
	EndTime         string       `json:"EndTime,omitempty"`
	TaskMonitor     string       `json:"TaskMonitor"`
	Payload         *taskPayload `json:"Payload,omitempty"`
	Messages        []message    `json:"Messages"`
}

// livePercenter is a taskOp whose progress can be read off the platform
// between its events.
type livePercenter interface {
	livePercent(*platform.Snapshot) (int, bool)
}

// current is t with the progress its operation shows right now.
func (s *service) current(t task) task {
	if lp, ok := t.op.(livePercenter); ok && !t.done() {
		if pct, ok := lp.livePercent(s.platform.Snapshot()); ok && pct > t.percent {
			t.percent = pct
		}
	}
	return t
}

func taskResourceOf(t task) taskResource {
	r := taskResource{
		odata:           odata{ID: taskPath(t.id), Type: typeTask},
		ID:              t.id,
		Name:            t.name,
		TaskState:       t.state,
		TaskStatus:      t.health,
		PercentComplete: t.percent,
		StartTime:       t.start.UTC().Format(time.RFC3339),
		TaskMonitor:     taskMonitorPath(t.id),
		Payload:         t.payload,
		Messages:        t.messages,
	}
	if r.Messages == nil {
		r.Messages = []message{}
	}
	if t.payload != nil && t.payload.HTTPHeaders == nil {
		p := *t.payload
		p.HTTPHeaders = []string{}
		r.Payload = &p
	}
	if !t.end.IsZero() {
		r.EndTime = t.end.UTC().Format(time.RFC3339)
	}
	return r
}

func (s *service) getTaskService(*request) (any, error) {
	return taskService{
		odata:                        odata{ID: pathTaskService, Type: typeTaskService},
		ID:                           "TaskService",
		Name:                         "Task Service",
		ServiceEnabled:               true,
		CompletedTaskOverWritePolicy: "Oldest",
		// Only when the service has an event pump do tasks move, and
		// then each state change is published as a TaskEvent.
		LifeCycleEventOnTaskStateChange: s.events != nil,
		DateTime:                        s.now().UTC().Format(time.RFC3339),
		Status:                          statusOK(),
		Tasks:                           link{ID: pathTasks},
	}, nil
}

func (s *service) getTasks(*request) (any, error) {
	ids := s.tasks.ids()
	members := make([]link, len(ids))
	for i, id := range ids {
		members[i] = link{ID: taskPath(id)}
	}
	return newCollection(pathTasks, typeTaskCollection, "Task Collection", members), nil
}

func (s *service) getTask(r *request) (any, error) {
	id := r.param("task")
	t, ok := s.tasks.get(id)
	if !ok {
		return nil, errResourceNotFound("Task", id)
	}
	return taskResourceOf(s.current(t)), nil
}

// serveTaskMonitor answers GET/HEAD on a task monitor: 202 with the Task
// while the operation runs, then the operation's own response.
func (s *service) serveTaskMonitor(c *gin.Context) {
	id := c.Param("task")
	t, ok := s.tasks.get(id)
	if !ok {
		s.fail(c, errResourceNotFound("TaskMonitor", id))
		return
	}
	switch t.state {
	case taskException:
		s.fail(c, t.failure)
		return
	case taskCompleted:
		out, err := t.op.result(s)
		if err != nil {
			s.fail(c, err)
			return
		}
		s.respond(c, out)
		return
	}
	c.Header("Location", taskMonitorPath(id))
	c.Header("Retry-After", retryAfter(s.now()))
	s.render(c, http.StatusAccepted, taskResourceOf(s.current(t)))
}

// deleteTask answers DELETE on a Task or its monitor. A finished task is
// forgotten. A running one cannot be cancelled: every operation a task
// follows here has handed its work to hardware and OS that will not take
// it back (an eject request the OS already acted on).
func (s *service) deleteTask(r *request) (*response, error) {
	id := r.param("task")
	found, ok := s.tasks.remove(id)
	switch {
	case !found:
		return nil, errResourceNotFound("Task", id)
	case !ok:
		e := newAPIError(http.StatusMethodNotAllowed, "OperationNotAllowed")
		e.detail = "Task " + id + " is running and cannot be cancelled: the platform has already acted on the request."
		return nil, e
	}
	return &response{status: http.StatusNoContent}, nil
}

// taskRoutes registers the TaskService. The monitor shares the Task's
// privileges: it is a view of the same operation.
func (s *service) taskRoutes(e *gin.Engine) {
	s.handle(e, pathTaskService, resource{entity: "TaskService", get: s.getTaskService})
	s.handle(e, pathTasks, resource{entity: "TaskCollection", get: s.getTasks})
	s.handle(e, pathTasks+"/:task", resource{entity: "Task", get: s.getTask, del: s.deleteTask})
	s.handle(e, pathTaskMonitors+"/:task", resource{entity: "Task", raw: s.serveTaskMonitor, del: s.deleteTask})
}

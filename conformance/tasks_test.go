package conformance

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// sushyTaskScript disables a hot-added module with PATCH, then follows the
// operation with sushy's own TaskMonitor (sushy.taskmonitor; built
// directly because Sushy.get_task_monitor loads the message registries
// sushy ships, which Debian's python3-sushy 4.3.3 lacks):
// the 202 answer's Task, the monitor's wait loop (Retry-After), the final
// response, and the Task as sushy's TaskService reads it afterwards.
const sushyTaskScript = `
import json, sys
import sushy
from sushy import auth
from sushy.taskmonitor import TaskMonitor
url, user, pw, slot = sys.argv[1:5]
s = sushy.Sushy(url, auth=auth.BasicAuth(username=user, password=pw))
conn = s._conn
r = conn.patch("/redfish/v1/Systems/1/Memory/" + slot, data={"Enabled": False})
accepted = r.json()
mon = TaskMonitor(conn, r.headers["Location"])
first = {"processing": mon.is_processing,
         "state": str(mon.task.task_state) if mon.task else None,
         "percent": mon.task.percent_complete if mon.task else None}
mon.wait(60)
final = mon.response
tasks = s.get_task_service().tasks.get_members()
t = [m for m in tasks if m.identity == accepted["Id"]][0]
print(json.dumps({
    "status": r.status_code,
    "first": first,
    "location": r.headers["Location"],
    "accepted_state": accepted["TaskState"],
    "final_status": final.status_code,
    "final_enabled": final.json().get("Enabled"),
    "final_state": final.json()["Status"]["State"],
    "task_state": str(t.task_state),
    "percent": t.percent_complete,
    "task_monitor": t.task_monitor,
    "messages": [m.message_id for m in t.messages],
}))
`

// The real python3-sushy drives a hot-remove through the TaskService of
// the running binary: the module goes out of service and its task ends
// Completed at 100%.
func TestTaskMonitorSushy(t *testing.T) {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import sushy.taskmonitor").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-sushy not importable by %s: %v", py, err)
		}
		t.Skipf("python3-sushy not importable by %s (Debian package python3-sushy): %v", py, err)
	}
	// Real time: the slot's power-down (200 ms) outlasts the PATCH, so
	// sushy finds the task running and goes round its wait loop.
	e := start(t, startOpts{args: []string{"--speed", "1"}})
	const slot = "CPU0_DIMM_A2"
	if out, err := e.ctl("attention", slot); err != nil {
		t.Fatalf("ctl attention: %v\n%s", err, out)
	}
	e.waitSlot(slot, "Isolated")
	if out, err := e.ctl("insert", slot, "--capacity-gib", "64", "--wait"); err != nil || !strings.Contains(out, slot+": enabled") {
		t.Fatalf("ctl insert --wait: %v\n%s", err, out)
	}

	out, err := run(t, 2*time.Minute, py, "-c", sushyTaskScript, e.URL, e.User, e.Password, slot)
	if err != nil {
		t.Fatalf("sushy: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var got struct {
		Status int `json:"status"`
		First  struct {
			Processing bool   `json:"processing"`
			State      string `json:"state"`
			Percent    int    `json:"percent"`
		} `json:"first"`
		Location      string   `json:"location"`
		AcceptedState string   `json:"accepted_state"`
		FinalStatus   int      `json:"final_status"`
		FinalEnabled  *bool    `json:"final_enabled"`
		FinalState    string   `json:"final_state"`
		TaskState     string   `json:"task_state"`
		Percent       int      `json:"percent"`
		TaskMonitor   string   `json:"task_monitor"`
		Messages      []string `json:"messages"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("sushy output: %v\n%s", err, out)
	}
	if got.Status != 202 || !strings.HasPrefix(got.Location, "/redfish/v1/TaskService/TaskMonitors/") || got.AcceptedState != "Running" {
		t.Errorf("PATCH answer as sushy saw it: %+v", got)
	}
	t.Logf("sushy's first look at the monitor: %+v", got.First)
	// The power-down is left, so the monitor still answers 202 with the
	// Task. How far the eject's OS and _EJ0 steps have got by then depends
	// on the machine's load, not on the service: only "running, not done"
	// is asserted.
	if !got.First.Processing || !strings.Contains(strings.ToLower(got.First.State), "running") || got.First.Percent == 100 {
		t.Errorf("monitor while the slot powers down, as sushy saw it: %+v", got.First)
	}
	if got.FinalStatus != 200 || got.FinalEnabled == nil || *got.FinalEnabled || got.FinalState != "Disabled" {
		t.Errorf("monitor's final response: %+v", got)
	}
	if !strings.Contains(strings.ToLower(got.TaskState), "completed") || got.Percent != 100 || got.TaskMonitor != got.Location {
		t.Errorf("Task as sushy read it: %+v", got)
	}
	if len(got.Messages) == 0 || got.Messages[len(got.Messages)-1] != "TaskEvent.1.0.5.TaskCompletedOK" {
		t.Errorf("Task messages: %v", got.Messages)
	}
	// The hardware agrees: the slot is isolated, ready for the module to
	// be pulled.
	e.waitSlot(slot, "Isolated")
}

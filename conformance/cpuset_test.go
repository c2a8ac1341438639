package conformance

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestCpusetsThroughCtl drives seed item 19 with bmcemu ctl: a cpuset on
// node 1, a workload in it whose memory lands only on node 1, one that
// does not fit refused with the cpuset named, the per-node load, and the
// cpuset's lifecycle (busy while a task runs).
func TestCpusetsThroughCtl(t *testing.T) {
	e := start(t, startOpts{args: []string{"--speed", "1000"}})
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := e.ctl("cpusets")
		if err == nil && strings.Contains(out, "EFFECTIVE MEMS") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ctl cpusets never answered: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, err := e.ctl("cpusets", "create", "db", "--cpus", "64-71", "--mems", "1"); err != nil || !strings.Contains(out, "64-71") {
		t.Fatalf("create: %v\n%s", err, out)
	}
	e.refusedCtl(t, "node 5 has no memory", "cpusets", "create", "bad", "--cpus", "0", "--mems", "5")
	if out, err := e.ctl("tasks", "run", "postgres", "--cpuset", "db", "--mib", "2048"); err != nil || !strings.Contains(out, "N1=2048MiB") {
		t.Fatalf("run: %v\n%s", err, out)
	}
	e.refusedCtl(t, "cpuset=db,mems_allowed=1", "tasks", "run", "huge", "--cpuset", "db", "--mib", "400000")

	out, err := e.ctl("tasks", "-o", "json")
	if err != nil {
		t.Fatalf("tasks: %v\n%s", err, out)
	}
	var tasks []struct {
		PID         int               `json:"pid"`
		Node        int               `json:"node"`
		PagesByNode map[string]uint64 `json:"pages_by_node"`
	}
	if err := json.Unmarshal([]byte(out), &tasks); err != nil || len(tasks) != 1 || tasks[0].Node != 1 ||
		len(tasks[0].PagesByNode) != 1 || tasks[0].PagesByNode["1"] != 2048*256 {
		t.Fatalf("tasks %+v (%v)\n%s", tasks, err, out)
	}
	if out, err := e.ctl("tasks"); err != nil || !strings.Contains(out, "NR_RUNNING") || !strings.Contains(out, "64-127  1") {
		t.Errorf("per-node load: %v\n%s", err, out)
	}
	e.refusedCtl(t, "has tasks", "cpusets", "delete", "db")
	if out, err := e.ctl("cpusets", "set", "db", "--mems", "0-1"); err != nil || !strings.Contains(out, "0-1") {
		t.Fatalf("set: %v\n%s", err, out)
	}
	if _, err := e.ctl("tasks", "kill", "1"); err != nil {
		t.Fatal(err)
	}
	if out, err := e.ctl("cpusets", "delete", "db"); err != nil || !strings.Contains(out, "removed") {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if out, _ := e.ctl("cpusets"); strings.Contains(out, "db") {
		t.Errorf("db still listed:\n%s", out)
	}
}

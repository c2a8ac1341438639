package control

import (
	"context"
	"errors"
	"testing"
)

func TestCpusetRoutes(t *testing.T) {
	_, _, c := newAPI(t)
	ctx := context.Background()
	var ae *APIError

	cs, err := c.CreateCpuset(ctx, CpusetRequest{Name: "db", CPUs: "64-71", Mems: "1"})
	if err != nil || cs.EffectiveMems != "1" || cs.CPUs != "64-71" {
		t.Fatalf("create: %+v %v", cs, err)
	}
	if _, err := c.CreateCpuset(ctx, CpusetRequest{Name: "bad", CPUs: "0", Mems: "7"}); !errors.As(err, &ae) || ae.Status != 400 {
		t.Fatalf("mems on a node without memory: %v", err)
	}
	task, err := c.RunTask(ctx, TaskRequest{Comm: "postgres", Cpuset: "db", MiB: 1024})
	if err != nil || task.Node != 1 || task.PagesByNode[1] != 1024*256 || len(task.PagesByNode) != 1 {
		t.Fatalf("task: %+v %v", task, err)
	}
	if _, err := c.RunTask(ctx, TaskRequest{Comm: "huge", Cpuset: "db", MiB: 1 << 20}); !errors.As(err, &ae) || ae.Status != 507 {
		t.Fatalf("task beyond node 1: %v", err)
	}
	if tasks, _ := c.Tasks(ctx); len(tasks) != 1 {
		t.Fatalf("the refused task stayed: %+v", tasks)
	}
	if err := c.DeleteCpuset(ctx, "db"); !errors.As(err, &ae) || ae.Status != 409 {
		t.Fatalf("delete with a task: %v", err)
	}
	if cs, err := c.UpdateCpuset(ctx, "db", CpusetUpdate{Mems: ptr("0-1")}); err != nil || cs.Mems != "0-1" || cs.CPUs != "64-71" {
		t.Fatalf("update: %+v %v", cs, err)
	}
	if err := c.KillTask(ctx, task.PID); err != nil {
		t.Fatal(err)
	}
	if err := c.KillTask(ctx, task.PID); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("kill twice: %v", err)
	}
	if err := c.DeleteCpuset(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	if sets, err := c.Cpusets(ctx); err != nil || len(sets) != 1 || sets[0].EffectiveMems != "0-1" || sets[0].EffectiveCPUs != "0-127" {
		t.Fatalf("after delete: %+v %v", sets, err)
	}
}

func ptr[T any](v T) *T { return &v }

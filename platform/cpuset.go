package platform

import (
	"fmt"

	"github.com/bmcemu/bmcemu/platform/kernel"
)

// Cpusets and simulated tasks of the in-band OS (seed item 19): the
// operator's mkdir/echo under /sys/fs/cgroup and a workload started in a
// cpuset. The kernel layer does the work; these wrap its errors as
// ErrKernel and refuse while the OS does not run.

// Cpusets lists the OS's cpusets, the root first.
func (p *Platform) Cpusets() []kernel.Cpuset { return p.l().kern.Cpusets() }

// Tasks lists the simulated tasks.
func (p *Platform) Tasks() []kernel.Task { return p.l().kern.Tasks() }

func (p *Platform) osCall(op string, f func(k *kernel.Kernel) error) error {
	if err := p.needOS(op); err != nil {
		return err
	}
	defer p.hold()()
	if err := f(p.l().kern); err != nil {
		return fmt.Errorf("%w: %w", ErrKernel, err)
	}
	return nil
}

// CreateCpuset makes a cpuset with the given cpus and mems (list format).
func (p *Platform) CreateCpuset(name, cpus, mems string, hardwall bool) error {
	return p.osCall("create cpuset", func(k *kernel.Kernel) error { return k.CreateCpuset(name, cpus, mems, hardwall) })
}

// UpdateCpuset rewrites a cpuset's cpus and/or mems (nil: unchanged).
func (p *Platform) UpdateCpuset(name string, cpus, mems *string) error {
	return p.osCall("update cpuset", func(k *kernel.Kernel) error { return k.UpdateCpuset(name, cpus, mems) })
}

// DeleteCpuset removes an empty cpuset.
func (p *Platform) DeleteCpuset(name string) error {
	return p.osCall("delete cpuset", func(k *kernel.Kernel) error { return k.DeleteCpuset(name) })
}

// RunTask starts a task in a cpuset ("" is the root) holding mib MiB of
// user (movable) or kernel pages; 0 allocates nothing. An allocation
// that does not fit ends the task and changes nothing.
func (p *Platform) RunTask(comm, cpuset string, mib uint64, kernelPages bool) (kernel.Task, error) {
	var pid int
	err := p.osCall("run task", func(k *kernel.Kernel) error {
		var err error
		if pid, err = k.Spawn(comm, cpuset); err != nil {
			return err
		}
		if mib > 0 {
			if err := k.TaskAllocMiB(pid, mib, !kernelPages); err != nil {
				_ = k.Exit(pid)
				return err
			}
		}
		return nil
	})
	if err != nil {
		return kernel.Task{}, err
	}
	for _, t := range p.l().kern.Tasks() {
		if t.PID == pid {
			return t, nil
		}
	}
	return kernel.Task{}, fmt.Errorf("%w: task %d vanished", ErrKernel, pid)
}

// KillTask ends a task, freeing its pages.
func (p *Platform) KillTask(pid int) error {
	return p.osCall("kill task", func(k *kernel.Kernel) error { return k.Exit(pid) })
}

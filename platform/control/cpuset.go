package control

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/kernel"
)

// Cpusets and simulated tasks of the in-band OS (seed item 19):
//
//	GET    /emulator/v1/os/cpusets            cpusets (cpus, mems, effective masks, tasks)
//	POST   /emulator/v1/os/cpusets            make one (body: CpusetRequest)
//	PATCH  /emulator/v1/os/cpusets/{name}     rewrite cpus and/or mems (body: CpusetUpdate)
//	DELETE /emulator/v1/os/cpusets/{name}     remove an empty one
//	GET    /emulator/v1/os/tasks              simulated tasks: CPU, node, pages per node
//	POST   /emulator/v1/os/tasks              start one in a cpuset with memory (body: TaskRequest)
//	DELETE /emulator/v1/os/tasks/{pid}        end it, freeing its pages

var _ Cpusets = (*platform.Platform)(nil)

// Cpusets is what the cpuset routes need of the platform.
type Cpusets interface {
	Cpusets() []kernel.Cpuset
	CreateCpuset(name, cpus, mems string, hardwall bool) error
	UpdateCpuset(name string, cpus, mems *string) error
	DeleteCpuset(name string) error
	Tasks() []kernel.Task
	RunTask(comm, cpuset string, mib uint64, kernelPages bool) (kernel.Task, error)
	KillTask(pid int) error
}

// CpusetRequest makes a cpuset: cpus and mems in list format ("0-3,8").
type CpusetRequest struct {
	Name        string `json:"name" validate:"required"`
	CPUs        string `json:"cpus" validate:"required"`
	Mems        string `json:"mems" validate:"required"`
	MemHardwall bool   `json:"mem_hardwall"`
}

// CpusetUpdate rewrites a cpuset's masks; an absent one stays.
type CpusetUpdate struct {
	CPUs *string `json:"cpus"`
	Mems *string `json:"mems"`
}

// TaskRequest starts a simulated task holding MiB of memory (a multiple
// of 4), user pages unless KernelPages.
type TaskRequest struct {
	Comm        string `json:"comm" validate:"required"`
	Cpuset      string `json:"cpuset"`
	MiB         uint64 `json:"mib"`
	KernelPages bool   `json:"kernel_pages"`
}

func (s *server) cpusetRoutes(g *gin.RouterGroup, cs Cpusets) {
	g.GET("/os/cpusets", func(c *gin.Context) { c.JSON(http.StatusOK, cs.Cpusets()) })
	g.POST("/os/cpusets", func(c *gin.Context) {
		var req CpusetRequest
		if !s.decodeBody(c, &req) {
			return
		}
		if err := cs.CreateCpuset(req.Name, req.CPUs, req.Mems, req.MemHardwall); err != nil {
			s.osError(c, err)
			return
		}
		s.cpusetAfter(c, cs, req.Name, http.StatusCreated)
	})
	g.PATCH("/os/cpusets/:name", func(c *gin.Context) {
		var req CpusetUpdate
		if !s.decodeBody(c, &req) {
			return
		}
		name := c.Param("name")
		if err := cs.UpdateCpuset(name, req.CPUs, req.Mems); err != nil {
			s.osError(c, err)
			return
		}
		s.cpusetAfter(c, cs, name, http.StatusOK)
	})
	g.DELETE("/os/cpusets/:name", func(c *gin.Context) {
		if err := cs.DeleteCpuset(c.Param("name")); err != nil {
			s.osError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
	g.GET("/os/tasks", func(c *gin.Context) { c.JSON(http.StatusOK, cs.Tasks()) })
	g.POST("/os/tasks", func(c *gin.Context) {
		var req TaskRequest
		if !s.decodeBody(c, &req) {
			return
		}
		t, err := cs.RunTask(req.Comm, req.Cpuset, req.MiB, req.KernelPages)
		if err != nil {
			s.osError(c, err)
			return
		}
		c.JSON(http.StatusCreated, t)
	})
	g.DELETE("/os/tasks/:pid", func(c *gin.Context) {
		pid, err := strconv.Atoi(c.Param("pid"))
		if err != nil || pid <= 0 {
			s.fail(c, http.StatusBadRequest, "InvalidValue", "pid must be a positive integer")
			return
		}
		if err := cs.KillTask(pid); err != nil {
			s.osError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
}

func (s *server) cpusetAfter(c *gin.Context, cs Cpusets, name string, status int) {
	for _, v := range cs.Cpusets() {
		if v.Name == name {
			c.JSON(status, v)
			return
		}
	}
	s.fail(c, http.StatusNotFound, "NotFound", "no cpuset "+name)
}

// osError maps the kernel's refusals of cpuset and task requests: a
// missing cpuset or task is 404, an allocation that does not fit 507,
// the rest as platformError does.
func (s *server) osError(c *gin.Context, err error) {
	var ke *kernel.Error
	if errors.As(err, &ke) {
		switch ke.Errno {
		case kernel.ENOENT:
			s.fail(c, http.StatusNotFound, "NotFound", err.Error())
			return
		case kernel.ENOMEM:
			s.fail(c, http.StatusInsufficientStorage, "KernelENOMEM", err.Error())
			return
		case kernel.EINVAL:
			s.fail(c, http.StatusBadRequest, "KernelEINVAL", err.Error())
			return
		}
	}
	s.platformError(c, err)
}

// Cpusets lists the OS's cpusets.
func (c *Client) Cpusets(ctx context.Context) ([]kernel.Cpuset, error) {
	var out []kernel.Cpuset
	err := c.do(ctx, http.MethodGet, "/os/cpusets", nil, &out)
	return out, err
}

// CreateCpuset makes a cpuset.
func (c *Client) CreateCpuset(ctx context.Context, req CpusetRequest) (kernel.Cpuset, error) {
	var out kernel.Cpuset
	err := c.do(ctx, http.MethodPost, "/os/cpusets", req, &out)
	return out, err
}

// UpdateCpuset rewrites a cpuset's masks.
func (c *Client) UpdateCpuset(ctx context.Context, name string, req CpusetUpdate) (kernel.Cpuset, error) {
	var out kernel.Cpuset
	err := c.do(ctx, http.MethodPatch, "/os/cpusets/"+url.PathEscape(name), req, &out)
	return out, err
}

// DeleteCpuset removes a cpuset.
func (c *Client) DeleteCpuset(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/os/cpusets/"+url.PathEscape(name), nil, nil)
}

// Tasks lists the simulated tasks.
func (c *Client) Tasks(ctx context.Context) ([]kernel.Task, error) {
	var out []kernel.Task
	err := c.do(ctx, http.MethodGet, "/os/tasks", nil, &out)
	return out, err
}

// RunTask starts a simulated task.
func (c *Client) RunTask(ctx context.Context, req TaskRequest) (kernel.Task, error) {
	var out kernel.Task
	err := c.do(ctx, http.MethodPost, "/os/tasks", req, &out)
	return out, err
}

// KillTask ends a task.
func (c *Client) KillTask(ctx context.Context, pid int) error {
	return c.do(ctx, http.MethodDelete, "/os/tasks/"+strconv.Itoa(pid), nil, nil)
}

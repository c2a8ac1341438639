package scenario

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bmcemu/bmcemu/platform/control"
)

// CXL is one physical or device action on a CXL slot (cxl), exactly one
// of insert, attention, pull and dma_access, the `bmcemu ctl cxl`
// commands as a step. Refused names the control API error code the step
// expects instead of success (NoMemoryWindow, DeviceNotRecognized,
// MemoryBusy, IOMMUFault, SlotState...): a refusal a scenario sets out to
// provoke is a passing step, any other outcome fails it.
//
//   - cxl: {insert: CXL1, capacity: 256G}
//   - cxl: {attention: CXL1}
//   - cxl: {attention: CXL2, refused: NoMemoryWindow}
//   - cxl: {dma_access: CXL1, iova: 0x1000, write: true, refused: IOMMUFault}
//   - cxl: {pull: CXL1}
type CXL struct {
	Insert    string `yaml:"insert" validate:"max=32"`
	Attention string `yaml:"attention" validate:"max=32"`
	Pull      string `yaml:"pull" validate:"max=32"`
	DMAAccess string `yaml:"dma_access" validate:"max=32"`
	// For insert: the card (sizes as QEMU takes them, 256G).
	Capacity string `yaml:"capacity" validate:"max=32"`
	Trusted  bool   `yaml:"trusted"`
	Online   string `yaml:"online" validate:"omitempty,oneof=online online_kernel online_movable"`
	// For dma_access: what the device reaches for.
	IOVA  uint64 `yaml:"iova"`
	Size  uint64 `yaml:"size" validate:"max=1048576"`
	Write bool   `yaml:"write"`
	// Refused is the error code the step expects.
	Refused string `yaml:"refused" validate:"max=64"`
}

func (c *CXL) validate() error {
	n := 0
	for _, s := range []string{c.Insert, c.Attention, c.Pull, c.DMAAccess} {
		if s != "" {
			n++
		}
	}
	switch {
	case n != 1:
		return &fieldError{".cxl", "give exactly one of insert, attention, pull and dma_access (a slot name)"}
	case c.Insert != "" && c.Capacity == "":
		return &fieldError{".cxl.capacity", "is required with insert (e.g. 256G)"}
	case c.Insert == "" && (c.Capacity != "" || c.Trusted || c.Online != ""):
		return &fieldError{".cxl", "capacity, trusted and online go with insert"}
	case c.DMAAccess == "" && (c.IOVA != 0 || c.Size != 0 || c.Write):
		return &fieldError{".cxl", "iova, size and write go with dma_access"}
	}
	return nil
}

type cxlAction CXL

func (a *cxlAction) Describe() string {
	var s string
	switch {
	case a.Insert != "":
		s = fmt.Sprintf("seat a %s CXL expander in %s", a.Capacity, a.Insert)
	case a.Attention != "":
		s = "press the attention button of " + a.Attention
	case a.Pull != "":
		s = "pull the card from " + a.Pull
	default:
		s = fmt.Sprintf("%s's device %s %#x", a.DMAAccess, map[bool]string{false: "reads", true: "writes"}[a.Write], a.IOVA)
	}
	if a.Refused != "" {
		s += " (expect " + a.Refused + ")"
	}
	return s
}

func (a *cxlAction) Run(ctx context.Context, env *Env) error {
	var err error
	switch {
	case a.Insert != "":
		_, err = env.Control.CXLInsert(ctx, a.Insert, control.CXLInsertRequest{Capacity: a.Capacity, Trusted: a.Trusted, Online: a.Online})
	case a.Attention != "":
		_, err = env.Control.CXLAttention(ctx, a.Attention)
	case a.Pull != "":
		_, err = env.Control.CXLPull(ctx, a.Pull)
	default:
		size := a.Size
		if size == 0 {
			size = 64
		}
		err = env.Control.CXLDMAAccess(ctx, a.DMAAccess, control.CXLAccessRequest{IOVA: a.IOVA, Size: size, Write: a.Write})
	}
	if a.Refused == "" {
		return err
	}
	var api *control.APIError
	switch {
	case err == nil:
		return fmt.Errorf("expected the request refused with %s; it succeeded", a.Refused)
	case errors.As(err, &api) && strings.EqualFold(api.Code, a.Refused):
		return nil
	default:
		return fmt.Errorf("expected the request refused with %s; got: %w", a.Refused, err)
	}
}

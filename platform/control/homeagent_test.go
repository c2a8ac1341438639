package control

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestHomeAgentRoutes(t *testing.T) {
	_, _, c := newAPI(t)
	ctx := context.Background()
	var ae *APIError

	v, err := c.HomeAgents(ctx, 0)
	if err != nil || len(v.Agents) != 2 || len(v.Agents[1].Directory) == 0 || !strings.Contains(v.Text, "snoop filter directory") {
		t.Fatalf("home agents: %+v %v", v, err)
	}
	last := v.Trace[len(v.Trace)-1].Seq
	// The top of socket 1's reservation: homed, not registered.
	sp := v.Agents[1].Space
	top := sp[len(sp)-1].End() - 1
	got, err := c.AccessLine(ctx, fmt.Sprintf("%#x", top))
	if err != nil || got.Response != "clean-fill" || got.Socket != 1 {
		t.Fatalf("access to the reservation: %+v %v", got, err)
	}
	if got, err := c.AccessLine(ctx, "0x100000"); err != nil || got.Response != "memory-read" || got.Slot == "" {
		t.Fatalf("access to boot memory: %+v %v", got, err)
	}
	v, err = c.HomeAgents(ctx, last)
	if err != nil || len(v.Trace) != 1 || v.Trace[0].Event != "clean_fill" || v.Agents[1].CleanFills != 1 {
		t.Fatalf("after the accesses: %+v %v", v, err)
	}
	if _, err := c.AccessLine(ctx, "0xc0000000"); !errors.As(err, &ae) || ae.Status != 422 {
		t.Fatalf("MMIO access: %v", err)
	}
	if _, err := c.AccessLine(ctx, "lots"); !errors.As(err, &ae) || ae.Status != 400 {
		t.Fatalf("bad address: %v", err)
	}
}

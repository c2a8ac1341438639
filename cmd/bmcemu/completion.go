package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/cxl"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/spf13/cobra"
)

// Shell completion: cobra's own `bmcemu completion bash|zsh|fish|powershell`
// writes the script; the functions here complete what only the running
// server knows (its slot names and what is in them, its fault kinds, a
// fleet's member ids), so that `bmcemu ctl insert <TAB>` offers the empty
// slots. Each asks the server named by --server (and --server-id) with a
// short timeout and offers nothing when it does not answer, as completion
// must never hang a shell.

const completionTimeout = 2 * time.Second

type slotFilter func(control.Slot) bool

func anySlot(control.Slot) bool     { return true }
func emptySlot(s control.Slot) bool { return s.Module == nil }
func fullSlot(s control.Slot) bool  { return s.Module != nil }

// slotCompletion completes the slot argument at position pos (0-based) with
// the server's slots that pass keep, each described by its state.
func (o *ctlOptions) slotCompletion(pos int, keep slotFilter) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) != pos {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
		defer cancel()
		slots, err := o.client().Slots(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		for _, s := range slots {
			if !keep(s) {
				continue
			}
			desc := s.Status
			if s.Module != nil {
				desc = fmt.Sprintf("%s, %d GiB %s", s.Status, s.Module.CapacityMiB/1024, s.Module.Type)
			}
			out = append(out, cobra.CompletionWithDesc(s.Name, desc))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

type cxlSlotFilter func(cxl.SlotStatus) bool

func cxlEmpty(s cxl.SlotStatus) bool   { return s.State == cxl.StateEmpty }
func cxlSeated(s cxl.SlotStatus) bool  { return s.State != cxl.StateEmpty }
func cxlEnabled(s cxl.SlotStatus) bool { return s.State == cxl.StateEnabled }

// cxlSlotCompletion completes a `ctl cxl` command's SLOT with the server's
// CXL slots that pass keep, each described by its state and card.
func (o *ctlOptions) cxlSlotCompletion(keep cxlSlotFilter) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) != 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
		defer cancel()
		st, err := o.client().CXL(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		for _, s := range st.Slots {
			if !keep(s) {
				continue
			}
			desc := s.State
			if d := s.Device; d != nil {
				desc = fmt.Sprintf("%s, %s expander", s.State, gib(d.Spec.Capacity))
			}
			out = append(out, cobra.CompletionWithDesc(s.Slot, desc))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// faultCompletion completes `ctl fault SLOT KIND`: slots first, then the
// server's fault kinds.
func (o *ctlOptions) faultCompletion() cobra.CompletionFunc {
	slots := o.slotCompletion(0, anySlot)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) != 1 {
			return slots(cmd, args, toComplete)
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
		defer cancel()
		kinds, err := o.client().FaultKinds(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		out := make([]cobra.Completion, 0, len(kinds))
		for _, k := range kinds {
			out = append(out, cobra.CompletionWithDesc(k.Name, k.Description))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// memberCompletion completes a fleet member id (for --server-id and
// `ctl servers remove`), asking the fleet's control listener.
func (o *ctlOptions) memberCompletion(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if cmd.Name() == "remove" && len(args) != 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
	defer cancel()
	members, err := o.client().Servers(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	out := make([]cobra.Completion, 0, len(members))
	for _, m := range members {
		out = append(out, cobra.CompletionWithDesc(m.ID, m.Profile+" "+m.Address))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// builtinProfiles completes a built-in profile name (files complete too,
// since --profile also takes a YAML file).
func builtinProfiles(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return profile.BuiltinNames(), cobra.ShellCompDirectiveDefault
}

// addCtlCompletions attaches the server-backed completions to ctl's
// subcommands, found by their command path under ctl.
func addCtlCompletions(ctl *cobra.Command, o *ctlOptions) {
	set := func(path string, fn cobra.CompletionFunc) {
		c, _, err := ctl.Find(strings.Fields(path))
		if err != nil || c == ctl {
			panic("completion for missing command ctl " + path) // a renamed command: caught by TestCompletionTargets
		}
		c.ValidArgsFunction = fn
	}
	set("slots", o.slotCompletion(0, anySlot))
	set("insert", o.slotCompletion(0, emptySlot))
	set("remove", o.slotCompletion(0, fullSlot))
	set("attention", o.slotCompletion(0, anySlot))
	set("fault", o.faultCompletion())
	set("ras inject", o.slotCompletion(0, fullSlot))
	set("ras storm", o.slotCompletion(0, fullSlot))
	set("ras fail", o.slotCompletion(0, fullSlot))
	set("servers remove", o.memberCompletion)
	set("cxl insert", o.cxlSlotCompletion(cxlEmpty))
	set("cxl attention", o.cxlSlotCompletion(cxlSeated))
	set("cxl pull", o.cxlSlotCompletion(cxlSeated))
	set("cxl cdat", o.cxlSlotCompletion(cxlSeated))
	set("cxl dma transfer", o.cxlSlotCompletion(cxlEnabled))
	set("cxl dma access", o.cxlSlotCompletion(cxlEnabled))
	latchSlots := o.slotCompletion(1, anySlot)
	set("latch", func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return []cobra.Completion{"open", "close"}, cobra.ShellCompDirectiveNoFileComp
		}
		return latchSlots(cmd, args, toComplete)
	})
	_ = ctl.RegisterFlagCompletionFunc("server-id", o.memberCompletion)
	_ = ctl.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]cobra.Completion{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
}

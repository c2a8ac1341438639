package main

import (
	"bytes"
	"testing"

	"github.com/spf13/cobra"
)

// TestCompletionTargets builds the command tree (addCtlCompletions panics
// on a renamed command) and checks that every ctl command taking a SLOT
// completes it from the server.
func TestCompletionTargets(t *testing.T) {
	root := newRootCmd()
	for _, path := range [][]string{{"ctl", "insert"}, {"ctl", "remove"}, {"ctl", "attention"}, {"ctl", "slots"}, {"ctl", "latch"},
		{"ctl", "fault"}, {"ctl", "ras", "inject"}, {"ctl", "ras", "storm"}, {"ctl", "ras", "fail"}, {"ctl", "servers", "remove"}, {"profile", "show"},
		{"ctl", "cxl", "insert"}, {"ctl", "cxl", "attention"}, {"ctl", "cxl", "pull"}, {"ctl", "cxl", "cdat"},
		{"ctl", "cxl", "dma", "transfer"}, {"ctl", "cxl", "dma", "access"}} {
		c, _, err := root.Find(path)
		if err != nil || c.ValidArgsFunction == nil {
			t.Errorf("%v: no argument completion (%v)", path, err)
		}
	}
}

// TestProgressOnlyOnTerminal: a bar is never drawn into a buffer or pipe,
// nor with --no-progress.
func TestProgressOnlyOnTerminal(t *testing.T) {
	root := newRootCmd()
	var buf bytes.Buffer
	root.SetErr(&buf)
	if progressWanted(root) {
		t.Error("progress wanted with standard error a buffer")
	}
	c := &cobra.Command{}
	c.Flags().Bool(noProgressFlag, true, "")
	if progressWanted(c) {
		t.Error("progress wanted with --no-progress")
	}
	if p := newProgress(root, 10, "x"); p != nil {
		t.Error("newProgress drew a bar into a buffer")
	}
	var nilBar *progress // every method is safe on nil
	nilBar.Add(1)
	nilBar.Set(3)
	nilBar.Describe("y")
	nilBar.Println(&buf, "line")
	nilBar.Done(true)
	if buf.String() != "line\n" {
		t.Errorf("a nil bar printed %q, want the line alone", buf.String())
	}
}

package main

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// noProgressFlag is the root's --no-progress; progress bars are also off
// when standard error is not a terminal (a CI log, a pipe), so that logs
// hold the plain step lines and never carriage-return redraws.
const noProgressFlag = "no-progress"

// progress is a bar on standard error for an operation that takes a
// while. A nil *progress is valid and draws nothing, so callers need not
// check whether bars are wanted.
type progress struct {
	bar *progressbar.ProgressBar
}

// progressWanted reports whether cmd may draw a bar: the user did not
// say --no-progress (or BMCEMU_NO_PROGRESS), and standard error is a
// terminal.
func progressWanted(cmd *cobra.Command) bool {
	if v, _ := cmd.Flags().GetBool(noProgressFlag); v {
		return false
	}
	if v := os.Getenv("BMCEMU_NO_PROGRESS"); v != "" && v != "0" && v != "false" {
		return false
	}
	f, ok := cmd.ErrOrStderr().(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress starts a bar counting to total (total < 0: a spinner for
// work of unknown length), or returns nil when bars are not wanted.
func newProgress(cmd *cobra.Command, total int64, desc string) *progress {
	if !progressWanted(cmd) {
		return nil
	}
	return &progress{bar: newBar(cmd.ErrOrStderr(), total, desc)}
}

func newBar(w io.Writer, total int64, desc string) *progressbar.ProgressBar {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionThrottle(65 * time.Millisecond),
		progressbar.OptionOnCompletion(func() { _, _ = io.WriteString(w, "\n") }),
		progressbar.OptionSetPredictTime(total > 0),
		progressbar.OptionFullWidth(),
	}
	if total < 0 {
		opts = append(opts, progressbar.OptionSpinnerType(14))
	} else {
		opts = append(opts, progressbar.OptionShowCount())
	}
	b := progressbar.NewOptions64(total, opts...)
	_ = b.RenderBlank()
	return b
}

// Add advances the bar by n.
func (p *progress) Add(n int) {
	if p != nil {
		_ = p.bar.Add(n)
	}
}

// Set moves the bar to v (for work that reports where it is, such as a
// rebuild's percentage).
func (p *progress) Set(v int) {
	if p != nil {
		_ = p.bar.Set(v)
	}
}

// Describe changes the text in front of the bar.
func (p *progress) Describe(s string) {
	if p != nil {
		p.bar.Describe(s)
	}
}

// Println prints a line above the bar: the bar is cleared, the line
// written, and the bar drawn again under it, so that step lines and the
// bar can share one terminal.
func (p *progress) Println(w io.Writer, line string) {
	if p == nil {
		_, _ = io.WriteString(w, line+"\n")
		return
	}
	_ = p.bar.Clear()
	_, _ = io.WriteString(w, line+"\n")
	_ = p.bar.RenderBlank()
}

// Done finishes the bar (or removes it on failure, leaving the error
// message as the last thing on the terminal).
func (p *progress) Done(ok bool) {
	if p == nil {
		return
	}
	if ok {
		_ = p.bar.Finish()
		return
	}
	_ = p.bar.Clear()
}

// termLog is a terminal shared by log lines and a progress bar: each log
// line clears the bar, is written, and the bar is drawn again below it,
// so that `serve --fleet 1000` shows both its per-member log lines and how
// far the start has got.
type termLog struct {
	mu  sync.Mutex
	w   io.Writer
	bar *progressbar.ProgressBar
}

func (t *termLog) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.bar != nil {
		_ = t.bar.Clear()
	}
	n, err := t.w.Write(b)
	if t.bar != nil {
		_ = t.bar.RenderBlank()
	}
	return n, err
}

// start draws a bar counting to total under the log lines; nil t (no
// terminal, or --no-progress) draws nothing.
func (t *termLog) start(total int64, desc string) *progress {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.bar = newBar(t.w, total, desc)
	return &progress{bar: t.bar}
}

// stop finishes the bar and lets log lines through untouched again.
func (t *termLog) stop(ok bool) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.bar != nil {
		(&progress{bar: t.bar}).Done(ok)
	}
	t.bar = nil
}

// above writes text to w (standard output, which may be the same
// terminal) with the bar cleared first and drawn again after; nil t
// just writes.
func (t *termLog) above(w io.Writer, text string) {
	if t == nil {
		_, _ = io.WriteString(w, text)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.bar != nil {
		_ = t.bar.Clear()
	}
	_, _ = io.WriteString(w, text)
	if t.bar != nil {
		_ = t.bar.RenderBlank()
	}
}

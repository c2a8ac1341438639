package conformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// binDir puts the binary on PATH under its real name: the completion
// scripts register themselves for the command "bmcemu".
func binDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(bmcemuBin, filepath.Join(dir, "bmcemu")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// shell runs a script in a shell (bash, zsh, fish) with the binary on PATH.
func shell(t *testing.T, sh, dir, script string) string {
	t.Helper()
	path := needTool(t, sh)
	cmd := exec.Command(path, "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "LC_ALL=C")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s -c: %v\n%s%s", sh, err, out.String(), errb.String())
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("%s -c: timed out\n%s", sh, out.String())
	}
	return out.String()
}

func lines(s string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			m[strings.SplitN(l, "\t", 2)[0]] = true
		}
	}
	return m
}

// TestShellCompletion loads `bmcemu completion` into the real shells and
// asks them to complete: bash through bash-completion's machinery with
// COMP_WORDS set as readline would, fish with its own `complete -C`, zsh by
// registering the function with compinit. Slot names come from the running
// server: insert offers only empty slots, remove only populated ones.
func TestShellCompletion(t *testing.T) {
	needTool(t, "bash")
	if _, err := os.Stat("/usr/share/bash-completion/bash_completion"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("bash-completion is not installed; .ci/run must install it")
		}
		t.Skip("bash-completion is not installed; skipping")
	}
	e := start(t, startOpts{args: []string{"--ephemeral", "--speed", "1000"}})
	dir := binDir(t)

	bash := func(words ...string) map[string]bool {
		script := `source /usr/share/bash-completion/bash_completion
source <(bmcemu completion bash)
COMP_WORDS=(` + quoteWords(words) + `)
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
__start_bmcemu bmcemu "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}" 2>/dev/null
printf '%s\n' "${COMPREPLY[@]}"`
		return lines(shell(t, "bash", dir, script))
	}
	srv := "--server " + e.URL
	got := bash("bmcemu", "ctl", srv, "insert", "CPU0_DIMM_A")
	if !got["CPU0_DIMM_A2"] || got["CPU0_DIMM_A1"] || len(got) != 1 {
		t.Errorf("bash: ctl insert CPU0_DIMM_A<TAB> = %v, want only the empty CPU0_DIMM_A2", got)
	}
	got = bash("bmcemu", "ctl", srv, "remove", "CPU1_DIMM_")
	if !got["CPU1_DIMM_A1"] || !got["CPU1_DIMM_H1"] || got["CPU1_DIMM_A2"] || len(got) != 8 {
		t.Errorf("bash: ctl remove CPU1_DIMM_<TAB> = %v, want the 8 populated slots of socket 1", got)
	}
	got = bash("bmcemu", "ctl", srv, "fault", "CPU0_DIMM_B2", "")
	if !got["calibration"] {
		t.Errorf("bash: ctl fault SLOT <TAB> = %v, want the server's fault kinds (calibration among them)", got)
	}
	got = bash("bmcemu", "serve", "--profile", "")
	for _, p := range []string{"default", "mirror", "raid5", "sparing"} {
		if !got[p] {
			t.Errorf("bash: serve --profile <TAB> = %v, want built-in profile %s", got, p)
		}
	}
	got = bash("bmcemu", "ctl", "la")
	if !got["latch"] || len(got) != 1 {
		t.Errorf("bash: ctl la<TAB> = %v, want latch", got)
	}

	// fish computes completions itself with complete -C.
	out := shell(t, "fish", dir, `bmcemu completion fish | source; complete -C "bmcemu ctl `+srv+` remove CPU0_DIMM_A"`)
	if got := lines(out); !got["CPU0_DIMM_A1"] || got["CPU0_DIMM_A2"] {
		t.Errorf("fish: ctl remove CPU0_DIMM_A<TAB> = %q, want CPU0_DIMM_A1 only", out)
	}
	if !strings.Contains(out, "enabled, 32 GiB DDR5") {
		t.Errorf("fish: completions carry no description of the module: %q", out)
	}

	// zsh: the script loads and registers _bmcemu with compinit.
	out = shell(t, "zsh", dir, `autoload -U compinit; compinit -u -D; source <(bmcemu completion zsh); print -r -- ${_comps[bmcemu]}`)
	if strings.TrimSpace(out) != "_bmcemu" {
		t.Errorf("zsh: bmcemu's completion function is %q, want _bmcemu", out)
	}
}

// quoteWords quotes each word for a shell, so that an empty word (the
// one being completed after a space) stays a word.
func quoteWords(words []string) string {
	var q []string
	for _, w := range words {
		for _, f := range strings.Fields(w) {
			q = append(q, "'"+f+"'")
		}
		if strings.TrimSpace(w) == "" {
			q = append(q, "''")
		}
	}
	return strings.Join(q, " ")
}

// underPTY runs the binary with a terminal on its standard streams, through
// util-linux's script(1), and returns what the terminal received.
func underPTY(t *testing.T, args ...string) string {
	t.Helper()
	bin := needTool(t, "script")
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = "'" + a + "'"
	}
	out, err := run(t, 90*time.Second, bin, "-qfec", bmcemuBin+" "+strings.Join(quoted, " "), "/dev/null")
	if err != nil {
		t.Fatalf("bmcemu %s under a pty: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestProgressBars: on a terminal, `ctl insert --wait` draws a spinner
// naming the hot-add's step above which the step lines scroll, and a
// fleet's start counts its members; with --no-progress, or when standard
// error is not a terminal, the output is the plain step lines only.
func TestProgressBars(t *testing.T) {
	e := start(t, startOpts{args: []string{"--ephemeral", "--speed", "1000"}})
	ctl := func(args ...string) []string {
		return append([]string{"ctl", "--server", e.URL, "-u", e.User, "-p", e.Password}, args...)
	}
	for _, slot := range []string{"CPU0_DIMM_A2", "CPU0_DIMM_B2", "CPU0_DIMM_C2"} {
		if out, err := e.ctl("attention", slot); err != nil {
			t.Fatalf("attention %s: %v\n%s", slot, err, out)
		}
	}

	spinner := regexp.MustCompile(`\r\S+ CPU0_DIMM_A2: [A-Za-z]+ +\[\d+s\]`)
	out := underPTY(t, ctl("insert", "CPU0_DIMM_A2", "--wait")...)
	if !spinner.MatchString(out) {
		t.Errorf("insert --wait on a terminal drew no progress spinner naming the step:\n%q", out)
	}
	if !strings.Contains(out, "MemoryHotAdded") || !strings.Contains(out, "CPU0_DIMM_A2: enabled") {
		t.Errorf("insert --wait on a terminal lost the step lines or the result:\n%s", out)
	}

	out = underPTY(t, ctl("insert", "CPU0_DIMM_B2", "--wait", "--no-progress")...)
	if strings.Contains(out, "\r\x1b") || spinner.MatchString(strings.ReplaceAll(out, "B2", "A2")) || !strings.Contains(out, "MemoryHotAdded") {
		t.Errorf("--no-progress still drew a bar, or lost the step lines:\n%q", out)
	}

	// Not a terminal (a CI log): plain lines, no carriage returns.
	plain, err := e.ctl("insert", "CPU0_DIMM_C2", "--wait")
	if err != nil || strings.Contains(plain, "\r") || !strings.Contains(plain, "MemoryHotAdded") {
		t.Errorf("insert --wait into a pipe: err %v, want plain step lines without \\r:\n%q", err, plain)
	}

	// A fleet's start, on a terminal: a bar counting members up to 3/3
	// with the members' log lines above it. serve runs until SIGTERM, so
	// the shell sends one once the fleet is up.
	bin := needTool(t, "script")
	// Each member on its own address in a range no other test uses (so
	// consecutive ports on one address cannot collide with anything).
	fleetArgs := "serve --fleet 3 --fleet-addr 127.0.67.1 --ephemeral --control-addr 127.0.67.1:0 --member-https-port 0 --member-http-port 18080 --member-ipmi-port 18623"
	script := bmcemuBin + " " + fleetArgs + " & pid=$!; for i in $(seq 100); do sleep 0.1; done; kill -TERM $pid; wait $pid"
	out, err = run(t, 60*time.Second, bin, "-qfec", "sh -c '"+script+"'", "/dev/null")
	if err != nil {
		t.Fatalf("fleet under a pty: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`starting fleet members\s+100% \|[^|]*\| \(3/3`).MatchString(out) || !strings.Contains(out, "serving a fleet of 3 members") {
		t.Errorf("serve --fleet 3 on a terminal drew no member bar reaching 3/3:\n%q", out)
	}
}

// TestScenarioProgressBars: `scenario run` on a terminal draws a bar
// counting the steps of every run, naming the run it is in (2/2), with the
// report above it; --no-progress draws none; and --tap's standard output
// holds TAP only, even with standard error on a terminal.
func TestScenarioProgressBars(t *testing.T) {
	runs := []string{"scenario", "run", "builtin:protocol-redfish-503", "builtin:protocol-events-duplicates"}
	out := underPTY(t, runs...)
	bar := regexp.MustCompile(`\rscenario protocol-events-duplicates \(2/2\)\s+100% \|[^|]*\| \(23/23`)
	if !bar.MatchString(out) || !strings.Contains(out, "10 passed, 0 failed") || !strings.Contains(out, "13 passed, 0 failed") {
		t.Errorf("scenario run of two files on a terminal drew no step bar reaching 23/23, or lost the reports:\n%q", out)
	}
	if !regexp.MustCompile(`\rscenario protocol-redfish-503 \(1/2\)`).MatchString(out) {
		t.Errorf("the bar did not name the first run:\n%q", out)
	}

	out = underPTY(t, append(runs, "--no-progress")...)
	if strings.Contains(out, "\r\x1b") || strings.Contains(out, "(1/2)") || !strings.Contains(out, "10 passed, 0 failed") {
		t.Errorf("--no-progress still drew a bar, or lost the report:\n%q", out)
	}

	// TAP to a file, standard error to the terminal: the bar is there
	// and the TAP is plain.
	tapFile := filepath.Join(t.TempDir(), "out.tap")
	script := bmcemuBin + " scenario run --tap builtin:protocol-redfish-503 > " + tapFile
	out, err := run(t, 90*time.Second, needTool(t, "script"), "-qfec", script, "/dev/null")
	if err != nil {
		t.Fatalf("scenario run --tap under a pty: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`scenario protocol-redfish-503\s+100% \|[^|]*\| \(13/13`).MatchString(out) {
		t.Errorf("scenario run --tap drew no bar on standard error:\n%q", out)
	}
	tap, err := os.ReadFile(tapFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(string(tap), "\r\x1b") || !strings.HasPrefix(string(tap), "TAP version 13\n") || !strings.Contains(string(tap), "1..13") {
		t.Errorf("--tap output is not plain TAP:\n%q", tap)
	}
}

// TestManPages: `bmcemu man DIR` writes a page per command that man(1)
// renders, with the command's synopsis and options.
func TestManPages(t *testing.T) {
	man := needTool(t, "man")
	dir := t.TempDir()
	if out, err := run(t, 30*time.Second, bmcemuBin, "man", dir); err != nil {
		t.Fatalf("bmcemu man: %v\n%s", err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	if len(pages) < 40 {
		t.Fatalf("bmcemu man wrote %d pages, want one per command (40+)", len(pages))
	}
	for _, tc := range []struct{ page, want string }{
		{"bmcemu.1", "BMCEMU_NO_PROGRESS"},
		{"bmcemu-ctl-insert.1", "bmcemu ctl insert SLOT"},
		{"bmcemu-serve.1", "--fleet-file"},
		{"bmcemu-completion-bash.1", "bmcemu completion bash"},
	} {
		cmd := exec.Command(man, "-l", filepath.Join(dir, tc.page))
		cmd.Env = append(os.Environ(), "MANWIDTH=100", "MANPAGER=cat", "PAGER=cat", "LC_ALL=C")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "NAME") || !strings.Contains(string(out), tc.want) {
			t.Errorf("man -l %s: %v, want NAME and %q:\n%s", tc.page, err, tc.want, out)
		}
	}
}

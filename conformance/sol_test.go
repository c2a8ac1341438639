package conformance

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// solScript runs a command under a pseudo-terminal (ipmitool's SOL client
// wants one for its raw mode), as a person at a terminal would: it waits
// for the SOL session, runs a trigger command once it is up, waits for
// WANT in the output, types a return, and leaves with ipmitool's escape
// "~.". It prints everything the session showed.
const solScript = `
import os, pty, select, subprocess, sys, time
want, trigger = os.environ["WANT"].encode(), os.environ["TRIGGER"].split("\x1f")
argv = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
buf, triggered, typed, left = b"", False, False, False
deadline = time.time() + 90
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        buf += data
    if not triggered and b"SOL Session operational" in buf:
        subprocess.run(trigger, check=True, capture_output=True)
        triggered = True
    if triggered and not typed and want in buf:
        os.write(fd, b"\r")
        typed, mark = True, len(buf)
    if typed and not left and buf.count(b"login: ", mark) >= 1:
        os.write(fd, b"~.")
        left = True
os.waitpid(pid, 0)
sys.stdout.write(buf.decode("utf-8", "replace"))
`

// TestSOLActivateShowsPOST: ipmitool's SOL console attached to the host's
// serial port shows a reboot from the firmware's banner and memory
// training to the login prompt, and the host's getty answers a keystroke.
func TestSOLActivateShowsPOST(t *testing.T) {
	ipmitool := needTool(t, "ipmitool")
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3 for a pseudo-terminal")
	}
	e := start(t, startOpts{args: []string{"--speed", "1000"}})
	base := []string{ipmitool, "-I", "lanplus", "-H", e.IPMIHost, "-p", fmt.Sprint(e.IPMIPort), "-U", e.User, "-P", e.Password}
	cmd := exec.Command(py, append([]string{"-c", solScript}, append(base, "sol", "activate")...)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "WANT=bmcemu-host login: ",
		"TRIGGER="+strings.Join(append(base, "chassis", "power", "reset"), "\x1f"))
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("sol activate did not finish:\n%s", out)
	}
	got := string(out)
	if err != nil {
		t.Fatalf("sol activate: %v\n%s", err, got)
	}
	for _, w := range []string{"[SOL Session operational", "BIOS Version", "Memory training: CPU0_DIMM_A1", "Booting UEFI OS (Disk 0)",
		"Linux version", "bmcemu-host login: ", "[terminated ipmitool]"} {
		if !strings.Contains(got, w) {
			t.Errorf("the SOL session lacks %q:\n%s", w, got)
		}
	}
	// The getty answered the return with a fresh prompt.
	if strings.Count(got, "bmcemu-host login: ") < 2 {
		t.Errorf("no answer to the keystroke:\n%s", got)
	}
}

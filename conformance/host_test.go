package conformance

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/control"
)

// hostState reads the host through the control API.
func (e *Emulator) hostState() control.Host {
	e.t.Helper()
	var h control.Host
	if resp := e.getJSON(control.Prefix+"/host", &h); resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /host: %d", resp.StatusCode)
	}
	return h
}

// waitHost waits until the host's state satisfies ok; the boot steps run on
// the emulator's clock (--speed), this only waits for them.
func (e *Emulator) waitHost(what string, ok func(control.Host) bool) control.Host {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		h := e.hostState()
		if ok(h) {
			return h
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("host never %s: %+v", what, h)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// console is every line the host printed on its serial console.
func (e *Emulator) console() string {
	e.t.Helper()
	var pg platform.ConsolePage
	e.getJSON(control.Prefix+"/host/console?since=0&max=10000", &pg)
	var b strings.Builder
	for _, l := range pg.Lines {
		b.WriteString(l.Text + "\n")
	}
	return b.String() + pg.Partial
}

func booted(n uint64) func(control.Host) bool {
	return func(h control.Host) bool { return h.OSRunning && h.BootCount >= n }
}

// Ironic's ipmitool driver: `chassis bootdev pxe` then `chassis power
// cycle`. The host's PXE client asks for an address from the NIC's MAC
// (no DHCP server answers on the emulated network) before the boot order
// boots the disk; the console log and the SEL tell which device was used.
func TestIPMIBootdevPXEPowerCycle(t *testing.T) {
	needTool(t, "ipmitool")
	e := start(t, startOpts{args: []string{"--speed", "1000"}})
	// Without options=efiboot the override asks for a legacy boot: the
	// NIC's legacy PXE boot agent answers it.
	e.mustIPMI("chassis", "bootdev", "pxe")
	if out := e.mustIPMI("chassis", "bootparam", "get", "5"); !strings.Contains(out, "Force PXE") {
		t.Fatalf("bootparam 5 after bootdev pxe:\n%s", out)
	}
	e.mustIPMI("chassis", "power", "cycle")
	h := e.waitHost("booted again", booted(1))
	var sys struct{ SerialNumber string }
	e.getJSON("/redfish/v1/Systems/1", &sys)
	mac := platform.HostNICMAC(sys.SerialNumber).String()
	if h.BootMAC != mac || h.Override == nil || h.Override.Target != "Pxe" {
		t.Errorf("host after the PXE power cycle: %+v", h)
	}
	if len(h.Attempts) < 2 || h.Attempts[0].Target != "Pxe" || !strings.Contains(h.Attempts[0].Outcome, "PXE-E51") {
		t.Errorf("boot attempts %+v", h.Attempts)
	}
	con := e.console()
	agentMAC := strings.ToUpper(strings.ReplaceAll(mac, ":", " "))
	if !strings.Contains(con, "DHCPDISCOVER from "+mac) || !strings.Contains(con, "CLIENT MAC ADDR: "+agentMAC) {
		t.Errorf("console lacks the PXE request from %s:\n%s", mac, con)
	}
	// The firmware logged the restart and the boot it completed; the
	// power draw is the running OS's.
	sel := e.mustIPMI("sel", "elist")
	if !strings.Contains(sel, "Initiated by power up") || !strings.Contains(sel, "C: boot completed") {
		t.Errorf("SEL after the power cycle:\n%s", sel)
	}
	if out := e.mustIPMI("dcmi", "power", "reading"); !strings.Contains(out, "Instantaneous power reading:                   260 Watts") {
		t.Errorf("power while the OS runs:\n%s", out)
	}
	// The BIOS cleared the one-time flags as it booted.
	if out := e.mustIPMI("chassis", "bootparam", "get", "5"); !strings.Contains(out, "Boot Flag Invalid") {
		t.Errorf("bootparam 5 after the boot:\n%s", out)
	}
	// A soft shutdown (ACPI power button) lets the OS stop, then powers
	// off; a diagnostic interrupt needs the OS.
	e.mustIPMI("chassis", "power", "diag")
	if !strings.Contains(e.console(), "NMI received for unknown reason") {
		t.Error("the diagnostic interrupt did not reach the OS")
	}
	e.mustIPMI("chassis", "power", "soft")
	e.waitHost("off", func(h control.Host) bool { return h.PowerState == "Off" })
	if !strings.Contains(e.console(), "reboot: Power down") {
		t.Error("the OS did not shut down before the power went")
	}
	if out, err := e.ipmitool("chassis", "power", "diag"); err == nil {
		t.Errorf("diag while off succeeded:\n%s", out)
	}
	if out := e.mustIPMI("dcmi", "power", "reading"); !strings.Contains(out, "Instantaneous power reading:                    12 Watts") {
		t.Errorf("power while off:\n%s", out)
	}
	if sel := e.mustIPMI("sel", "elist"); !strings.Contains(sel, "OS graceful shutdown") || !strings.Contains(sel, "NMI") {
		t.Errorf("SEL after the soft shutdown:\n%s", sel)
	}
	// The OS views are gone while the host is off.
	var body control.Error
	if resp := e.getJSON(control.Prefix+"/os/meminfo", &body); resp.StatusCode != http.StatusConflict || body.Error.Code != "HostPoweredOff" {
		t.Errorf("meminfo while off: %d %+v", resp.StatusCode, body)
	}
}

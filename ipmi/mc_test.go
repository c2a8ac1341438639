package ipmi

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/clock"
)

func TestMCAndChannelIpmitool(t *testing.T) {
	tool(t, "/usr/bin/ipmitool")
	clk := clock.NewManual(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	b := startBMCWith(t, newPlatform(t), Config{Clock: clk})

	t.Run("bootdev", func(t *testing.T) {
		b.mustIpmitool(t, "chassis", "bootdev", "pxe")
		out := b.mustIpmitool(t, "chassis", "bootparam", "get", "5")
		if !strings.Contains(out, "Boot Device Selector : Force PXE") || !strings.Contains(out, "Boot Flag Valid") {
			t.Errorf("bootparam get 5:\n%s", out)
		}
	})

	t.Run("channel info", func(t *testing.T) {
		kv := keyValues(b.mustIpmitool(t, "channel", "info"))
		if kv["Channel Medium Type"] != "802.3 LAN" || kv["Session Support"] != "multi-session" ||
			kv["Access Mode"] != "always available|always available" || kv["Protocol Vendor ID"] != "7154" {
			t.Errorf("channel info = %v", kv)
		}
		if _, err := b.ipmitool(t, nil, "channel", "info", "5"); err == nil {
			t.Error("channel 5 reported present")
		}
	})

	t.Run("lan print", func(t *testing.T) {
		kv := keyValues(b.mustIpmitool(t, "lan", "print", "1"))
		want := b.srv.m.lan
		if kv["IP Address"] != "127.0.0.1" || kv["IP Address Source"] != "Static Address" || kv["Subnet Mask"] != "255.0.0.0" ||
			kv["RMCP+ Cipher Suites"] != "3,17" || kv["MAC Address"] == "" || want.mac[0] != 0x02 ||
			!strings.HasPrefix(kv["MAC Address"], "02:") {
			t.Errorf("lan print = %v", kv)
		}
		// The address is the emulator's socket: read-only.
		if _, err := b.ipmitool(t, nil, "lan", "set", "1", "ipaddr", "10.0.0.9"); err == nil {
			t.Error("lan set ipaddr succeeded")
		}
		if kv := keyValues(b.mustIpmitool(t, "lan", "print", "1")); kv["IP Address"] != "127.0.0.1" {
			t.Errorf("address changed: %v", kv)
		}
	})

	t.Run("global enables", func(t *testing.T) {
		kv := keyValues(b.mustIpmitool(t, "mc", "getenables"))
		if kv["System Event Logging"] != "enabled" || kv["Event Message Buffer"] != "disabled" {
			t.Errorf("getenables = %v", kv)
		}
		// ipmitool 1.8.19's setenables never matches its own option names
		// ("Nothing to change..."), so the Set goes raw.
		b.mustIpmitool(t, "raw", "0x06", "0x2e", "0x00")
		if kv := keyValues(b.mustIpmitool(t, "mc", "getenables")); kv["System Event Logging"] != "disabled" {
			t.Errorf("after setenables off: %v", kv)
		}
		if _, err := b.ipmitool(t, nil, "raw", "0x06", "0x2e", "0x0c"); err == nil {
			t.Error("event message buffer enabled though not implemented")
		}
		b.mustIpmitool(t, "raw", "0x06", "0x2e", "0x08")
	})

	t.Run("selftest", func(t *testing.T) {
		if out := b.mustIpmitool(t, "mc", "selftest"); !strings.Contains(out, "Selftest: passed") {
			t.Errorf("selftest: %s", out)
		}
	})

	t.Run("watchdog", func(t *testing.T) {
		if _, err := b.ipmitool(t, nil, "mc", "watchdog", "reset"); err == nil {
			t.Error("reset of an uninitialised watchdog succeeded")
		}
		// Timer use SMS/OS (4), action power down (2), 10.0 s.
		b.mustIpmitool(t, "raw", "0x06", "0x24", "0x04", "0x02", "0x00", "0x00", "0x64", "0x00")
		kv := keyValues(b.mustIpmitool(t, "mc", "watchdog", "get"))
		if kv["Watchdog Timer Is"] != "Stopped" || kv["Initial Countdown"] != "10.0 sec" || !strings.HasPrefix(kv["Watchdog Timer Action"], "Power Down") {
			t.Errorf("watchdog get = %v", kv)
		}
		b.mustIpmitool(t, "mc", "watchdog", "reset")
		clk.Advance(4 * time.Second)
		kv = keyValues(b.mustIpmitool(t, "mc", "watchdog", "get"))
		if kv["Watchdog Timer Is"] != "Started/Running" || kv["Present Countdown"] != "6.0 sec" {
			t.Errorf("running watchdog = %v", kv)
		}
		b.mustIpmitool(t, "mc", "watchdog", "reset") // the OS pats it
		clk.Advance(9 * time.Second)
		if !b.p.Snapshot().PowerOn {
			t.Fatal("watchdog fired although it was reset")
		}
		before := b.srv.SEL().Info().Entries
		clk.Advance(time.Second)
		if b.p.Snapshot().PowerOn {
			t.Error("watchdog expiry did not power the host down")
		}
		b.waitSEL(t, before+1)
		rows := elist(t, b)
		last := rows[len(rows)-1]
		if last[1] != "Watchdog2 #0xc0" || last[2] != "Power down" || last[3] != "Asserted" {
			t.Errorf("watchdog SEL record = %q", last)
		}
		kv = keyValues(b.mustIpmitool(t, "mc", "watchdog", "get"))
		if kv["Watchdog Timer Is"] != "Stopped" || !strings.Contains(kv["Timer Expiration Flags"], "0x10") {
			t.Errorf("after expiry = %v", kv)
		}
	})

	t.Run("dcmi", func(t *testing.T) {
		if out := b.mustIpmitool(t, "dcmi", "discover"); !strings.Contains(out, "Primary LAN channel number: 1 is available") {
			t.Errorf("dcmi discover:\n%s", out)
		}
		out := b.mustIpmitool(t, "dcmi", "power", "reading")
		// Host is off after the watchdog test: standby draw.
		if !strings.Contains(out, "Instantaneous power reading:                    12 Watts") || !strings.Contains(out, "activated") {
			t.Errorf("dcmi power reading:\n%s", out)
		}
	})
}

// TestIpmiExporterCollectors runs what prometheus ipmi_exporter's default
// collectors run, and checks each exits 0 with parseable output.
func TestIpmiExporterCollectors(t *testing.T) {
	mon := tool(t, "/usr/sbin/ipmimonitoring")
	dcmi := tool(t, "/usr/sbin/ipmi-dcmi")
	info := tool(t, "/usr/sbin/bmc-info")
	chassis := tool(t, "/usr/sbin/ipmi-chassis")
	p := newPlatform(t)
	b := startBMCOn(t, p)
	common := []string{"-D", "LAN_2_0", "-h", "127.0.0.1:" + b.port, "-u", "admin", "-p", "password", "-l", "ADMIN"}
	must := func(bin string, args ...string) string {
		t.Helper()
		out, err := run(t, bin, append(append([]string{}, common...), args...)...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	out := must(mon, "-Q", "--ignore-unrecognized-events", "--comma-separated-output", "--no-header-output",
		"--sdr-cache-recreate", "--output-event-bitmask", "--output-sensor-state", "--sdr-cache-directory="+t.TempDir())
	if n := strings.Count(out, ",Memory,"); n != len(p.Snapshot().Slots) {
		t.Errorf("ipmimonitoring: %d memory sensors, want %d:\n%s", n, len(p.Snapshot().Slots), out)
	}
	kv := keyValues(must(dcmi, "--get-system-power-statistics"))
	want := powerWatts(p.Snapshot())
	if kv["Current Power"] != fmt.Sprintf("%d Watts", want) || kv["Power Measurement"] != "Active" {
		t.Errorf("ipmi-dcmi = %v (want %d W)", kv, want)
	}
	kv = keyValues(must(info))
	if kv["Firmware Revision"] != "1.00" || kv["IPMI Version"] != "2.0" {
		t.Errorf("bmc-info = %v", kv)
	}
	kv = keyValues(must(chassis, "--get-chassis-status"))
	if kv["System Power"] != "on" {
		t.Errorf("ipmi-chassis = %v", kv)
	}
}

// Chassis Identify drives the platform's identify LED, and Get Chassis
// Status reports it, as ipmitool sets it and freeipmi reads it back.
func TestChassisIdentify(t *testing.T) {
	tool(t, "/usr/bin/ipmitool")
	chassis := tool(t, "/usr/sbin/ipmi-chassis")
	p := newPlatform(t)
	b := startBMCOn(t, p)
	state := func() string {
		t.Helper()
		out, err := run(t, chassis, "-D", "LAN_2_0", "-h", "127.0.0.1:"+b.port, "-u", "admin", "-p", "password", "-l", "ADMIN", "--get-chassis-status")
		if err != nil {
			t.Fatal(err)
		}
		return keyValues(out)["Chassis Identify state"]
	}
	if got := state(); got != "off" {
		t.Fatalf("at start: %q", got)
	}
	b.mustIpmitool(t, "chassis", "identify", "120")
	if got, led := state(), p.Snapshot().Identify; got != "Timed on" || led.State != platform.IdentifyBlinking || led.Until.IsZero() {
		t.Errorf("identify 120: ipmi-chassis %q, platform %+v", got, led)
	}
	b.mustIpmitool(t, "chassis", "identify", "force")
	if got, led := state(), p.Snapshot().Identify; got != "Indefinite on" || led.State != platform.IdentifyLit || !led.Until.IsZero() {
		t.Errorf("identify force: ipmi-chassis %q, platform %+v", got, led)
	}
	// A setting from elsewhere (Redfish) reads back here.
	if err := p.SetChassisIdentify(platform.IdentifyOff, 0); err != nil {
		t.Fatal(err)
	}
	if got := state(); got != "off" {
		t.Errorf("after the platform turned it off: %q", got)
	}
	b.mustIpmitool(t, "chassis", "identify", "5")
	b.mustIpmitool(t, "chassis", "identify", "0")
	if got := p.Snapshot().Identify.State; got != platform.IdentifyOff {
		t.Errorf("identify 0 left the LED %s", got)
	}
}

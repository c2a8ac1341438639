package ipmi

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// trapSink is a PET receiver: gosnmp's own trap listener on a free port.
type trapSink struct {
	port  int
	traps chan *gosnmp.SnmpPacket
}

func listenTraps(t *testing.T) *trapSink {
	t.Helper()
	// Pick a free UDP port, then let the listener bind it.
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	s := &trapSink{port: port, traps: make(chan *gosnmp.SnmpPacket, 64)}
	l := gosnmp.NewTrapListener()
	l.Params = &gosnmp.GoSNMP{Version: gosnmp.Version1, Community: "public"}
	l.OnNewTrap = func(p *gosnmp.SnmpPacket, _ *net.UDPAddr) { s.traps <- p }
	errc := make(chan error, 1)
	go func() { errc <- l.Listen("127.0.0.1:" + strconv.Itoa(port)) }()
	select {
	case <-l.Listening():
	case err := <-errc:
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return s
}

func (s *trapSink) next(t *testing.T) *gosnmp.SnmpPacket {
	t.Helper()
	select {
	case p := <-s.traps:
		return p
	case <-time.After(20 * time.Second): // bounds a hang only
		t.Fatal("no PET received")
		return nil
	}
}

func TestPEFAndPET(t *testing.T) {
	tool(t, "/usr/bin/ipmitool")
	sink := listenTraps(t)
	b := startBMCWith(t, newPlatform(t), Config{PETPort: sink.port})

	if rows := table(b.mustIpmitool(t, "pef", "info")); len(rows) != 1 || rows[0][0] != "0x51" || rows[0][1] != "16" ||
		len(rows[0][3]) != 36 || rows[0][4] != "Alert" {
		t.Errorf("pef info = %q", rows)
	}
	filters := table(b.mustIpmitool(t, "pef", "filter", "list"))
	if len(filters) != 16 || filters[0][1] != "enabled, pre-configured" || filters[0][2] != "Memory" ||
		filters[0][4] != "Critical" || filters[1][4] != "Warning" || filters[0][7] != "Alert" {
		t.Errorf("pef filter list = %q", filters)
	}

	b.mustIpmitool(t, "lan", "alert", "set", "1", "1", "ipaddr", "127.0.0.1")
	b.mustIpmitool(t, "lan", "alert", "set", "1", "1", "retry", "2")
	kv := keyValues(b.mustIpmitool(t, "lan", "alert", "print", "1", "1"))
	if kv["Alert IP Address"] != "127.0.0.1" || kv["Destination Type"] != "PET Trap" || kv["Number of Retries"] != "2" {
		t.Errorf("lan alert print = %v", kv)
	}
	// ipmitool exits 0 even when the set is refused: check the effect.
	_, _ = b.ipmitool(t, []string{"-U", "oper", "-L", "OPERATOR"}, "lan", "alert", "set", "1", "1", "ipaddr", "10.0.0.1")
	if kv := keyValues(b.mustIpmitool(t, "lan", "alert", "print", "1", "1")); kv["Alert IP Address"] != "127.0.0.1" {
		t.Errorf("operator changed an alert destination (needs Administrator): %v", kv)
	}

	// A correctable-ECC storm on CPU0_DIMM_B1 (sensor 3, module 2) as
	// platform events: each one is logged and alerted.
	var storm strings.Builder
	for range 5 {
		storm.WriteString("0x04 0x0C 0x03 0x6F 0x30 0xFF 0x02\n")
	}
	file := filepath.Join(t.TempDir(), "storm")
	if err := os.WriteFile(file, []byte(storm.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	b.mustIpmitool(t, "event", "file", file)
	guid := systemGUID(b.p.Snapshot())
	seqs := map[uint16]bool{}
	for range 5 {
		p := sink.next(t)
		if p.Version != gosnmp.Version1 || p.Enterprise != ".1.3.6.1.4.1.3183.1.1" || p.GenericTrap != 6 ||
			p.SpecificTrap != 0x0C6F00 || p.Community != "public" || len(p.Variables) != 1 {
			t.Fatalf("trap %+v", p)
		}
		v := p.Variables[0]
		data, _ := v.Value.([]byte)
		if v.Name != ".1.3.6.1.4.1.3183.1.1.1" || v.Type != gosnmp.OctetString || len(data) != 47 {
			t.Fatalf("varbind %+v", v)
		}
		seq := uint16(data[16])<<8 | uint16(data[17])
		seqs[seq] = true
		if !bytes.Equal(data[:16], guid[:]) || data[24] != 0x20 || data[25] != 0x20 || data[26] != 0x08 || // warning
			data[28] != 0x03 || data[29] != 0x20 || data[30] != 0x03 || !bytes.Equal(data[31:34], []byte{0x30, 0xFF, 0x02}) ||
			data[46] != 0xC1 {
			t.Errorf("PET data % x", data)
		}
	}
	if len(seqs) != 5 {
		t.Errorf("PET sequence numbers %v, want 5 distinct", seqs)
	}
	if n := b.srv.SEL().Info().Entries; n != 5 {
		t.Errorf("SEL has %d entries after the storm, want 5", n)
	}

	// PEF disabled: events are still logged, nothing is sent.
	b.mustIpmitool(t, "raw", "0x04", "0x12", "0x01", "0x00")
	b.mustIpmitool(t, "event", "file", file)
	b.mustIpmitool(t, "raw", "0x04", "0x12", "0x01", "0x01")
	// Alert Immediate to destination 1 is the next trap the sink sees.
	b.mustIpmitool(t, "raw", "0x04", "0x16", "0x01", "0x01", "0x00")
	if p := sink.next(t); p.SpecificTrap != 0x126F04 {
		t.Errorf("after PEF off and Alert Immediate: trap %#x, want 126F04 (System Event, PEF action)", p.SpecificTrap)
	}
	if n := b.srv.SEL().Info().Entries; n != 10 {
		t.Errorf("SEL has %d entries, want 10", n)
	}
}

func TestPEFConfigFreeIPMI(t *testing.T) {
	pefcfg := tool(t, "/usr/sbin/ipmi-pef-config")
	b := startBMC(t)
	out, err := run(t, pefcfg, "-D", "LAN_2_0", "-h", "127.0.0.1:"+b.port, "-u", "admin", "-p", "password", "-l", "ADMIN", "--checkout")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"Enable_PEF                                    Yes", "Community_String                              public",
		"Section Event_Filter_16", "Section Alert_Policy_16", "Section Lan_Alert_Destination_4"} {
		if !strings.Contains(out, want) {
			t.Errorf("ipmi-pef-config --checkout lacks %q", want)
		}
	}
	if strings.Contains(out, "Unable to checkout") {
		t.Errorf("ipmi-pef-config could not read everything:\n%s", out)
	}
}

package firmware

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// iasl finds ACPICA's disassembler. CI images install acpica-tools, so there a
// missing iasl is a broken image, not a reason to skip.
func iasl(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("iasl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("iasl not on PATH under CI=true; install acpica-tools")
		}
		t.Skip("iasl not on PATH (apt-get install acpica-tools); the firmware's ACPI bytes are not cross-checked")
	}
	return p
}

// disassemble runs `iasl -d` on one table image and returns the .dsl text.
// iasl reports trouble both in its exit status and in lines of its output.
func disassemble(t *testing.T, bin, name string, img []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name+".dat"), img, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", name+".dat")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("iasl -d %s.dat: %v\n%s", name, err, out)
	}
	for _, bad := range []string{"Error", "error ", "Invalid", "Unknown"} {
		if strings.Contains(string(out), bad) {
			t.Fatalf("iasl -d %s.dat reports %q:\n%s", name, bad, out)
		}
	}
	dsl, err := os.ReadFile(filepath.Join(dir, name+".dsl"))
	if err != nil {
		t.Fatalf("iasl wrote no %s.dsl: %v\n%s", name, err, out)
	}
	if strings.Contains(string(dsl), "****") {
		t.Fatalf("iasl flags the %s image:\n%s", name, dsl)
	}
	return string(dsl)
}

// TestIASLReadsFirmwareTables feeds the firmware's own SRAT and HMAT, built
// by the encoders the emulator serves, to ACPICA's disassembler and checks
// that it parses every subtable and reads back the same proximity domains,
// addresses and lengths.
func TestIASLReadsFirmwareTables(t *testing.T) {
	bin := iasl(t)
	r := newRig(t, nil)
	srat := r.fw.SRAT()
	if len(srat.CPUs) == 0 || len(srat.Memory) == 0 || len(srat.GenericPorts) != 0 {
		t.Fatalf("want a firmware SRAT with CPUs, memory and no generic port: %+v", srat)
	}
	dsl := disassemble(t, bin, "srat", srat.Encode())
	if got := strings.Count(dsl, "[Memory Affinity]"); got != len(srat.Memory) {
		t.Errorf("iasl sees %d memory affinity entries, want %d", got, len(srat.Memory))
	}
	if got := strings.Count(dsl, "[Processor Local x2APIC Affinity]"); got != len(srat.CPUs) {
		t.Errorf("iasl sees %d x2APIC entries, want %d", got, len(srat.CPUs))
	}
	fields := iaslFields(dsl)
	var pds, bases, lens []string
	for _, m := range srat.Memory {
		pds = append(pds, fmt.Sprintf("%08X", m.ProximityDomain))
		bases = append(bases, fmt.Sprintf("%016X", m.Base))
		lens = append(lens, fmt.Sprintf("%016X", m.Length))
	}
	var cpuPDs []string
	for _, c := range srat.CPUs {
		cpuPDs = append(cpuPDs, fmt.Sprintf("%08X", c.ProximityDomain))
	}
	want := append(cpuPDs, pds...) // the encoder writes CPUs first
	checkSeq(t, "SRAT Proximity Domain", fields["Proximity Domain"], want)
	checkSeq(t, "SRAT Base Address", fields["Base Address"], bases)
	checkSeq(t, "SRAT Address Length", fields["Address Length"], lens)

	hmat := r.fw.HMAT()
	dsl = disassemble(t, bin, "hmat", hmat.Encode())
	fields = iaslFields(dsl)
	var mem, lists, entries []string
	for _, p := range hmat.Proximity {
		mem = append(mem, fmt.Sprintf("%08X", p.MemoryPD))
	}
	for _, l := range hmat.Locality {
		for _, e := range l.Entries {
			entries = append(entries, fmt.Sprintf("%04X", e))
		}
		for _, pd := range l.Initiators {
			lists = append(lists, fmt.Sprintf("%08X", pd))
		}
	}
	checkSeq(t, "HMAT Memory Proximity Domain", fields["Memory Proximity Domain"], mem)
	checkSeq(t, "HMAT Initiator Proximity Domain List", fields["Initiator Proximity Domain List"], lists)
	checkSeq(t, "HMAT Entry", fields["Entry"], entries)
}

// iaslFields collects, per field name, the values of `[off dec len] Name : Value`
// lines in order.
func iaslFields(dsl string) map[string][]string {
	m := map[string][]string{}
	for line := range strings.Lines(dsl) {
		_, rest, ok := strings.Cut(line, "]")
		if !ok || !strings.HasPrefix(strings.TrimSpace(line), "[") {
			continue
		}
		name, val, ok := strings.Cut(rest, " : ")
		if !ok {
			continue
		}
		m[strings.TrimSpace(name)] = append(m[strings.TrimSpace(name)], strings.Fields(val)[0])
	}
	return m
}

func checkSeq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(want) == 0 {
		t.Errorf("%s: the encoder wrote none, nothing to compare", what)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s: iasl reads %v, the encoder wrote %v", what, got, want)
	}
}

// TestIASLOnCXLTables records what this iasl makes of the tables it may
// predate: CEDT (iasl 20210105+) and SRAT type 6 (20221020+). It passes either
// way but logs the verdict, and on a new enough iasl holds it to the same
// standard as SRAT/HMAT.
func TestIASLOnCXLTables(t *testing.T) {
	bin := iasl(t)
	cedt, err := sampleCEDT().Encode()
	if err != nil {
		t.Fatal(err)
	}
	s := sampleSRAT()
	s.GenericPorts = []GenericPortAffinity{sampleGenericPort()}
	for _, tc := range []struct {
		name, unknown string
		img           []byte
	}{{"cedt", "Unknown ACPI table signature [CEDT]", cedt}, {"srat", "Unknown SRAT subtable type 0x6", s.Encode()}} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, tc.name+".dat"), tc.img, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-d", tc.name+".dat")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		dsl, _ := os.ReadFile(filepath.Join(dir, tc.name+".dsl"))
		if err != nil {
			t.Fatalf("iasl -d %s.dat: %v\n%s", tc.name, err, out)
		}
		if strings.Contains(string(dsl), tc.unknown) {
			t.Logf("%s: this iasl predates it: %q", tc.name, tc.unknown)
			continue
		}
		if strings.Contains(string(dsl), "****") {
			t.Errorf("iasl flags the %s image:\n%s", tc.name, dsl)
		}
	}
}

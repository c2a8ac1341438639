package conformance

import (
	"strings"
	"testing"
)

// A boot module pulled without an eject, then a new module in the same
// slot, through the binary: the insert used to end in "firmware:
// CPU0_DIMM_A1 is already mapped" until the server restarted. Now the
// host logs the machine check, the SEL has the uncorrectable error, and
// the slot takes the new module as a hot-add.
func TestSurpriseRemovalThenInsert(t *testing.T) {
	e := start(t, startOpts{args: []string{"--speed", "1000"}})
	const slot = "CPU0_DIMM_A1"
	if out, err := e.ctl("remove", slot); err != nil {
		t.Fatalf("ctl remove: %v\n%s", err, out)
	}
	out, err := e.ctl("dmesg")
	if err != nil {
		t.Fatalf("ctl dmesg: %v\n%s", err, out)
	}
	for _, want := range []string{"mce: [Hardware Error]: Machine check events logged", "UE memory scrubbing error on " + slot, "Memory failure: 0x"} {
		if !strings.Contains(out, want) {
			t.Errorf("dmesg lacks %q:\n%s", want, out)
		}
	}
	var sel struct{ Members []struct{ Message string } }
	e.getJSON("/redfish/v1/Systems/1/LogServices/SEL/Entries?$expand=.", &sel)
	var msgs []string
	for _, m := range sel.Members {
		msgs = append(msgs, m.Message)
	}
	if all := strings.Join(msgs, "\n"); !strings.Contains(all, "Memory "+slot+": Uncorrectable ECC asserted") {
		t.Errorf("SEL lacks the uncorrectable error:\n%s", all)
	}

	out, err = e.ctl("insert", slot, "--capacity-gib", "32", "--wait")
	if err != nil || !strings.Contains(out, "MemoryHotAdded") || !strings.Contains(out, slot+": enabled (ok)") {
		t.Fatalf("insert into the slot after a surprise removal: %v\n%s", err, out)
	}
}

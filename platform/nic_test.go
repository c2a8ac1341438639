package platform

import (
	"crypto/sha1"
	"testing"
)

func TestHostNICMAC(t *testing.T) {
	a, b := HostNICMAC("EMU0000001"), HostNICMAC("EMU0000002")
	if len(a) != 6 {
		t.Fatalf("MAC %v has %d bytes", a, len(a))
	}
	if a[0]&0x01 != 0 || a[0]&0x02 == 0 {
		t.Errorf("MAC %v: want a locally administered unicast address", a)
	}
	if a.String() != HostNICMAC("EMU0000001").String() {
		t.Error("the same serial gave two MACs")
	}
	if a.String() == b.String() {
		t.Errorf("two serials share the MAC %v", a)
	}
	// Not the BMC's LAN MAC (ipmi derives that from "mac:" + serial).
	bmc := sha1.Sum([]byte("mac:EMU0000001"))
	if string(a[1:]) == string(bmc[:5]) {
		t.Errorf("host NIC MAC %v equals the BMC's LAN MAC", a)
	}
}

package platform

import (
	"crypto/sha1"
	"net"
)

// HostNICMAC is the MAC address of the host's first network interface (the
// one it PXE-boots from), derived from the system serial number: the first
// six bytes of SHA-1("nic0:" + serial) with the first octet set to 02h, a
// locally administered unicast address. The same serial gives the same MAC
// on every machine, so provisioning inventories (Ironic ports, Metal3
// bootMACAddress) can be written without asking the server.
//
// It stands for the first host NIC until the NIC model lands, which is to
// report this address for its first port. It is distinct from the BMC's own
// LAN MAC (IPMI LAN parameter 5, derived from "mac:" + serial): a boot MAC
// must never be the BMC's.
func HostNICMAC(serial string) net.HardwareAddr {
	h := sha1.Sum([]byte("nic0:" + serial))
	mac := make(net.HardwareAddr, 6)
	mac[0] = 0x02 // locally administered, unicast
	copy(mac[1:], h[:5])
	return mac
}

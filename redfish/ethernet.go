package redfish

import (
	"fmt"
	"net"
	"strings"

	"github.com/bmcemu/bmcemu/platform"
)

// EthernetInterfaces (DSP0268 EthernetInterface.v1_12_4): the host's
// ports, one per NIC port of the platform's hardware, under the system,
// and the BMC's own port under the Manager.

const (
	typeEthernetInterfaceCollection = "#EthernetInterfaceCollection.EthernetInterfaceCollection"
	typeEthernetInterface           = "#EthernetInterface.v1_12_4.EthernetInterface"

	// bmcInterfaceID is the BMC's one LAN port, the IPMI LAN channel.
	bmcInterfaceID = "eth0"
)

func managerEthernetInterfacesPath() string { return managerPath() + "/EthernetInterfaces" }

type ethernetInterface struct {
	odata
	ID                    string         `json:"Id"`
	Name                  string         `json:"Name"`
	Description           string         `json:"Description"`
	EthernetInterfaceType string         `json:"EthernetInterfaceType"`
	InterfaceEnabled      bool           `json:"InterfaceEnabled"`
	LinkStatus            string         `json:"LinkStatus"`
	MACAddress            string         `json:"MACAddress"`
	PermanentMACAddress   string         `json:"PermanentMACAddress"`
	SpeedMbps             *int           `json:"SpeedMbps"`
	AutoNeg               bool           `json:"AutoNeg"`
	FullDuplex            bool           `json:"FullDuplex"`
	MTUSize               int            `json:"MTUSize"`
	HostName              string         `json:"HostName,omitempty"`
	FQDN                  string         `json:"FQDN,omitempty"`
	IPv4Addresses         []ipv4Address  `json:"IPv4Addresses,omitempty"`
	IPv6Addresses         []ipv6Address  `json:"IPv6Addresses,omitempty"`
	NameServers           []string       `json:"NameServers,omitempty"`
	Status                status         `json:"Status"`
	Links                 *ethernetLinks `json:"Links,omitempty"`
}

type ipv4Address struct {
	Address       string `json:"Address"`
	SubnetMask    string `json:"SubnetMask"`
	AddressOrigin string `json:"AddressOrigin"`
	Gateway       string `json:"Gateway"`
}

type ipv6Address struct {
	Address       string `json:"Address"`
	PrefixLength  int    `json:"PrefixLength"`
	AddressOrigin string `json:"AddressOrigin"`
	AddressState  string `json:"AddressState"`
}

type ethernetLinks struct {
	Chassis link `json:"Chassis"`
}

func (s *service) getEthernetInterfaces(r *request) (any, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	var members []link
	for _, p := range r.snap.Hardware.Ports() {
		members = append(members, link{ID: ethernetInterfacePath(p.ID)})
	}
	return newCollection(ethernetInterfacesPath(), typeEthernetInterfaceCollection, "Ethernet Interface Collection", members), nil
}

func (s *service) getEthernetInterface(r *request) (any, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	id := r.param("nic")
	p, ok := r.snap.Hardware.Port(id)
	if !ok {
		return nil, errResourceNotFound("EthernetInterface", id)
	}
	adapter, _ := r.snap.Hardware.NIC(strings.TrimSuffix(id, fmt.Sprintf("-%d", p.Port)))
	e := ethernetInterface{
		odata:                 odata{ID: ethernetInterfacePath(p.ID), Type: typeEthernetInterface},
		ID:                    p.ID,
		Name:                  fmt.Sprintf("%s Port %d", adapter.ID, p.Port),
		Description:           fmt.Sprintf("Port %d of %s %s", p.Port, adapter.Manufacturer, adapter.Model),
		EthernetInterfaceType: "Physical",
		InterfaceEnabled:      true,
		LinkStatus:            "LinkDown",
		MACAddress:            p.MAC,
		PermanentMACAddress:   p.MAC,
		AutoNeg:               true,
		FullDuplex:            true,
		MTUSize:               1500,
		// The port is in service whatever its cable: Ironic's inspection
		// (sushy's EthernetInterfaceCollection.summary) takes every port
		// whose Health is OK, and enrols its MAC.
		Status: status{State: "Enabled", Health: "OK"},
		Links:  &ethernetLinks{Chassis: link{ID: chassisPath()}},
	}
	if p.LinkUp {
		e.LinkStatus = "LinkUp"
		speed := p.SpeedMbps
		e.SpeedMbps = &speed
	}
	return e, nil
}

// getManagerEthernetInterfaces lists the BMC's LAN port.
func (s *service) getManagerEthernetInterfaces(r *request) (any, error) {
	if err := lookupManager(r); err != nil {
		return nil, err
	}
	return newCollection(managerEthernetInterfacesPath(), typeEthernetInterfaceCollection, "Manager Ethernet Interface Collection",
		links(managerEthernetInterfacesPath()+"/"+bmcInterfaceID)), nil
}

// getManagerEthernetInterface is the BMC's LAN port: the MAC and address
// IPMI's LAN configuration parameters 3, 5, 6 and 12 report (the address
// IPMI listens on, the platform's BMCMAC), so both surfaces describe one
// port.
func (s *service) getManagerEthernetInterface(r *request) (any, error) {
	if err := lookupManager(r); err != nil {
		return nil, err
	}
	if id := r.param("bmcnic"); id != bmcInterfaceID {
		return nil, errResourceNotFound("EthernetInterface", id)
	}
	mac := platform.BMCMAC(r.snap.System.SerialNumber).String()
	speed := 1000
	e := ethernetInterface{
		odata:                 odata{ID: managerEthernetInterfacesPath() + "/" + bmcInterfaceID, Type: typeEthernetInterface},
		ID:                    bmcInterfaceID,
		Name:                  "Manager Ethernet Interface",
		Description:           "The BMC's dedicated management port (the IPMI LAN channel)",
		EthernetInterfaceType: "Physical",
		InterfaceEnabled:      true,
		LinkStatus:            "LinkUp",
		MACAddress:            mac,
		PermanentMACAddress:   mac,
		SpeedMbps:             &speed,
		AutoNeg:               true,
		FullDuplex:            true,
		MTUSize:               1500,
		HostName:              bmcHostName(r.snap),
		NameServers:           []string{},
		Status:                status{State: "Enabled", Health: "OK"},
	}
	if ip := s.network.ipmiIP(); ip != nil {
		if ip4 := ip.To4(); ip4 != nil {
			e.IPv4Addresses = []ipv4Address{{Address: ip4.String(), SubnetMask: net.IP(bmcNetmask(ip4)).String(),
				AddressOrigin: "Static", Gateway: "0.0.0.0"}}
		} else {
			e.IPv6Addresses = []ipv6Address{{Address: ip.String(), PrefixLength: 64, AddressOrigin: "Static", AddressState: "Preferred"}}
		}
	}
	return e, nil
}

// bmcNetmask is the subnet mask IPMI's LAN parameter 6 reports for the
// BMC's address: 255.0.0.0 on loopback, 255.255.255.0 elsewhere.
func bmcNetmask(ip4 net.IP) net.IPMask {
	if ip4[0] == 127 {
		return net.CIDRMask(8, 32)
	}
	return net.CIDRMask(24, 32)
}

// bmcHostName names the BMC after the server it manages.
func bmcHostName(snap *platform.Snapshot) string {
	var b strings.Builder
	b.WriteString("bmc-")
	for _, c := range strings.ToLower(snap.System.SerialNumber) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

func lookupManager(r *request) error {
	if id := r.param("manager"); id != managerID {
		return errResourceNotFound("Manager", id)
	}
	return nil
}

package redfish

import (
	"net"
	"strconv"
)

// The Manager's NetworkProtocol (DSP0268 ManagerNetworkProtocol.v1_12_0):
// which of the BMC's network services run and on which ports. The
// emulator runs Redfish over HTTP and HTTPS and IPMI over LAN where the
// composition root bound them (Config.Network); it runs no SSH, SNMP
// agent, KVM, virtual media server, SSDP or NTP client, which are listed
// disabled so a client can tell "off" from "not reported".

const typeNetworkProtocol = "#ManagerNetworkProtocol.v1_12_0.ManagerNetworkProtocol"

func networkProtocolPath() string { return managerPath() + "/NetworkProtocol" }

// NetworkConfig is where the BMC's services listen ("host:port"; "" for
// a service not running), as the Manager's NetworkProtocol and
// EthernetInterface report them.
type NetworkConfig struct {
	// IPMI is IPMI over LAN's UDP address.
	IPMI string
	// HTTP and HTTPS are the Redfish listeners.
	HTTP, HTTPS string
}

// ipmiIP is the address the BMC's LAN port answers IPMI on (the IPMI LAN
// channel's IP address), nil when unknown.
func (n NetworkConfig) ipmiIP() net.IP {
	host, _, err := net.SplitHostPort(n.IPMI)
	if err != nil {
		return nil
	}
	return net.ParseIP(host)
}

type protocolSetting struct {
	ProtocolEnabled bool `json:"ProtocolEnabled"`
	Port            *int `json:"Port,omitempty"`
}

type networkProtocol struct {
	odata
	ID           string          `json:"Id"`
	Name         string          `json:"Name"`
	Description  string          `json:"Description"`
	HostName     string          `json:"HostName"`
	HTTP         protocolSetting `json:"HTTP"`
	HTTPS        protocolSetting `json:"HTTPS"`
	IPMI         protocolSetting `json:"IPMI"`
	SSH          protocolSetting `json:"SSH"`
	SNMP         protocolSetting `json:"SNMP"`
	VirtualMedia protocolSetting `json:"VirtualMedia"`
	KVMIP        protocolSetting `json:"KVMIP"`
	SSDP         protocolSetting `json:"SSDP"`
	Telnet       protocolSetting `json:"Telnet"`
	NTP          protocolSetting `json:"NTP"`
	Status       status          `json:"Status"`
}

// setting is a protocol listening at addr ("" is off).
func setting(addr string) protocolSetting {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return protocolSetting{}
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return protocolSetting{}
	}
	return protocolSetting{ProtocolEnabled: true, Port: &port}
}

func (s *service) getNetworkProtocol(r *request) (any, error) {
	if err := lookupManager(r); err != nil {
		return nil, err
	}
	return networkProtocol{
		odata:       odata{ID: networkProtocolPath(), Type: typeNetworkProtocol},
		ID:          "NetworkProtocol",
		Name:        "Manager Network Protocol",
		Description: "The BMC's network services",
		HostName:    bmcHostName(r.snap),
		HTTP:        setting(s.network.HTTP),
		HTTPS:       setting(s.network.HTTPS),
		IPMI:        setting(s.network.IPMI),
		Status:      status{State: "Enabled", Health: "OK"},
	}, nil
}

// managerResources is the part of the Manager that links its port,
// network protocols and log: embedded in manager so the links sit at the
// top level.
type managerResources struct {
	EthernetInterfaces link `json:"EthernetInterfaces"`
	NetworkProtocol    link `json:"NetworkProtocol"`
	LogServices        link `json:"LogServices"`
}

func newManagerResources() managerResources {
	return managerResources{EthernetInterfaces: link{ID: managerEthernetInterfacesPath()},
		NetworkProtocol: link{ID: networkProtocolPath()}, LogServices: link{ID: managerLogServicesPath()}}
}

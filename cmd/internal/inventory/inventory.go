// Package inventory writes a running fleet's members in the forms
// provisioning tools read directly: Ironic's node file, Metal3
// BareMetalHosts with their Secrets, an Ansible inventory, CSV and JSON.
package inventory

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/control"
)

// Every member serves its one system at the same path.
const (
	systemPath   = "/redfish/v1/Systems/1"
	serviceRoot  = "/redfish/v1"
	ironicArch   = "x86_64" // the simulated server is an x86_64 machine (its kernel's memory geometry is)
	ansibleGroup = "bmcemu"
)

// Member is one fleet member as the inventories describe it: what the
// control API lists, the boot MAC, and the endpoints split the way the
// provisioning tools want them.
type Member struct {
	control.ServerInfo
	BootMAC string
	// Root is the Redfish service root the inventories point at: the
	// HTTPS one when the member has one, else its HTTP one.
	Root *url.URL
	// HTTPS is false when the member serves Redfish over HTTP only.
	HTTPS    bool
	IPMIHost string
	IPMIPort int
	// MemoryMiB is the installed memory (0: not read).
	MemoryMiB uint64
}

// NewMembers checks the listing and derives each member's endpoints.
func NewMembers(ss []control.ServerInfo) ([]Member, error) {
	out := make([]Member, 0, len(ss))
	for _, s := range ss {
		m := Member{ServerInfo: s, BootMAC: platform.HostNICMAC(s.Serial).String()}
		if s.Serial == "" {
			return nil, fmt.Errorf("member %s lists no serial number", s.ID)
		}
		host, port, err := net.SplitHostPort(s.IPMI)
		if err != nil {
			return nil, fmt.Errorf("member %s: IPMI address %q: %w", s.ID, s.IPMI, err)
		}
		if m.IPMIPort, err = strconv.Atoi(port); err != nil || m.IPMIPort < 1 || m.IPMIPort > 65535 {
			return nil, fmt.Errorf("member %s: IPMI address %q has no valid port", s.ID, s.IPMI)
		}
		m.IPMIHost = host
		for _, r := range s.Redfish {
			u, err := url.Parse(r)
			if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
				return nil, fmt.Errorf("member %s: Redfish service root %q is not an http(s) URL", s.ID, r)
			}
			if u.Scheme == "https" && !m.HTTPS {
				m.Root, m.HTTPS = u, true
			} else if m.Root == nil {
				m.Root = u
			}
		}
		if m.Root == nil {
			return nil, fmt.Errorf("member %s lists no Redfish service root", s.ID)
		}
		out = append(out, m)
	}
	return out, nil
}

// base is the scheme and authority of the member's Redfish service
// (https://127.0.1.1:443), what Ironic calls redfish_address.
func (m Member) base() string {
	return m.Root.Scheme + "://" + m.Root.Host
}

// rootURL is the member's Redfish service root URL.
func (m Member) rootURL() string {
	return m.base() + serviceRoot
}

// --- ironic -----------------------------------------------------------------

// ironicFile is what `openstack baremetal create FILE.json` reads: a
// document with "nodes" (and "chassis", which we do not use); each node is
// the body of POST /v1/nodes plus its "ports".
type ironicFile struct {
	Nodes []ironicNode `json:"nodes"`
}

type ironicNode struct {
	Name       string         `json:"name"`
	Driver     string         `json:"driver"`
	DriverInfo map[string]any `json:"driver_info"`
	Properties map[string]any `json:"properties"`
	Extra      map[string]any `json:"extra"`
	Ports      []ironicPort   `json:"ports"`
}

type ironicPort struct {
	Address    string `json:"address"`
	PXEEnabled bool   `json:"pxe_enabled"`
}

// renderIronic writes the nodes for driver "redfish" or "ipmi".
func renderIronic(w io.Writer, ms []Member, driver string) error {
	f := ironicFile{Nodes: []ironicNode{}}
	for _, m := range ms {
		n := ironicNode{
			Name: m.ID, Driver: driver,
			Properties: map[string]any{"cpu_arch": ironicArch},
			Extra:      map[string]any{"serial_number": m.Serial},
			Ports:      []ironicPort{{Address: m.BootMAC, PXEEnabled: true}},
		}
		if m.MemoryMiB > 0 {
			n.Properties["memory_mb"] = m.MemoryMiB
		}
		switch driver {
		case "redfish":
			n.DriverInfo = map[string]any{
				"redfish_address":   m.base(),
				"redfish_system_id": systemPath,
				"redfish_username":  m.User,
				"redfish_password":  m.Password,
				"redfish_verify_ca": false,
			}
		case "ipmi":
			n.DriverInfo = map[string]any{
				"ipmi_address":  m.IPMIHost,
				"ipmi_port":     m.IPMIPort,
				"ipmi_username": m.User,
				"ipmi_password": m.Password,
			}
		default:
			return fmt.Errorf("--ironic-driver %q: want redfish or ipmi", driver)
		}
		f.Nodes = append(f.Nodes, n)
	}
	return writeJSON(w, f)
}

// --- metal3 -----------------------------------------------------------------

// The Metal3 documents: a Secret with the BMC credentials and the
// BareMetalHost that names it, per member (field names as in the
// metal3.io/v1alpha1 CRD and core/v1 Secret).
type k8sMeta struct {
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace,omitempty"`
}

type k8sSecret struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   k8sMeta           `yaml:"metadata"`
	Type       string            `yaml:"type"`
	StringData map[string]string `yaml:"stringData"`
}

type bareMetalHost struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	Metadata   k8sMeta `yaml:"metadata"`
	Spec       bmhSpec `yaml:"spec"`
}

type bmhSpec struct {
	Online         bool       `yaml:"online"`
	BootMACAddress string     `yaml:"bootMACAddress"`
	BMC            bmhDetails `yaml:"bmc"`
	Description    string     `yaml:"description,omitempty"`
}

type bmhDetails struct {
	Address                        string `yaml:"address"`
	CredentialsName                string `yaml:"credentialsName"`
	DisableCertificateVerification bool   `yaml:"disableCertificateVerification"`
}

// metal3Address is the member's BMC address in BareMetalHost form: the
// scheme names Ironic's driver (redfish+https://HOST:PORT/redfish/v1/Systems/1,
// or ipmi://HOST:PORT).
func metal3Address(m Member, kind string) (string, error) {
	switch kind {
	case "redfish":
		return "redfish+" + m.base() + systemPath, nil
	case "ipmi":
		return "ipmi://" + net.JoinHostPort(m.IPMIHost, strconv.Itoa(m.IPMIPort)), nil
	}
	return "", fmt.Errorf("--metal3-bmc %q: want redfish or ipmi", kind)
}

// renderMetal3 writes a Secret and a BareMetalHost per member.
func renderMetal3(w io.Writer, ms []Member, kind, namespace string) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	for _, m := range ms {
		addr, err := metal3Address(m, kind)
		if err != nil {
			return err
		}
		secret := m.ID + "-bmc-secret"
		if err := enc.Encode(k8sSecret{
			APIVersion: "v1", Kind: "Secret", Type: "Opaque",
			Metadata:   k8sMeta{Name: secret, Namespace: namespace},
			StringData: map[string]string{"username": m.User, "password": m.Password},
		}); err != nil {
			return err
		}
		if err := enc.Encode(bareMetalHost{
			APIVersion: "metal3.io/v1alpha1", Kind: "BareMetalHost",
			Metadata: k8sMeta{Name: m.ID, Namespace: namespace},
			Spec: bmhSpec{
				Online: false, BootMACAddress: m.BootMAC,
				BMC:         bmhDetails{Address: addr, CredentialsName: secret, DisableCertificateVerification: true},
				Description: fmt.Sprintf("bmcemu member %s (serial %s)", m.ID, m.Serial),
			},
		}); err != nil {
			return err
		}
	}
	return enc.Close()
}

// --- ansible ----------------------------------------------------------------

// ansibleHost is one host's variables: what community.general's redfish
// modules take (baseuri is HOST:PORT, no scheme: the modules prepend
// https://), and the IPMI endpoint for ipmitool or community.general.ipmi_*.
type ansibleHost struct {
	BaseURI      string        `yaml:"baseuri"`
	Username     ansibleString `yaml:"username"`
	Password     ansibleString `yaml:"password"`
	IPMIHost     string        `yaml:"ipmi_host"`
	IPMIPort     int           `yaml:"ipmi_port"`
	SerialNumber string        `yaml:"serial_number"`
	BootMAC      string        `yaml:"boot_mac"`
}

// ansibleString is a value Ansible must not template: one holding a Jinja
// delimiter is tagged !unsafe, as Ansible documents for such values.
type ansibleString string

func (s ansibleString) MarshalYAML() (any, error) {
	if !strings.Contains(string(s), "{") {
		return string(s), nil // quoted by the encoder where YAML 1.1 would misread it (yes, 1:30)
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!unsafe", Style: yaml.SingleQuotedStyle, Value: string(s)}, nil
}

type ansibleGroupVars struct {
	Connection string `yaml:"ansible_connection"`
	Python     string `yaml:"ansible_python_interpreter"`
}

type ansibleGroupDef struct {
	Vars  ansibleGroupVars       `yaml:"vars"`
	Hosts map[string]ansibleHost `yaml:"hosts"`
}

type ansibleInventory struct {
	All struct {
		Children map[string]ansibleGroupDef `yaml:"children"`
	} `yaml:"all"`
}

// renderAnsible writes a YAML inventory: the members are the hosts of group
// bmcemu, reached with connection local (the modules talk to the BMC from
// the controller).
func renderAnsible(w io.Writer, ms []Member) error {
	var inv ansibleInventory
	hosts := map[string]ansibleHost{}
	for _, m := range ms {
		if !m.HTTPS {
			return fmt.Errorf("member %s serves Redfish over HTTP only: Ansible's redfish modules speak HTTPS (serve the fleet with --member-https-port)", m.ID)
		}
		hosts[m.ID] = ansibleHost{
			BaseURI: m.Root.Host, Username: ansibleString(m.User), Password: ansibleString(m.Password),
			IPMIHost: m.IPMIHost, IPMIPort: m.IPMIPort, SerialNumber: m.Serial, BootMAC: m.BootMAC,
		}
	}
	inv.All.Children = map[string]ansibleGroupDef{ansibleGroup: {
		Vars:  ansibleGroupVars{Connection: "local", Python: "{{ ansible_playbook_python }}"},
		Hosts: hosts,
	}}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(inv); err != nil {
		return err
	}
	return enc.Close()
}

// --- csv, json --------------------------------------------------------------

var csvHeader = []string{"id", "serial_number", "address", "ipmi_host", "ipmi_port", "redfish_url", "user", "password", "boot_mac"}

func renderCSV(w io.Writer, ms []Member) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, m := range ms {
		if err := cw.Write([]string{m.ID, m.Serial, m.Address, m.IPMIHost, strconv.Itoa(m.IPMIPort), m.rootURL(), m.User, m.Password, m.BootMAC}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// jsonMember is a member as the control API lists it, plus its boot MAC.
type jsonMember struct {
	control.ServerInfo
	BootMAC string `json:"boot_mac"`
}

func renderJSONInventory(w io.Writer, ms []Member) error {
	out := make([]jsonMember, 0, len(ms))
	for _, m := range ms {
		out = append(out, jsonMember{ServerInfo: m.ServerInfo, BootMAC: m.BootMAC})
	}
	return writeJSON(w, out)
}

// Options choose the format and its variants.
type Options struct {
	Format       string // one of Formats
	IronicDriver string // redfish or ipmi
	Metal3BMC    string // redfish or ipmi
	Namespace    string // Metal3 objects' namespace ("" leaves it out)
}

// Formats are the --format values.
var Formats = []string{"ironic", "metal3", "ansible", "csv", "json"}

// Render writes ms in o.Format.
func Render(w io.Writer, ms []Member, o *Options) error {
	switch o.Format {
	case "ironic":
		return renderIronic(w, ms, o.IronicDriver)
	case "metal3":
		return renderMetal3(w, ms, o.Metal3BMC, o.Namespace)
	case "ansible":
		return renderAnsible(w, ms)
	case "csv":
		return renderCSV(w, ms)
	case "json":
		return renderJSONInventory(w, ms)
	}
	return errors.New("--format " + strconv.Quote(o.Format) + ": want one of " + strings.Join(Formats, ", "))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

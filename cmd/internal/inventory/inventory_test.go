package inventory

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	yaml3 "gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/control"
)

// testFleet is a listing as GET /emulator/v1/servers gives it: members on
// their own addresses, one on a shared address with its own ports and HTTP
// beside HTTPS, one on IPv6, and passwords YAML would misread unquoted.
func testFleet(t *testing.T) []Member {
	t.Helper()
	ss := []control.ServerInfo{
		{ID: "bmc-001", Profile: "default", Serial: "EMUF83U9FV", Address: "127.0.1.1", IPMI: "127.0.1.1:623",
			Redfish: []string{"https://127.0.1.1:443/redfish/v1"}, User: "admin", Password: "password"},
		{ID: "db", Profile: "mirror", Serial: "EMUSQXMQ6T", Address: "127.0.2.1", IPMI: "127.0.2.1:16231",
			Redfish: []string{"http://127.0.2.1:18001/redfish/v1", "https://127.0.2.1:18444/redfish/v1"}, User: "root", Password: "1:30"},
		{ID: "v6", Profile: "default", Serial: "EMU37SF5YQ", Address: "::1", IPMI: "[::1]:16232",
			Redfish: []string{"https://[::1]:18445/redfish/v1"}, User: "ops", Password: "yes{{ x }}"},
	}
	ms, err := NewMembers(ss)
	if err != nil {
		t.Fatal(err)
	}
	ms[0].MemoryMiB = 524288
	return ms
}

func render(t *testing.T, ms []Member, o Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, ms, &o); err != nil {
		t.Fatalf("%s: %v", o.Format, err)
	}
	return buf.Bytes()
}

func decodeStrictJSON(t *testing.T, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("strict decode: %v\n%s", err, data)
	}
	if dec.More() {
		t.Fatalf("trailing data after the document:\n%s", data)
	}
}

// What `openstack baremetal create` accepts, as python-ironicclient 5.0.1
// checks it: the file's top level against _CREATE_SCHEMA (chassis and nodes
// only); each node's keys against NodeManager._creation_attributes (plus
// ports and portgroups, which it posts separately); each port's against
// PortManager._creation_attributes. Anything else is InvalidAttribute.
var (
	ironicNodeAttrs = []string{"automated_clean", "bios_interface", "boot_interface", "chassis_uuid", "conductor_group",
		"console_interface", "deploy_interface", "driver", "driver_info", "extra", "inspect_interface", "management_interface",
		"name", "network_data", "network_interface", "power_interface", "properties", "raid_interface", "rescue_interface",
		"resource_class", "storage_interface", "uuid", "vendor_interface", "ports", "portgroups"}
	ironicPortAttrs = []string{"address", "extra", "is_smartnic", "local_link_connection", "node_uuid", "physical_network",
		"portgroup_uuid", "pxe_enabled", "uuid"}
	// The driver_info keys Ironic's redfish and ipmi hardware types know
	// (ironic/drivers/modules/redfish/utils.py, ipmitool.py).
	ironicDriverInfo = map[string][]string{
		"redfish": {"redfish_address", "redfish_system_id", "redfish_username", "redfish_password", "redfish_verify_ca",
			"redfish_auth_type"},
		"ipmi": {"ipmi_address", "ipmi_port", "ipmi_username", "ipmi_password", "ipmi_protocol_version", "ipmi_priv_level",
			"ipmi_cipher_suite"},
	}
)

var macRE = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)

func TestInventoryIronic(t *testing.T) {
	ms := testFleet(t)
	for _, driver := range []string{"redfish", "ipmi"} {
		t.Run(driver, func(t *testing.T) {
			data := render(t, ms, Options{Format: "ironic", IronicDriver: driver})
			var file struct {
				Chassis []json.RawMessage `json:"chassis"`
				Nodes   []map[string]json.RawMessage
			}
			decodeStrictJSON(t, data, &file)
			if len(file.Nodes) != len(ms) {
				t.Fatalf("%d nodes for %d members", len(file.Nodes), len(ms))
			}
			for i, raw := range file.Nodes {
				m := ms[i]
				for k := range raw {
					if !slices.Contains(ironicNodeAttrs, k) {
						t.Errorf("node %s: ironicclient refuses attribute %q", m.ID, k)
					}
				}
				var n struct {
					Name       string
					Driver     string
					DriverInfo map[string]any `json:"driver_info"`
					Properties map[string]any
					Extra      map[string]any
					Ports      []map[string]any
				}
				b, _ := json.Marshal(raw)
				decodeStrictJSON(t, b, &n)
				if n.Name != m.ID || n.Driver != driver {
					t.Errorf("node %d: name %q driver %q, want %q %q", i, n.Name, n.Driver, m.ID, driver)
				}
				for k := range n.DriverInfo {
					if !slices.Contains(ironicDriverInfo[driver], k) {
						t.Errorf("node %s: driver %s has no driver_info %q", m.ID, driver, k)
					}
				}
				switch driver {
				case "redfish":
					u, err := url.Parse(n.DriverInfo["redfish_address"].(string))
					if err != nil || u.Scheme != "https" || u.Path != "" || u.Host == "" {
						t.Errorf("node %s: redfish_address %v is not an https base URL", m.ID, n.DriverInfo["redfish_address"])
					} else if want := strings.TrimPrefix(m.Root.String(), "https://"); !strings.HasPrefix(want, u.Host+"/") {
						t.Errorf("node %s: redfish_address %s, member's service root %s", m.ID, u, m.Root)
					}
					if n.DriverInfo["redfish_system_id"] != "/redfish/v1/Systems/1" || n.DriverInfo["redfish_verify_ca"] != false ||
						n.DriverInfo["redfish_username"] != m.User || n.DriverInfo["redfish_password"] != m.Password {
						t.Errorf("node %s: driver_info %v", m.ID, n.DriverInfo)
					}
				case "ipmi":
					host, port, _ := net.SplitHostPort(m.IPMI)
					if n.DriverInfo["ipmi_address"] != host || n.DriverInfo["ipmi_port"] != mustFloat(port) ||
						n.DriverInfo["ipmi_username"] != m.User || n.DriverInfo["ipmi_password"] != m.Password {
						t.Errorf("node %s: driver_info %v, member IPMI %s", m.ID, n.DriverInfo, m.IPMI)
					}
				}
				if len(n.Ports) != 1 {
					t.Fatalf("node %s: %d ports", m.ID, len(n.Ports))
				}
				for k := range n.Ports[0] {
					if !slices.Contains(ironicPortAttrs, k) {
						t.Errorf("node %s: ironicclient refuses port attribute %q", m.ID, k)
					}
				}
				if mac := n.Ports[0]["address"]; mac != platform.HostNICMAC(m.Serial).String() || !macRE.MatchString(mac.(string)) {
					t.Errorf("node %s: port address %v, want the boot MAC %s", m.ID, mac, platform.HostNICMAC(m.Serial))
				}
				if n.Properties["cpu_arch"] != "x86_64" {
					t.Errorf("node %s: properties %v", m.ID, n.Properties)
				}
				if _, ok := n.Properties["memory_mb"]; ok != (m.MemoryMiB > 0) {
					t.Errorf("node %s: memory_mb in %v, member's memory %d MiB", m.ID, n.Properties, m.MemoryMiB)
				}
				if n.Extra["serial_number"] != m.Serial {
					t.Errorf("node %s: extra %v", m.ID, n.Extra)
				}
			}
		})
	}
}

func mustFloat(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// bareMetalHostCRD mirrors the metal3.io/v1alpha1 BareMetalHost as the
// baremetal-operator's apis module declares it (BareMetalHostSpec and
// BMCDetails field for field; the module itself cannot be fetched here).
// Fields the inventory does not set are kept as raw JSON so that a name the
// CRD lacks still fails strict decoding.
type bareMetalHostCRD struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		Taints                         json.RawMessage `json:"taints,omitempty"`
		BMC                            bmcDetailsCRD   `json:"bmc,omitempty"`
		RAID                           json.RawMessage `json:"raid,omitempty"`
		Firmware                       json.RawMessage `json:"firmware,omitempty"`
		HardwareProfile                string          `json:"hardwareProfile,omitempty"`
		RootDeviceHints                json.RawMessage `json:"rootDeviceHints,omitempty"`
		BootMode                       string          `json:"bootMode,omitempty"`
		BootMACAddress                 string          `json:"bootMACAddress,omitempty"`
		Online                         *bool           `json:"online"` // required: a pointer sees it missing
		ConsumerRef                    json.RawMessage `json:"consumerRef,omitempty"`
		Image                          json.RawMessage `json:"image,omitempty"`
		UserData                       json.RawMessage `json:"userData,omitempty"`
		PreprovisioningNetworkDataName string          `json:"preprovisioningNetworkDataName,omitempty"`
		NetworkData                    json.RawMessage `json:"networkData,omitempty"`
		MetaData                       json.RawMessage `json:"metaData,omitempty"`
		Description                    string          `json:"description,omitempty"`
		ExternallyProvisioned          bool            `json:"externallyProvisioned,omitempty"`
		AutomatedCleaningMode          string          `json:"automatedCleaningMode,omitempty"`
		CustomDeploy                   json.RawMessage `json:"customDeploy,omitempty"`
		Architecture                   string          `json:"architecture,omitempty"`
		DisablePowerOff                bool            `json:"disablePowerOff,omitempty"`
		InspectionMode                 string          `json:"inspectionMode,omitempty"`
		NetworkInterfaces              json.RawMessage `json:"networkInterfaces,omitempty"`
	} `json:"spec,omitempty"`
	Status json.RawMessage `json:"status,omitempty"`
}

type bmcDetailsCRD struct {
	Address                        string `json:"address"`
	CredentialsName                string `json:"credentialsName"`
	DisableCertificateVerification bool   `json:"disableCertificateVerification,omitempty"`
}

// The CRD's bootMACAddress pattern.
var crdMACRE = regexp.MustCompile(`[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}`)

// yamlDocs splits a multi-document stream the way kubectl does.
func yamlDocs(t *testing.T, data []byte) [][]byte {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		d, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(bytes.TrimSpace(d)) > 0 {
			docs = append(docs, d)
		}
	}
}

func TestInventoryMetal3(t *testing.T) {
	ms := testFleet(t)
	for _, kind := range []string{"redfish", "ipmi"} {
		for _, ns := range []string{"", "metal3"} {
			t.Run(kind+"/"+ns, func(t *testing.T) {
				docs := yamlDocs(t, render(t, ms, Options{Format: "metal3", Metal3BMC: kind, Namespace: ns}))
				if len(docs) != 2*len(ms) {
					t.Fatalf("%d documents for %d members", len(docs), len(ms))
				}
				secrets := map[string]corev1.Secret{}
				for i, d := range docs {
					var tm metav1.TypeMeta
					if err := yaml.Unmarshal(d, &tm); err != nil {
						t.Fatalf("document %d: %v", i, err)
					}
					switch tm.APIVersion + " " + tm.Kind {
					case "v1 Secret":
						var s corev1.Secret
						if err := yaml.UnmarshalStrict(d, &s); err != nil {
							t.Fatalf("document %d as a core/v1 Secret: %v\n%s", i, err, d)
						}
						if s.Type != corev1.SecretTypeOpaque || s.Namespace != ns {
							t.Errorf("secret %s: type %q namespace %q", s.Name, s.Type, s.Namespace)
						}
						secrets[s.Name] = s
					case "metal3.io/v1alpha1 BareMetalHost":
						var h bareMetalHostCRD
						if err := yaml.UnmarshalStrict(d, &h); err != nil {
							t.Fatalf("document %d as a BareMetalHost: %v\n%s", i, err, d)
						}
						m := ms[i/2]
						if h.Name != m.ID || h.Namespace != ns {
							t.Errorf("host %q in %q, want %q in %q", h.Name, h.Namespace, m.ID, ns)
						}
						if h.Spec.Online == nil || *h.Spec.Online {
							t.Errorf("host %s: online %v, want false", m.ID, h.Spec.Online)
						}
						if h.Spec.BootMACAddress != platform.HostNICMAC(m.Serial).String() || !crdMACRE.MatchString(h.Spec.BootMACAddress) {
							t.Errorf("host %s: bootMACAddress %q", m.ID, h.Spec.BootMACAddress)
						}
						if !h.Spec.BMC.DisableCertificateVerification {
							t.Errorf("host %s: certificate verification on", m.ID)
						}
						checkMetal3Address(t, m, kind, h.Spec.BMC.Address)
						s, ok := secrets[h.Spec.BMC.CredentialsName]
						if !ok {
							t.Fatalf("host %s: credentials %q are not a Secret before it", m.ID, h.Spec.BMC.CredentialsName)
						}
						if s.StringData["username"] != m.User || s.StringData["password"] != m.Password || len(s.StringData) != 2 {
							t.Errorf("host %s: secret %v, want %s/%s", m.ID, s.StringData, m.User, m.Password)
						}
					default:
						t.Fatalf("document %d: %s %s", i, tm.APIVersion, tm.Kind)
					}
				}
			})
		}
	}
}

// checkMetal3Address parses a BMC address as baremetal-operator's bmc
// package does: the scheme names the driver, the host is the BMC's, the
// path (redfish) the system.
func checkMetal3Address(t *testing.T, m Member, kind, addr string) {
	t.Helper()
	u, err := url.Parse(addr)
	if err != nil {
		t.Fatalf("host %s: bmc.address %q: %v", m.ID, addr, err)
	}
	switch kind {
	case "redfish":
		if u.Scheme != "redfish+https" || u.Host != m.Root.Host || u.Path != "/redfish/v1/Systems/1" {
			t.Errorf("host %s: bmc.address %q, want redfish+https://%s/redfish/v1/Systems/1", m.ID, addr, m.Root.Host)
		}
	case "ipmi":
		if u.Scheme != "ipmi" || u.Host != net.JoinHostPort(m.IPMIHost, strconv.Itoa(m.IPMIPort)) || u.Path != "" {
			t.Errorf("host %s: bmc.address %q, want ipmi://%s", m.ID, addr, m.IPMI)
		}
	}
}

func TestInventoryAnsible(t *testing.T) {
	ms := testFleet(t)
	data := render(t, ms, Options{Format: "ansible"})
	type host struct {
		BaseURI      string `yaml:"baseuri"`
		Username     string `yaml:"username"`
		Password     string `yaml:"password"`
		IPMIHost     string `yaml:"ipmi_host"`
		IPMIPort     int    `yaml:"ipmi_port"`
		SerialNumber string `yaml:"serial_number"`
		BootMAC      string `yaml:"boot_mac"`
	}
	var inv struct {
		All struct {
			Children map[string]struct {
				Vars  map[string]string
				Hosts map[string]host
			}
		}
	}
	dec := yaml3.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&inv); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	g, ok := inv.All.Children["bmcemu"]
	if !ok || len(inv.All.Children) != 1 || len(g.Hosts) != len(ms) {
		t.Fatalf("want one group bmcemu with %d hosts:\n%s", len(ms), data)
	}
	if g.Vars["ansible_connection"] != "local" {
		t.Errorf("group vars %v: the redfish modules run on the controller", g.Vars)
	}
	for _, m := range ms {
		h := g.Hosts[m.ID]
		if strings.Contains(h.BaseURI, "://") || h.BaseURI != m.Root.Host {
			t.Errorf("host %s: baseuri %q, want %q (no scheme: the modules prepend https://)", m.ID, h.BaseURI, m.Root.Host)
		}
		if h.Username != m.User || h.Password != m.Password || h.SerialNumber != m.Serial || h.BootMAC != m.BootMAC ||
			net.JoinHostPort(h.IPMIHost, strconv.Itoa(h.IPMIPort)) != m.IPMI {
			t.Errorf("host %s: %+v", m.ID, h)
		}
	}
	// PyYAML (YAML 1.1) would read 1:30 as the integer 90.
	if !strings.Contains(string(data), `password: "1:30"`) {
		t.Errorf("the password 1:30 is not quoted:\n%s", data)
	}
	// A password Jinja would template is marked !unsafe.
	if !strings.Contains(string(data), `password: !unsafe 'yes{{ x }}'`) {
		t.Errorf("the password with {{ }} is not !unsafe:\n%s", data)
	}

	// A member with HTTP only cannot be reached by the redfish modules.
	httpOnly := ms[:1:1]
	httpOnly[0].HTTPS = false
	if err := renderAnsible(io.Discard, httpOnly); err == nil {
		t.Error("an HTTP-only member made an Ansible inventory")
	}
}

func TestInventoryCSV(t *testing.T) {
	ms := testFleet(t)
	rows, err := csv.NewReader(bytes.NewReader(render(t, ms, Options{Format: "csv"}))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(ms)+1 || !slices.Equal(rows[0], csvHeader) {
		t.Fatalf("rows %v", rows)
	}
	col := func(row []string, name string) string { return row[slices.Index(csvHeader, name)] }
	for i, m := range ms {
		r := rows[i+1]
		if col(r, "id") != m.ID || col(r, "serial_number") != m.Serial || col(r, "address") != m.Address ||
			net.JoinHostPort(col(r, "ipmi_host"), col(r, "ipmi_port")) != m.IPMI || col(r, "user") != m.User ||
			col(r, "password") != m.Password || col(r, "boot_mac") != m.BootMAC || !slices.Contains(m.ServerInfo.Redfish, col(r, "redfish_url")) {
			t.Errorf("row %v for %+v", r, m.ServerInfo)
		}
		if strings.HasPrefix(col(r, "redfish_url"), "http:") {
			t.Errorf("row %v: the HTTP service root where HTTPS is served", r)
		}
	}
}

func TestInventoryJSON(t *testing.T) {
	ms := testFleet(t)
	var got []struct {
		control.ServerInfo
		BootMAC string `json:"boot_mac"`
	}
	decodeStrictJSON(t, render(t, ms, Options{Format: "json"}), &got)
	if len(got) != len(ms) {
		t.Fatalf("%d members, want %d", len(got), len(ms))
	}
	for i, m := range ms {
		if !slices.Equal(got[i].Redfish, m.ServerInfo.Redfish) || got[i].ID != m.ID || got[i].Password != m.Password {
			t.Errorf("member %d: %+v, want %+v", i, got[i].ServerInfo, m.ServerInfo)
		}
		if got[i].BootMAC != m.BootMAC || !macRE.MatchString(got[i].BootMAC) {
			t.Errorf("member %s: boot_mac %q", m.ID, got[i].BootMAC)
		}
	}
}

func TestInventoryRefusesBadListings(t *testing.T) {
	good := control.ServerInfo{ID: "a", Serial: "S", IPMI: "127.0.0.1:623", Redfish: []string{"https://127.0.0.1:443/redfish/v1"}}
	for name, mut := range map[string]func(*control.ServerInfo){
		"no serial":       func(s *control.ServerInfo) { s.Serial = "" },
		"no ipmi port":    func(s *control.ServerInfo) { s.IPMI = "127.0.0.1" },
		"no redfish":      func(s *control.ServerInfo) { s.Redfish = nil },
		"not a URL":       func(s *control.ServerInfo) { s.Redfish = []string{"127.0.0.1:443"} },
		"unknown scheme":  func(s *control.ServerInfo) { s.Redfish = []string{"ftp://127.0.0.1/redfish/v1"} },
		"port out of use": func(s *control.ServerInfo) { s.IPMI = "127.0.0.1:0" },
	} {
		s := good
		mut(&s)
		if _, err := NewMembers([]control.ServerInfo{s}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewMembers([]control.ServerInfo{good}); err != nil {
		t.Fatal(err)
	}
	if err := Render(io.Discard, nil, &Options{Format: "xml"}); err == nil {
		t.Error("--format xml accepted")
	}
}

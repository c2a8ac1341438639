package conformance

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// inventory runs `bmcemu fleet inventory` against the fleet's control
// listener with -o FILE and returns the file.
func (e *Emulator) inventory(args ...string) []byte {
	e.t.Helper()
	file := filepath.Join(e.t.TempDir(), "inventory")
	base := []string{"fleet", "inventory", "--server", e.URL, "-u", e.User, "-p", e.Password, "-o", file}
	if out, err := run(e.t, time.Minute, bmcemuBin, append(base, args...)...); err != nil {
		e.t.Fatalf("bmcemu fleet inventory %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	st, err := os.Stat(file)
	if err != nil {
		e.t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		e.t.Errorf("inventory %s written mode %v: it holds passwords", strings.Join(args, " "), st.Mode().Perm())
	}
	data, err := os.ReadFile(file)
	if err != nil {
		e.t.Fatal(err)
	}
	return data
}

// redfishSystem GETs a system URL as a provisioning tool configured from an
// inventory would (certificate not verified, Basic auth) and returns its
// serial number and memory.
func redfishSystem(t *testing.T, systemURL, user, password string) (serial string, memGiB float64) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, systemURL, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", systemURL, err)
	}
	req.SetBasicAuth(user, password)
	resp, err := insecure.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", systemURL, err)
	}
	defer resp.Body.Close()
	var sys struct {
		SerialNumber  string
		MemorySummary struct{ TotalSystemMemoryGiB float64 }
	}
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(data, &sys) != nil {
		t.Fatalf("GET %s as %s: HTTP %d\n%s", systemURL, user, resp.StatusCode, data)
	}
	return sys.SerialNumber, sys.MemorySummary.TotalSystemMemoryGiB
}

// ipmiMCInfo runs ipmitool mc info at an inventory's IPMI endpoint.
func ipmiMCInfo(t *testing.T, host, port, user, password string) {
	t.Helper()
	out, err := run(t, time.Minute, needTool(t, "ipmitool"), "-I", "lanplus", "-H", host, "-p", port, "-U", user, "-P", password,
		"-N", "1", "-R", "3", "mc", "info")
	if err != nil || !strings.Contains(out, "IPMI Version") {
		t.Errorf("ipmitool -H %s -p %s mc info: %v\n%s", host, port, err, out)
	}
}

var macRE = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)

// TestFleetInventory: a fleet of five written as each inventory; every
// address in the Ironic and Metal3 inventories answers with the inventory's
// credentials (Redfish GET of the system, ipmitool mc info), the real
// `openstack baremetal create` reads the Ironic file, and Ansible's
// redfish_info works from the Ansible inventory.
func TestFleetInventory(t *testing.T) {
	needTool(t, "ipmitool")
	e, ms := startFleet(t, 5)
	byID := map[string]fleetMember{}
	for _, m := range ms {
		byID[m.ID] = m
	}

	// json: the listing plus a boot MAC per member, all distinct.
	var members []struct {
		fleetMember
		User     string `json:"user"`
		Password string `json:"password"`
		BootMAC  string `json:"boot_mac"`
	}
	if err := json.Unmarshal(e.inventory("--format", "json"), &members); err != nil || len(members) != len(ms) {
		t.Fatalf("json inventory: %v (%d members)", err, len(members))
	}
	bootMAC := map[string]string{}
	seen := map[string]string{}
	for _, m := range members {
		if byID[m.ID].Serial != m.Serial || m.IPMI != byID[m.ID].IPMI || !macRE.MatchString(m.BootMAC) {
			t.Errorf("json inventory member %+v", m)
		}
		if prev, dup := seen[m.BootMAC]; dup {
			t.Errorf("%s and %s share the boot MAC %s", prev, m.ID, m.BootMAC)
		}
		seen[m.BootMAC] = m.ID
		bootMAC[m.ID] = m.BootMAC
	}
	// The boot MAC is the host's, never the BMC's own LAN MAC.
	if out, err := ms[0].ipmitool(t, "lan", "print", "1"); err != nil || !strings.Contains(out, "MAC Address") {
		t.Errorf("ipmitool lan print 1: %v\n%s", err, out)
	} else if strings.Contains(strings.ToLower(out), bootMAC[ms[0].ID]) {
		t.Errorf("the boot MAC %s is the BMC's LAN MAC:\n%s", bootMAC[ms[0].ID], out)
	}

	// csv: a row per member, the same values.
	rows, err := csv.NewReader(bytes.NewReader(e.inventory("--format", "csv"))).ReadAll()
	if err != nil || len(rows) != len(ms)+1 || rows[0][0] != "id" {
		t.Fatalf("csv inventory: %v %v", err, rows)
	}
	for _, r := range rows[1:] {
		m := byID[r[0]]
		if r[1] != m.Serial || net.JoinHostPort(r[3], r[4]) != m.IPMI || r[5] != m.Redfish[0] || r[8] != bootMAC[m.ID] {
			t.Errorf("csv row %v for %+v", r, m)
		}
	}

	t.Run("ironic", func(t *testing.T) { checkIronicInventory(t, e, ms, bootMAC) })
	t.Run("metal3", func(t *testing.T) { checkMetal3Inventory(t, e, ms, bootMAC) })
	t.Run("ansible", func(t *testing.T) { checkAnsibleInventory(t, e, ms) })
}

type ironicNode struct {
	Name       string
	Driver     string
	DriverInfo map[string]any `json:"driver_info"`
	Properties struct {
		CPUArch  string `json:"cpu_arch"`
		MemoryMB int    `json:"memory_mb"`
	}
	Extra struct {
		SerialNumber string `json:"serial_number"`
	}
	Ports []struct {
		Address    string
		PXEEnabled bool `json:"pxe_enabled"`
	}
}

func checkIronicInventory(t *testing.T, e *Emulator, ms []fleetMember, bootMAC map[string]string) {
	files := map[string][]byte{}
	for _, driver := range []string{"redfish", "ipmi"} {
		data := e.inventory("--format", "ironic", "--ironic-driver", driver)
		files[driver] = data
		var f struct{ Nodes []ironicNode }
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			t.Fatalf("ironic %s inventory: %v\n%s", driver, err, data)
		}
		if len(f.Nodes) != len(ms) {
			t.Fatalf("ironic %s: %d nodes", driver, len(f.Nodes))
		}
		for _, n := range f.Nodes {
			if n.Driver != driver || len(n.Ports) != 1 || n.Ports[0].Address != bootMAC[n.Name] || !n.Ports[0].PXEEnabled {
				t.Errorf("ironic %s node %s: driver %s, ports %v", driver, n.Name, n.Driver, n.Ports)
			}
			di := func(k string) string { s, _ := n.DriverInfo[k].(string); return s }
			switch driver {
			case "redfish":
				if n.DriverInfo["redfish_verify_ca"] != false {
					t.Errorf("node %s: redfish_verify_ca %v", n.Name, n.DriverInfo["redfish_verify_ca"])
				}
				serial, gib := redfishSystem(t, di("redfish_address")+di("redfish_system_id"), di("redfish_username"), di("redfish_password"))
				if serial != n.Extra.SerialNumber || float64(n.Properties.MemoryMB) != gib*1024 {
					t.Errorf("node %s: Redfish says serial %s and %v GiB, the node %s and %d MB", n.Name, serial, gib, n.Extra.SerialNumber, n.Properties.MemoryMB)
				}
			case "ipmi":
				port, _ := n.DriverInfo["ipmi_port"].(float64)
				ipmiMCInfo(t, di("ipmi_address"), strconv.Itoa(int(port)), di("ipmi_username"), di("ipmi_password"))
			}
		}
	}

	// The real client: `openstack baremetal create` posts every node and
	// its port to an Ironic API (here one that records what it is sent).
	bin := needTool(t, "openstack")
	api := &fakeIronic{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	for driver, data := range files {
		api.reset()
		file := filepath.Join(t.TempDir(), "nodes.json") // the client wants the .json extension
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, bin, "--os-auth-type", "none", "--os-endpoint", srv.URL, "baremetal", "create", file)
		cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH"), "LC_ALL=C.UTF-8"}
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("openstack baremetal create (%s): %v\n%s", driver, err, out)
		}
		nodes, ports := api.created()
		if len(nodes) != len(ms) || len(ports) != len(ms) {
			t.Fatalf("openstack baremetal create (%s): %d nodes and %d ports posted, want %d each\n%s", driver, len(nodes), len(ports), len(ms), out)
		}
		for _, p := range ports {
			n, ok := nodes[p.NodeUUID]
			if !ok || p.Address != bootMAC[n.Name] {
				t.Errorf("%s: port %+v is not node %s's boot MAC", driver, p, n.Name)
			}
			if n.Driver != driver || len(n.DriverInfo) == 0 {
				t.Errorf("%s: node posted as %+v", driver, n)
			}
		}
	}
}

// fakeIronic records the nodes and ports the client creates, answering as
// Ironic's API does (201 and the resource with its UUID).
type fakeIronic struct {
	mu    sync.Mutex
	seq   int
	nodes map[string]ironicNode
	ports []ironicPortPost
}

type ironicPortPost struct {
	Address  string `json:"address"`
	NodeUUID string `json:"node_uuid"`
}

func (f *fakeIronic) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nodes, f.ports = map[string]ironicNode{}, nil
}

func (f *fakeIronic) created() (map[string]ironicNode, []ironicPortPost) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nodes, f.ports
}

func (f *fakeIronic) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("OpenStack-API-Minimum-Version", "1.1")
	w.Header().Set("OpenStack-API-Maximum-Version", "1.99")
	version := map[string]any{"id": "v1", "status": "CURRENT", "min_version": "1.1", "version": "1.99",
		"links": []any{map[string]any{"href": "http://" + r.Host + "/v1/", "rel": "self"}}}
	body := map[string]any{}
	if r.Method == http.MethodGet {
		_ = json.NewEncoder(w).Encode(map[string]any{"versions": []any{version}, "default_version": version})
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, `{"error_message": "bad body"}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.seq++
	uuid := fmt.Sprintf("00000000-0000-4000-8000-%012d", f.seq)
	raw, _ := json.Marshal(body)
	switch r.URL.Path {
	case "/v1/nodes":
		var n ironicNode
		_ = json.Unmarshal(raw, &n)
		f.nodes[uuid] = n
	case "/v1/ports":
		var p ironicPortPost
		_ = json.Unmarshal(raw, &p)
		f.ports = append(f.ports, p)
	default:
		f.mu.Unlock()
		http.NotFound(w, r)
		return
	}
	f.mu.Unlock()
	body["uuid"] = uuid
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(body)
}

func checkMetal3Inventory(t *testing.T, e *Emulator, ms []fleetMember, bootMAC map[string]string) {
	for _, kind := range []string{"redfish", "ipmi"} {
		data := e.inventory("--format", "metal3", "--metal3-bmc", kind, "--namespace", "metal3")
		dec := yaml.NewDecoder(bytes.NewReader(data))
		secrets := map[string]map[string]string{}
		hosts := 0
		for {
			var doc struct {
				APIVersion string `yaml:"apiVersion"`
				Kind       string
				Metadata   struct{ Name, Namespace string }
				StringData map[string]string `yaml:"stringData"`
				Spec       struct {
					BootMACAddress string `yaml:"bootMACAddress"`
					BMC            struct {
						Address         string
						CredentialsName string `yaml:"credentialsName"`
					}
				}
			}
			if err := dec.Decode(&doc); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("metal3 %s inventory: %v\n%s", kind, err, data)
			}
			if doc.Metadata.Namespace != "metal3" {
				t.Errorf("%s %s in namespace %q", doc.Kind, doc.Metadata.Name, doc.Metadata.Namespace)
			}
			if doc.Kind == "Secret" {
				secrets[doc.Metadata.Name] = doc.StringData
				continue
			}
			if doc.APIVersion != "metal3.io/v1alpha1" || doc.Kind != "BareMetalHost" {
				t.Fatalf("document %s %s", doc.APIVersion, doc.Kind)
			}
			hosts++
			name := doc.Metadata.Name
			cred, ok := secrets[doc.Spec.BMC.CredentialsName]
			if !ok {
				t.Fatalf("host %s: no Secret %s before it", name, doc.Spec.BMC.CredentialsName)
			}
			if doc.Spec.BootMACAddress != bootMAC[name] {
				t.Errorf("host %s: bootMACAddress %s, want %s", name, doc.Spec.BootMACAddress, bootMAC[name])
			}
			u, err := url.Parse(doc.Spec.BMC.Address)
			if err != nil {
				t.Fatalf("host %s: bmc.address %q: %v", name, doc.Spec.BMC.Address, err)
			}
			switch u.Scheme {
			case "redfish+https":
				serial, _ := redfishSystem(t, "https://"+u.Host+u.Path, cred["username"], cred["password"])
				if m := ms[hosts-1]; serial != m.Serial || m.ID != name {
					t.Errorf("host %s: %s answers with serial %s, member %s has %s", name, doc.Spec.BMC.Address, serial, m.ID, m.Serial)
				}
			case "ipmi":
				ipmiMCInfo(t, u.Hostname(), u.Port(), cred["username"], cred["password"])
			default:
				t.Errorf("host %s: bmc.address %s with --metal3-bmc %s", name, doc.Spec.BMC.Address, kind)
			}
		}
		if hosts != len(ms) {
			t.Errorf("metal3 %s: %d hosts for %d members", kind, hosts, len(ms))
		}
	}
}

// ansibleEnv keeps Ansible's state in tmp and its output plain.
func ansibleEnv(tmp string) []string {
	return append(os.Environ(), "LC_ALL=C.UTF-8", "HOME="+tmp, "ANSIBLE_LOCAL_TEMP="+tmp, "ANSIBLE_REMOTE_TEMP="+tmp,
		"ANSIBLE_NOCOLOR=1", "ANSIBLE_HOST_KEY_CHECKING=False")
}

func checkAnsibleInventory(t *testing.T, e *Emulator, ms []fleetMember) {
	bin := needTool(t, "ansible")
	tmp := t.TempDir()
	file := filepath.Join(tmp, "fleet.yml")
	if err := os.WriteFile(file, e.inventory("--format", "ansible"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Ansible reads the inventory: every member a host of group bmcemu.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(filepath.Dir(bin), "ansible-inventory"), "-i", file, "--list")
	cmd.Env = ansibleEnv(tmp)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible-inventory --list: %v\n%s", err, out)
	}
	var list struct {
		Bmcemu struct{ Hosts []string }
		Meta   struct {
			Hostvars map[string]map[string]any
		} `json:"_meta"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatalf("ansible-inventory --list: %v\n%s", err, out)
	}
	if len(list.Bmcemu.Hosts) != len(ms) {
		t.Errorf("group bmcemu has %v", list.Bmcemu.Hosts)
	}
	for _, m := range ms {
		hv := list.Meta.Hostvars[m.ID]
		host, port, _ := net.SplitHostPort(m.IPMI)
		if hv["baseuri"] != strings.TrimSuffix(strings.TrimPrefix(m.Redfish[0], "https://"), "/redfish/v1") ||
			hv["ipmi_host"] != host || fmt.Sprint(hv["ipmi_port"]) != port || hv["serial_number"] != m.Serial {
			t.Errorf("%s: Ansible's host vars %v", m.ID, hv)
		}
	}

	// community.general.redfish_info from the inventory's variables, on
	// two members at once: each reports its own system.
	pick := ms[0].ID + ":" + ms[len(ms)-1].ID
	cmd = exec.CommandContext(ctx, bin, "-i", file, pick, "-o", "-m", "community.general.redfish_info",
		"-a", "category=Systems command=GetSystemInventory baseuri={{ baseuri }} username={{ username }} password={{ password }}")
	cmd.Env = ansibleEnv(tmp)
	raw, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ansible redfish_info: %v\n%s", err, raw)
	}
	results := map[string]string{}
	for line := range strings.Lines(string(raw)) {
		host, rest, ok := strings.Cut(line, " | ")
		if ok {
			results[host] = rest
		}
	}
	for _, id := range strings.Split(pick, ":") {
		status, body, ok := strings.Cut(results[id], " => ")
		if !ok || status != "SUCCESS" {
			t.Errorf("%s: %q\n%s", id, results[id], raw)
			continue
		}
		var res struct {
			RedfishFacts struct {
				System struct {
					Entries [][]map[string]any
				}
			} `json:"redfish_facts"`
		}
		if err := json.Unmarshal([]byte(body), &res); err != nil {
			t.Errorf("%s: %v\n%s", id, err, body)
			continue
		}
		var serials []any
		for _, entry := range res.RedfishFacts.System.Entries {
			for _, part := range entry {
				if s, ok := part["SerialNumber"]; ok {
					serials = append(serials, s)
				}
			}
		}
		want := ""
		for _, m := range ms {
			if m.ID == id {
				want = m.Serial
			}
		}
		if len(serials) != 1 || serials[0] != want {
			t.Errorf("%s: GetSystemInventory serial numbers %v, want [%s]\n%s", id, serials, want, body)
		}
	}
}

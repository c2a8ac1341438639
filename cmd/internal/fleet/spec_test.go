package fleet

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/platform/profile"
)

// testLayout is serve's default layout: members on their own addresses
// from 127.0.1.1, IPMI on 623 and HTTPS on 443.
func testLayout() Layout {
	return Layout{First: netip.MustParseAddr("127.0.1.1"), IPMIPort: 623, HTTPSPort: 443,
		User: "admin", Password: "password"}
}

const mixedFleet = `# a mixed fleet
seed: 7
defaults:
  user: ops
  password: ops-secret
members:
  - name: db
    profile: mirror
    address: 127.0.9.10
  - name: web
    count: 3
  - name: spare
    profile: sparing
    user: root
    password: calvin
  - name: vault
    profile: raid5
    ipmi_port: 6230
    https_port: 8443
  - name: ecc
    profile: mirror
    ras_mode: AdvancedECC
  - name: big
    modules:
      - slots: ["CPU0_DIMM_A1", "CPU1_DIMM_*"]
        capacity_gib: 64
        ranks: 2
        base_module: RDIMM
        manufacturer: Micron
        part_number: MTC40F2046S1RC48BA1
  - name: custom
    profile: ./custom.yaml
`

func TestParseMixedFleet(t *testing.T) {
	dir := t.TempDir()
	custom := strings.Replace(string(profile.DefaultYAML()), "name: default-2s-ddr5", "name: custom-2s", 1)
	if err := os.WriteFile(filepath.Join(dir, "custom.yaml"), []byte(custom), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(file, []byte(mixedFleet), 0o600); err != nil {
		t.Fatal(err)
	}
	ms, seed, err := Load(file, testLayout())
	if err != nil {
		t.Fatal(err)
	}
	if seed != 7 {
		t.Errorf("seed %d, want 7", seed)
	}
	type want struct {
		name, profileName, profile, addr, user, password, ras string
		ipmi, https                                           int
	}
	wants := []want{
		{"db", "mirror", "mirror-1s-ddr5", "127.0.9.10", "ops", "ops-secret", "Mirroring", 623, 443},
		// Members without an address continue after the previous one's.
		{"web-001", "default", "default-2s-ddr5", "127.0.9.11", "ops", "ops-secret", "", 623, 443},
		{"web-002", "default", "default-2s-ddr5", "127.0.9.12", "ops", "ops-secret", "", 623, 443},
		{"web-003", "default", "default-2s-ddr5", "127.0.9.13", "ops", "ops-secret", "", 623, 443},
		{"spare", "sparing", "sparing-1s-ddr5", "127.0.9.14", "root", "calvin", "RankSparing", 623, 443},
		{"vault", "raid5", "raid5-5cart-ddr4", "127.0.9.15", "ops", "ops-secret", "RAID5", 6230, 8443},
		{"ecc", "mirror", "mirror-1s-ddr5", "127.0.9.16", "ops", "ops-secret", "AdvancedECC", 623, 443},
		{"big", "default", "default-2s-ddr5", "127.0.9.17", "ops", "ops-secret", "", 623, 443},
		{"custom", "./custom.yaml", "custom-2s", "127.0.9.18", "ops", "ops-secret", "", 623, 443},
	}
	if len(ms) != len(wants) {
		t.Fatalf("%d members, want %d: %+v", len(ms), len(wants), ms)
	}
	for i, w := range wants {
		m := ms[i]
		got := want{m.Name, m.ProfileName, m.Profile.Name, m.Addr.String(), m.User, m.Password, m.Profile.RAS.Mode, m.IPMIPort, m.HTTPSPort}
		if got != w {
			t.Errorf("member %d:\n got %+v\nwant %+v", i, got, w)
		}
		if m.HTTPPort != 0 {
			t.Errorf("%s: HTTP port %d, want none", m.Name, m.HTTPPort)
		}
		if s := m.Profile.System.SerialNumber; s != Serial(7, m.Name) {
			t.Errorf("%s: serial %q, want Serial(7, name) = %q", m.Name, s, Serial(7, m.Name))
		}
	}
	// The modules override replaced the population, and only big's.
	big := ms[7].Profile
	if len(big.Modules) != 1 || big.Modules[0].CapacityGiB != 64 || big.Modules[0].Manufacturer != "Micron" {
		t.Errorf("big's modules: %+v", big.Modules)
	}
	if m, ok := big.ModuleFor("CPU1_DIMM_H2"); !ok || m.CapacityGiB != 64 {
		t.Errorf("big's CPU1_DIMM_H2: %+v %v", m, ok)
	}
	if _, ok := big.ModuleFor("CPU0_DIMM_B1"); ok {
		t.Error("big's CPU0_DIMM_B1 is populated; the override left it empty")
	}
	for _, m := range ms[1:4] {
		if len(m.Profile.Modules) != 1 || m.Profile.Modules[0].CapacityGiB != 32 {
			t.Errorf("%s's modules changed: %+v", m.Name, m.Profile.Modules)
		}
	}
	// Overrides change each member's own copy, never the shared profile.
	if p, _ := profile.Builtin("mirror"); ms[6].Profile == ms[0].Profile || ms[0].Profile.RAS.Mode != p.RAS.Mode {
		t.Error("ecc's ras_mode override reached db's profile")
	}
}

// TestParseLayoutAndCredentials: the layout's settings apply where neither
// the file's defaults nor a member says otherwise; --fleet-same-address
// counts ports up.
func TestParseLayoutAndCredentials(t *testing.T) {
	lay := Layout{First: netip.MustParseAddr("127.0.0.1"), SamePorts: true, IPMIPort: 20000, HTTPPort: 30000,
		Profile: "sparing", User: "lay", Password: "lay-pw"}
	ms, _, err := Parse("f.yaml", []byte("members:\n  - {name: n, count: 3}\n  - {name: own, address: 127.0.5.5, user: me}\n"), lay)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, fmt.Sprintf("%s %s %s:%d/%d/%d %s/%s", m.Name, m.Profile.Name, m.Addr, m.IPMIPort, m.HTTPSPort, m.HTTPPort, m.User, m.Password))
	}
	want := []string{
		"n-001 sparing-1s-ddr5 127.0.0.1:20000/0/30000 lay/lay-pw",
		"n-002 sparing-1s-ddr5 127.0.0.1:20001/0/30001 lay/lay-pw",
		"n-003 sparing-1s-ddr5 127.0.0.1:20002/0/30002 lay/lay-pw",
		// An address of its own keeps the layout's ports as they are.
		"own sparing-1s-ddr5 127.0.5.5:20000/0/30000 me/lay-pw",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("members:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestGenerate(t *testing.T) {
	ms, err := Generate(12, 3, testLayout())
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 12 || ms[0].Name != "bmc-001" || ms[11].Name != "bmc-012" || ms[11].Addr != netip.MustParseAddr("127.0.1.12") {
		t.Errorf("members %s .. %s at %s", ms[0].Name, ms[len(ms)-1].Name, ms[len(ms)-1].Addr)
	}
	if ms[0].ProfileName != "default" || ms[0].Profile.System.SerialNumber != Serial(3, "bmc-001") {
		t.Errorf("bmc-001: profile %q serial %q", ms[0].ProfileName, ms[0].Profile.System.SerialNumber)
	}
	if _, err := Generate(0, 1, testLayout()); err == nil {
		t.Error("Generate(0) succeeded")
	}
}

// TestParseErrors: every refusal is a *profile.Error naming the file, the
// line and the field.
func TestParseErrors(t *testing.T) {
	same := testLayout()
	same.First, same.SamePorts, same.IPMIPort, same.HTTPSPort = netip.MustParseAddr("127.0.0.1"), true, 65530, 0
	same.HTTPPort = 30000
	for _, tc := range []struct {
		name string
		lay  *Layout
		src  string
		want string // the start of the message: file:line: field
		msg  string // and a part of the rest
	}{
		{"duplicate name", nil, "members:\n  - {name: a}\n  - {name: a}\n",
			"fleet.yaml:3: members[1].name: ", `member "a" is already defined by members[0]`},
		{"duplicate name by count", nil, "members:\n  - name: web\n    count: 3\n  - name: db\n  - name: web-002\n",
			"fleet.yaml:5: members[2].name: ", `member "web-002" is already defined by members[0]`},
		{"duplicate name between counts", nil, "members:\n  - {name: web, count: 2}\n  - {name: web, count: 1}\n",
			"fleet.yaml:3: members[1].name: ", `member "web-001" is already defined by members[0]`},
		{"duplicate endpoint", nil, "members:\n  - {name: a, address: 127.0.0.9}\n  - {name: b, address: 127.0.0.9}\n",
			"fleet.yaml:3: members[1].address: ", "udp 127.0.0.9:623 is already used by a"},
		{"duplicate TCP endpoint", nil, "members:\n  - {name: a, address: 127.0.0.9}\n  - {name: b, address: 127.0.0.9, ipmi_port: 6230}\n",
			"fleet.yaml:3: members[1].address: ", "tcp 127.0.0.9:443 is already used by a"},
		{"duplicate endpoint by count", nil, "members:\n  - {name: a, address: 127.0.1.2}\n  - {name: b, count: 3, address: 127.0.1.1}\n",
			"fleet.yaml:3: members[1].address: ", "udp 127.0.1.2:623 is already used by a"},
		{"address not an IP", nil, "members:\n  - name: a\n    address: db.example.com\n",
			"fleet.yaml:3: members[0].address: ", `"db.example.com" is not an IP address`},
		{"address with a port", nil, "members:\n  - name: a\n    address: 127.0.0.1:623\n",
			"fleet.yaml:3: members[0].address: ", "is not an IP address"},
		{"unknown field", nil, "members:\n  - name: a\n    adress: 127.0.0.1\n",
			"fleet.yaml:3: members[0].adress: ", "field adress not found"},
		{"unknown field in a flow mapping", nil, "seed: 1\nmembers:\n  - {name: a, prof1le: mirror}\n",
			"fleet.yaml:3: members[0].prof1le: ", "field prof1le not found"},
		{"unknown top-level field", nil, "seed: 1\nmember:\n  - {name: a}\n",
			"fleet.yaml:2: member: ", "field member not found"},
		{"wrong type", nil, "members:\n  - name: a\n    count: many\n",
			"fleet.yaml:3: members[0].count: ", "cannot unmarshal !!str `many` into int"},
		{"wrong type in a flow mapping", nil, "members:\n  - {name: a, ipmi_port: [623]}\n",
			"fleet.yaml:2: members[0].ipmi_port: ", "cannot unmarshal !!seq into int"},
		{"wrong type of seed", nil, "seed: -1\nmembers:\n  - {name: a}\n",
			"fleet.yaml:1: seed: ", "cannot unmarshal !!int `-1` into uint64"},
		{"invalid ras_mode", nil, "members:\n  - name: a\n    ras_mode: Raid6\n",
			"fleet.yaml:3: members[0].ras_mode: ", "must be one of [AdvancedECC RankSparing Mirroring RAID5 AddressRangeMirror] (got Raid6)"},
		{"invalid ras_mode in defaults", nil, "defaults:\n  ras_mode: mirroring\nmembers:\n  - name: a\n",
			"fleet.yaml:2: defaults.ras_mode: ", "(got mirroring)"},
		{"bad member name", nil, "members:\n  - name: Web_1\n",
			"fleet.yaml:2: members[0].name: ", `"Web_1": use lower-case letters`},
		{"name with a trailing dash", nil, "members:\n  - {name: a}\n  - {name: web-}\n",
			"fleet.yaml:3: members[1].name: ", `"web-"`},
		{"name too long", nil, "members:\n  - name: " + strings.Repeat("a", 49) + "\n",
			"fleet.yaml:2: members[0].name: ", "must be at most 48"},
		{"unknown profile", nil, "members:\n  - name: a\n    profile: mirrored\n",
			"fleet.yaml:3: members[0].profile: ", `no built-in profile "mirrored"`},
		{"unknown profile in defaults", nil, "defaults: {profile: raid6}\nmembers:\n  - name: a\n",
			"fleet.yaml:3: members[0].profile: ", `no built-in profile "raid6"`},
		{"missing profile file", nil, "members:\n  - name: a\n    profile: ./nosuch.yaml\n",
			"fleet.yaml:3: members[0].profile: ", "no such file"},
		{"modules override matches no slot", nil, "members:\n  - name: a\n  - name: b\n    profile: mirror\n    modules:\n      - slots: [CPU1_DIMM_A1]\n        capacity_gib: 32\n        ranks: 1\n        base_module: RDIMM\n        manufacturer: Samsung\n",
			"fleet.yaml:6: members[1].modules[0].slots[0]: ", `member b (profile mirror-1s-ddr5): pattern "CPU1_DIMM_A1" matches no slot`},
		{"defaults' modules override matches no slot", nil, "defaults:\n  modules:\n    - {slots: ['*3'], capacity_gib: 32, ranks: 1, base_module: RDIMM, manufacturer: Samsung}\nmembers:\n  - name: a\n",
			"fleet.yaml:3: defaults.modules[0].slots[0]: ", `pattern "*3" matches no slot`},
		{"modules override of the wrong type", nil, "members:\n  - name: a\n    modules:\n      - {slots: ['*1'], capacity_gib: 32, ranks: 1, base_module: RDIMM, type: DDR4, manufacturer: Samsung}\n",
			"fleet.yaml:4: members[0].modules[0].type: ", "DDR4 module on a DDR5 board"},
		{"invalid module", nil, "members:\n  - name: a\n    modules:\n      - {slots: ['*1'], capacity_gib: 0, ranks: 1, base_module: RDIMM, manufacturer: Samsung}\n",
			"fleet.yaml:4: members[0].modules[0].capacity_gib: ", "is required"},
		{"port out of range", nil, "members:\n  - {name: a, ipmi_port: 65536}\n",
			"fleet.yaml:2: members[0].ipmi_port: ", "must be at most 65535"},
		{"count out of range", nil, "members:\n  - {name: a, count: 0x10000}\n",
			"fleet.yaml:2: members[0].count: ", "must be at most 65535"},
		{"port overflow with the same-address layout", &same, "members:\n  - name: a\n  - name: b\n    count: 10\n",
			"fleet.yaml:3: members[1].", "member b-006 would need port 65536: the port range ends at 65535"},
		{"no members", nil, "seed: 1\nmembers: []\n",
			"fleet.yaml:2: members: ", "must have at least 1 item (got 0)"},
		{"members missing", nil, "seed: 1\n",
			"fleet.yaml:1: members: ", "is required"},
		{"no user", &Layout{First: netip.MustParseAddr("127.0.0.1"), IPMIPort: 623, HTTPPort: 80}, "members:\n  - {name: a}\n",
			"fleet.yaml:2: members[0]: ", "no administrator user or password"},
		{"password too long", nil, "members:\n  - {name: a, password: " + strings.Repeat("p", 21) + "}\n",
			"fleet.yaml:2: members[0].password: ", "must be at most 20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lay := testLayout()
			if tc.lay != nil {
				lay = *tc.lay
			}
			ms, _, err := Parse("fleet.yaml", []byte(tc.src), lay)
			if err == nil {
				t.Fatalf("parsed %d members, want an error", len(ms))
			}
			var pe *profile.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v, want a *profile.Error", err, err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, tc.want) || !strings.Contains(msg, tc.msg) {
				t.Errorf("error\n  %s\nwant it to start %q and contain %q", msg, tc.want, tc.msg)
			}
			if pe.File != "fleet.yaml" || pe.Line == 0 || pe.Field == "" {
				t.Errorf("error %+v does not locate itself", pe)
			}
		})
	}
}

// TestParseEmpty: an empty file has no line to name, but says what it is.
func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "\n", "# nothing yet\n"} {
		_, _, err := Parse("fleet.yaml", []byte(src), testLayout())
		var pe *profile.Error
		if !errors.As(err, &pe) || err.Error() != "fleet.yaml: empty fleet file" {
			t.Errorf("%q: %v, want fleet.yaml: empty fleet file", src, err)
		}
	}
	_, _, err := Parse("fleet.yaml", []byte("- {name: a}\n"), testLayout())
	if !strings.HasPrefix(fmt.Sprint(err), "fleet.yaml:1: ") {
		t.Errorf("a list for a file: %v", err)
	}
	if _, _, err := Load(filepath.Join(t.TempDir(), "absent.yaml"), testLayout()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestSerialDeterministic(t *testing.T) {
	names := []string{"bmc-001", "bmc-002", "db", "web-017"}
	lay := testLayout()
	src := "seed: 11\nmembers:\n  - {name: bmc, count: 2}\n  - {name: db}\n  - {name: web-017}\n"
	a, _, err := Parse("a.yaml", []byte(src), lay)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Parse("b.yaml", []byte(src), lay)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := Parse("c.yaml", []byte(strings.Replace(src, "seed: 11", "seed: 12", 1)), lay)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		if a[i].Name != n {
			t.Fatalf("member %d is %s, want %s", i, a[i].Name, n)
		}
		sa, sb, sc := a[i].Profile.System.SerialNumber, b[i].Profile.System.SerialNumber, c[i].Profile.System.SerialNumber
		if sa != sb {
			t.Errorf("%s: serial %s, then %s from the same seed", n, sa, sb)
		}
		if sa == sc {
			t.Errorf("%s: serial %s from seeds 11 and 12", n, sa)
		}
		if sa != Serial(11, n) {
			t.Errorf("%s: serial %s, want Serial(11, %q) = %s", n, sa, n, Serial(11, n))
		}
	}
	// Pinned: a change of the derivation changes every emulated machine's
	// identity (UUIDs, GUIDs, MACs), which users' inventories notice.
	for _, c := range []struct {
		seed       uint64
		name, want string
	}{{1, "bmc-001", "EMUF83U9FV"}, {7, "db", "EMU1NNK6XL"}} {
		if got := Serial(c.seed, c.name); got != c.want {
			t.Errorf("Serial(%d, %q) = %q, want %q", c.seed, c.name, got, c.want)
		}
	}
}

func TestSerialsDistinct(t *testing.T) {
	for _, seed := range []uint64{0, 1, 7, 1 << 63} {
		ms, err := Generate(1000, seed, Layout{First: netip.MustParseAddr("10.0.0.1"), IPMIPort: 623, HTTPPort: 80, User: "u", Password: "p"})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for _, m := range ms {
			s := m.Profile.System.SerialNumber
			if len(s) != 10 || strings.Trim(s, "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") != "" {
				t.Errorf("seed %d %s: serial %q is not 10 upper-case alphanumerics without I or O", seed, m.Name, s)
			}
			if prev, dup := seen[s]; dup {
				t.Errorf("seed %d: %s and %s share serial %s", seed, prev, m.Name, s)
			}
			seen[s] = m.Name
		}
	}
}

func TestShardCoversEveryMember(t *testing.T) {
	for _, m := range []int{1, 2, 3, 7, 10, 100, 101, 1000} {
		members := make([]Member, m)
		for i := range members {
			members[i].Name = fmt.Sprint(i)
		}
		for _, n := range []int{1, 2, 3, 4, 7, 16, 100} {
			seen := make([]int, m)
			minLen, maxLen := m, 0
			next, empty := 0, 0
			for idx := range n {
				part, err := Shard(members, idx, n)
				if err != nil {
					// More shards than members: some must be empty, and
					// an empty shard is refused rather than run idle.
					if n <= m || !strings.Contains(err.Error(), "is empty") {
						t.Fatalf("Shard(%d members, %d/%d): %v", m, idx, n, err)
					}
					empty++
					continue
				}
				minLen, maxLen = min(minLen, len(part)), max(maxLen, len(part))
				for _, mem := range part {
					var k int
					fmt.Sscan(mem.Name, &k)
					if k != next {
						t.Fatalf("Shard(%d members, %d/%d): member %d, want %d (contiguous, in order)", m, idx, n, k, next)
					}
					next++
					seen[k]++
				}
			}
			for k, c := range seen {
				if c != 1 {
					t.Errorf("%d members in %d shards: member %d in %d shards", m, n, k, c)
				}
			}
			if want := max(n-m, 0); empty != want {
				t.Errorf("%d members in %d shards: %d empty shards, want %d", m, n, empty, want)
			}
			if maxLen-minLen > 1 {
				t.Errorf("%d members in %d shards: lengths %d..%d", m, n, minLen, maxLen)
			}
		}
	}
}

func TestShardErrors(t *testing.T) {
	members := make([]Member, 3)
	for _, c := range [][2]int{{0, 0}, {-1, 2}, {2, 2}, {3, 1}, {0, -1}} {
		if _, err := Shard(members, c[0], c[1]); err == nil {
			t.Errorf("Shard(%d/%d) succeeded", c[0], c[1])
		}
	}
	if _, err := Shard(members, 0, 4); err == nil || !strings.Contains(err.Error(), "use fewer shards than members") {
		t.Errorf("Shard(0/4 of 3): %v, want an empty-shard error", err)
	}
}

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		s, host      string
		index, count int
	}{
		{"0/1", "", 0, 1},
		{"2/4", "anything", 2, 4},
		{"auto/4", "bmcemu-3", 3, 4},
		{"auto/10", "bmc-fleet-emulator-0", 0, 10},
		{"auto/100", "bmcemu-99", 99, 100},
	} {
		idx, cnt, err := ParseShard(tc.s, tc.host)
		if err != nil || idx != tc.index || cnt != tc.count {
			t.Errorf("ParseShard(%q, %q) = %d, %d, %v; want %d, %d", tc.s, tc.host, idx, cnt, err, tc.index, tc.count)
		}
	}
	for _, tc := range []struct{ s, host, msg string }{
		{"3", "", "want INDEX/COUNT"},
		{"", "", "want INDEX/COUNT"},
		{"1/0", "", "COUNT must be a positive number"},
		{"1/-2", "", "COUNT must be a positive number"},
		{"1/x", "", "COUNT must be a positive number"},
		{"1/2/3", "", "COUNT must be a positive number"},
		{"4/4", "", "INDEX must be 0..3"},
		{"-1/4", "", "INDEX must be 0..3"},
		{"x/4", "", "INDEX must be 0..3"},
		{"auto/4", "bmcemu", `hostname "bmcemu" has no StatefulSet ordinal`},
		{"auto/4", "bmcemu-4", "INDEX must be 0..3"},
		{"auto/4", "bmcemu-x", "INDEX must be 0..3"},
		{"auto/4", "bmcemu-", "INDEX must be 0..3"},
	} {
		_, _, err := ParseShard(tc.s, tc.host)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseShard(%q, %q): %v, want an error containing %q", tc.s, tc.host, err, tc.msg)
		}
	}
}

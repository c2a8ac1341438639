package fleet

import (
	"bytes"
	"net/netip"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/bmcemu/bmcemu/platform/profile"
)

// FuzzParseFleet feeds arbitrary fleet files to Parse: it never panics; a
// fleet it accepts can be bound (valid names and addresses, an IPMI port,
// a Redfish port, no endpoint twice) and has the seed's identities; what
// it refuses is a *profile.Error that locates itself in the file.
//
//	go test ./cmd/internal/fleet -run '^$' -fuzz FuzzParseFleet -fuzztime 60s
func FuzzParseFleet(f *testing.F) {
	for _, seed := range []string{
		mixedFleet,
		"members:\n  - {name: a}\n",
		"seed: 3\nmembers:\n  - {name: web, count: 3}\n  - {name: db, profile: mirror, address: 127.0.2.1}\n",
		"defaults: {profile: raid5, user: root, password: calvin}\nmembers:\n  - {name: s, count: 2, ipmi_port: 6230, http_port: 8080}\n",
		"members:\n  - name: x\n    ras_mode: RankSparing\n    modules:\n      - {slots: ['*1', '*2'], capacity_gib: 64, ranks: 2, base_module: RDIMM, manufacturer: Micron}\n",
		"members:\n  - {name: a, address: '::1', https_port: 8443}\n  - {name: b}\n",
		"members:\n  - {name: a}\n  - {name: a}\n",
		"members:\n  - {name: a, address: 127.0.0.1}\n  - {name: b, address: 127.0.0.1}\n",
		"members:\n  - {name: a, address: 255.255.255.255}\n  - {name: b}\n",
		"members:\n  - {name: a, ipmi_port: 65535, count: 3}\n",
		"members:\n  - {name: Bad_Name}\n",
		"members:\n  - {name: a, bogus: 1}\n",
		"members:\n  - {name: a, count: [1]}\n",
		"members:\n  - {name: a, profile: nosuch}\n",
		"members:\n  - {name: a, modules: [{slots: [CPU9_DIMM_A1], capacity_gib: 32, ranks: 1, base_module: RDIMM, manufacturer: X}]}\n",
		"members: &m\n  - *m\n",
		"",
		"- a\n",
		"seed: 18446744073709551616\n",
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, src []byte, samePorts bool) {
		// Profiles may be files: keep the fuzzer off devices that never
		// end (/dev/zero), and off fleets of tens of thousands of members
		// that only take time.
		if bytes.Contains(src, []byte("/dev")) || bytes.Contains(src, []byte("/proc")) || bytes.Contains(src, []byte("/sys")) || tooMany(src) {
			t.Skip()
		}
		lay := Layout{First: netip.MustParseAddr("127.0.1.1"), IPMIPort: 623, HTTPSPort: 443, User: "admin", Password: "password"}
		if samePorts {
			lay = Layout{First: netip.MustParseAddr("127.0.0.1"), SamePorts: true, IPMIPort: 20000, HTTPPort: 30000, User: "admin", Password: "password"}
		}
		ms, seed, err := Parse("fuzz.yaml", src, lay)
		if err != nil {
			pe, ok := err.(*profile.Error)
			if !ok {
				t.Fatalf("error %T %v, want a *profile.Error", err, err)
			}
			if pe.File != "fuzz.yaml" || pe.Msg == "" {
				t.Fatalf("error %+v: names no file or says nothing", pe)
			}
			if ms != nil {
				t.Fatalf("%d members with an error", len(ms))
			}
			return
		}
		if len(ms) == 0 {
			t.Fatal("no members and no error")
		}
		names := map[string]bool{}
		ends := map[string]string{}
		for _, m := range ms {
			if !nameRE.MatchString(m.Name) || names[m.Name] {
				t.Fatalf("member name %q: invalid or twice", m.Name)
			}
			names[m.Name] = true
			if !m.Addr.IsValid() {
				t.Fatalf("%s: no address", m.Name)
			}
			if m.IPMIPort < 1 || m.IPMIPort > 65535 || m.HTTPSPort < 0 || m.HTTPSPort > 65535 || m.HTTPPort < 0 || m.HTTPPort > 65535 ||
				m.HTTPSPort == 0 && m.HTTPPort == 0 {
				t.Fatalf("%s: ports IPMI %d HTTPS %d HTTP %d", m.Name, m.IPMIPort, m.HTTPSPort, m.HTTPPort)
			}
			for _, ep := range m.endpoints() {
				if prev, dup := ends[ep]; dup {
					t.Fatalf("%s and %s both on %s", prev, m.Name, ep)
				}
				ends[ep] = m.Name
			}
			if m.User == "" || m.Password == "" || m.Profile == nil || m.ProfileName == "" {
				t.Fatalf("%s: user %q password %q profile %v (%q)", m.Name, m.User, m.Password, m.Profile != nil, m.ProfileName)
			}
			if got := m.Profile.System.SerialNumber; got != Serial(seed, m.Name) {
				t.Fatalf("%s: serial %q, want %q", m.Name, got, Serial(seed, m.Name))
			}
		}
	})
}

// tooMany says whether a fleet file asks for more members than a fuzzing
// round should build: a member with a modules override costs a profile
// validation (about half a millisecond), and counts go up to 65,535. What
// yaml cannot decode here Parse refuses too, quickly.
func tooMany(src []byte) bool {
	var f struct {
		Members []struct {
			Count any `yaml:"count"`
		} `yaml:"members"`
	}
	_ = yaml.Unmarshal(src, &f) // a type error elsewhere still decodes the counts
	n := 0
	for _, m := range f.Members {
		c, ok := m.Count.(int)
		if !ok || c < 1 {
			c = 1
		}
		n += c
	}
	return n > 500
}

package fleet

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/bmcemu/bmcemu/platform/profile"
)

// File is a fleet file: a seed and the members, each a complete BMC.
//
//	seed: 7
//	defaults: {profile: default, user: admin, password: password}
//	members:
//	  - {name: db, profile: mirror, address: 127.0.1.10}
//	  - {name: web, count: 20}           # web-001 ... web-020
type File struct {
	// Seed derives every member's identity (serial number, and from it the
	// UUIDs, GUIDs, MAC addresses and SPD serials): the same seed and
	// names give the same fleet on every machine.
	Seed     uint64       `yaml:"seed"`
	Defaults Overrides    `yaml:"defaults"`
	Members  []MemberFile `yaml:"members" validate:"required,min=1,dive"`
}

// Overrides are the settings a member may change from the fleet's.
type Overrides struct {
	// Profile is a built-in profile name or a profile file (relative to
	// the fleet file).
	Profile  string `yaml:"profile"`
	User     string `yaml:"user" validate:"omitempty,max=16"`
	Password string `yaml:"password" validate:"omitempty,max=20"`
	// RASMode replaces the profile's ras.mode.
	RASMode string `yaml:"ras_mode" validate:"omitempty,oneof=AdvancedECC RankSparing Mirroring RAID5 AddressRangeMirror"`
	// Modules replaces the profile's module population.
	Modules []profile.Module `yaml:"modules" validate:"omitempty,dive"`
}

// MemberFile is one entry of members: one BMC, or Count alike.
type MemberFile struct {
	Overrides `yaml:",inline"`
	Name      string `yaml:"name" validate:"required,max=48"`
	// Count > 0 makes Count members named Name-001, Name-002, ...
	Count int `yaml:"count" validate:"omitempty,min=1,max=65535"` // maxCount
	// Address is the member's IP address (the first of Count); empty
	// takes the next free one after the previous member's.
	Address   string `yaml:"address"`
	IPMIPort  int    `yaml:"ipmi_port" validate:"omitempty,min=1,max=65535"`
	HTTPSPort int    `yaml:"https_port" validate:"omitempty,min=1,max=65535"`
	HTTPPort  int    `yaml:"http_port" validate:"omitempty,min=1,max=65535"`
}

// maxCount bounds a group (and --fleet): member names are numbered in
// three or more digits, and one process serves at most this many.
const maxCount = 65535

// Member is one resolved member: what Fleet.Add needs.
type Member struct {
	Name    string
	Profile *profile.Profile
	// ProfileName is how the member's profile was named (for listings).
	ProfileName    string
	Addr           netip.Addr
	IPMIPort       int
	HTTPSPort      int // 0: no HTTPS
	HTTPPort       int // 0: no HTTP
	User, Password string
}

// Layout places members that do not name their address.
type Layout struct {
	// First is the first member's address (127.0.1.1 by default).
	First netip.Addr
	// SamePorts: every member on First, ports counting up from the given
	// ones; otherwise each member on its own address with the same ports.
	SamePorts bool
	IPMIPort  int
	HTTPSPort int
	HTTPPort  int
	// Profile, User and Password apply where neither the file's defaults
	// nor the member say otherwise.
	Profile        string
	User, Password string
	// BuiltinOnly refuses a member naming a profile file: over the control
	// API a client must not make the emulator read files of its choice.
	BuiltinOnly bool
}

// nameRE keeps member ids usable as a URL segment, a metric label, a
// directory name and a Kubernetes object name.
var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// Parse reads and validates a fleet file; errors name the line and field
// like a profile's. Profiles named by a relative path are read from dir.
func Parse(file string, src []byte, lay Layout) ([]Member, uint64, error) {
	var f File
	root, err := profile.DecodeStrict(file, "fleet file", src, &f)
	if err != nil {
		return nil, 0, err
	}
	fail := func(field, msg string) error {
		return &profile.Error{File: file, Line: profile.LineOf(root, field), Field: field, Msg: msg}
	}
	dir := filepath.Dir(file)
	profiles := map[string]*profile.Profile{}
	var out []Member
	next := lay.First
	seenName := map[string]string{}
	seenEnd := map[string]string{}
	for i, mf := range f.Members {
		field := fmt.Sprintf("members[%d]", i)
		o := merge(lay, f.Defaults, mf.Overrides)
		if lay.BuiltinOnly && mf.Profile != "" && !slices.Contains(profile.BuiltinNames(), mf.Profile) {
			return nil, 0, fail(field+".profile", fmt.Sprintf("%q: a member added at run time names a built-in profile (%s); profile files come from the fleet file or serve --profile",
				mf.Profile, strings.Join(profile.BuiltinNames(), ", ")))
		}
		prof, err := resolveProfile(profiles, dir, o.Profile)
		if err != nil {
			return nil, 0, fail(field+".profile", err.Error())
		}
		if mf.Address != "" {
			a, err := netip.ParseAddr(mf.Address)
			if err != nil {
				return nil, 0, fail(field+".address", fmt.Sprintf("%q is not an IP address", mf.Address))
			}
			next = a
		}
		n := max(mf.Count, 1)
		for k := range n {
			name := mf.Name
			if mf.Count > 0 {
				name = fmt.Sprintf("%s-%03d", mf.Name, k+1)
			}
			if !nameRE.MatchString(name) {
				return nil, 0, fail(field+".name", fmt.Sprintf("%q: use lower-case letters, digits and inner dashes (a member id is a URL segment, a label and a directory)", name))
			}
			if prev, dup := seenName[name]; dup {
				return nil, 0, fail(field+".name", fmt.Sprintf("member %q is already defined by %s", name, prev))
			}
			seenName[name] = field
			m, err := place(o, prof, name, next, len(out), lay, mf)
			if err != nil {
				return nil, 0, fail(field+".address", err.Error())
			}
			m.ProfileName = o.Profile
			for _, ep := range m.endpoints() {
				if prev, dup := seenEnd[ep]; dup {
					return nil, 0, fail(field+".address", fmt.Sprintf("%s is already used by %s", ep, prev))
				}
				seenEnd[ep] = name
			}
			if err := customise(m, o, f.Seed); err != nil {
				// A modules override that does not fit the board: point
				// at the override (the member's, or the defaults'), not
				// at the profile re-encoded with it.
				var pe *profile.Error
				if errors.As(err, &pe) && pe.Field != "" {
					at := field
					if mf.Modules == nil && f.Defaults.Modules != nil {
						at = "defaults"
					}
					return nil, 0, fail(at+"."+pe.Field, fmt.Sprintf("member %s (profile %s): %s", name, prof.Name, pe.Msg))
				}
				return nil, 0, fail(field, err.Error())
			}
			out = append(out, *m)
			if !lay.SamePorts || mf.Address != "" {
				next = next.Next()
			}
		}
	}
	return out, f.Seed, nil
}

// Generate is the fleet of `serve --fleet N`: n members of the layout's
// profile named bmc-001, bmc-002, ...
func Generate(n int, seed uint64, lay Layout) ([]Member, error) {
	if n < 1 || n > maxCount {
		return nil, fmt.Errorf("--fleet %d: want 1 to %d members per process (shard larger fleets across processes with --shard)", n, maxCount)
	}
	src := fmt.Sprintf("seed: %d\nmembers:\n  - {name: bmc, count: %d}\n", seed, n)
	ms, _, err := Parse("--fleet", []byte(src), lay)
	return ms, err
}

// Load reads a fleet file.
func Load(file string, lay Layout) ([]Member, uint64, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, 0, fmt.Errorf("read fleet file: %w", err)
	}
	return Parse(file, src, lay)
}

func merge(lay Layout, layers ...Overrides) Overrides {
	o := Overrides{Profile: lay.Profile, User: lay.User, Password: lay.Password}
	for _, l := range layers {
		if l.Profile != "" {
			o.Profile = l.Profile
		}
		if l.User != "" {
			o.User = l.User
		}
		if l.Password != "" {
			o.Password = l.Password
		}
		if l.RASMode != "" {
			o.RASMode = l.RASMode
		}
		if l.Modules != nil {
			o.Modules = l.Modules
		}
	}
	if o.Profile == "" {
		o.Profile = "default"
	}
	return o
}

func resolveProfile(cache map[string]*profile.Profile, dir, name string) (*profile.Profile, error) {
	if p, ok := cache[name]; ok {
		return p, nil
	}
	// A bare name is a built-in one, whatever files the working directory
	// holds; anything with a slash or a dot is a file.
	var p *profile.Profile
	var err error
	if !strings.ContainsAny(name, "/.") {
		p, err = profile.Builtin(name)
	} else {
		path := name
		if !filepath.IsAbs(name) {
			path = filepath.Join(dir, name)
		}
		p, err = profile.Load(path)
	}
	if err != nil {
		return nil, err
	}
	cache[name] = p
	return p, nil
}

// place gives the idx-th member its address and ports.
func place(o Overrides, prof *profile.Profile, name string, addr netip.Addr, idx int, lay Layout, mf MemberFile) (*Member, error) {
	if !addr.IsValid() {
		return nil, errors.New("no address: give the first member an address")
	}
	m := &Member{Name: name, Profile: prof, Addr: addr, User: o.User, Password: o.Password,
		IPMIPort: lay.IPMIPort, HTTPSPort: lay.HTTPSPort, HTTPPort: lay.HTTPPort}
	if lay.SamePorts && mf.Address == "" {
		bump := func(p int) int {
			if p == 0 {
				return 0
			}
			return p + idx
		}
		m.IPMIPort, m.HTTPSPort, m.HTTPPort = bump(m.IPMIPort), bump(m.HTTPSPort), bump(m.HTTPPort)
	}
	if mf.IPMIPort != 0 {
		m.IPMIPort = mf.IPMIPort
	}
	if mf.HTTPSPort != 0 {
		m.HTTPSPort = mf.HTTPSPort
	}
	if mf.HTTPPort != 0 {
		m.HTTPPort = mf.HTTPPort
	}
	for _, p := range []int{m.IPMIPort, m.HTTPSPort, m.HTTPPort} {
		if p > 65535 {
			return nil, fmt.Errorf("member %s would need port %d: the port range ends at 65535", name, p)
		}
	}
	if m.IPMIPort == 0 {
		return nil, fmt.Errorf("member %s has no IPMI port", name)
	}
	if m.HTTPSPort == 0 && m.HTTPPort == 0 {
		return nil, fmt.Errorf("member %s has neither an HTTPS nor an HTTP port: nothing would serve Redfish", name)
	}
	return m, nil
}

// endpoints are the member's socket addresses, for duplicate checks.
func (m *Member) endpoints() []string {
	out := []string{"udp " + netip.AddrPortFrom(m.Addr, uint16(m.IPMIPort)).String()}
	for _, p := range []int{m.HTTPSPort, m.HTTPPort} {
		if p != 0 {
			out = append(out, "tcp "+netip.AddrPortFrom(m.Addr, uint16(p)).String())
		}
	}
	return out
}

// customise applies a member's overrides and seed-derived identity to its
// own copy of the profile.
func customise(m *Member, o Overrides, seed uint64) error {
	if m.User == "" || m.Password == "" {
		return errors.New("no administrator user or password")
	}
	p := m.Profile.Clone()
	if o.RASMode != "" {
		p.RAS.Mode = o.RASMode
	}
	if o.Modules != nil {
		p.Modules = o.Modules
	}
	// The serial number is the root of the member's identity: the Redfish
	// UUIDs, the IPMI device GUID, the LAN MAC address and the modules'
	// SPD serials are all derived from it.
	p.System.SerialNumber = Serial(seed, m.Name)
	m.Profile = p
	if o.RASMode == "" && o.Modules == nil {
		return nil
	}
	// Re-validate: overridden modules must fit this board.
	out, err := yaml.Marshal(p)
	if err != nil {
		return fmt.Errorf("profile %s: %w", p.Name, err)
	}
	if p, err = profile.Parse(m.Name+" (profile "+p.Name+" with overrides)", out); err != nil {
		return err
	}
	m.Profile = p
	return nil
}

// Serial is a member's system serial number: stable for a seed and name,
// distinct across members, and shaped like a vendor serial (10 characters,
// upper-case alphanumerics).
func Serial(seed uint64, name string) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", seed, name)
	const alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ" // no I or O, as on labels
	v := h.Sum64()
	var b [10]byte
	for i := range b {
		b[i] = alphabet[v%uint64(len(alphabet))]
		v /= uint64(len(alphabet))
	}
	return "EMU" + string(b[:7])
}

// Shard is the part of members one process of a sharded fleet runs: the
// index-th of count contiguous ranges, as a StatefulSet's pod ordinal picks
// its members. Ranges differ in length by at most one member.
func Shard(members []Member, index, count int) ([]Member, error) {
	if count < 1 || index < 0 || index >= count {
		return nil, fmt.Errorf("shard %d/%d: want 0 <= index < count", index, count)
	}
	n := len(members)
	lo, hi := index*n/count, (index+1)*n/count
	if lo == hi {
		return nil, fmt.Errorf("shard %d/%d of %d members is empty: use fewer shards than members", index, count, n)
	}
	return members[lo:hi], nil
}

// ParseShard reads "INDEX/COUNT"; INDEX "auto" takes the ordinal a
// StatefulSet gives its pods as the hostname's last dash-separated field
// (bmcemu-3 is 3).
func ParseShard(s, hostname string) (index, count int, err error) {
	i, c, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("--shard %q: want INDEX/COUNT, e.g. 0/4 or auto/4", s)
	}
	if count, err = strconv.Atoi(c); err != nil || count < 1 {
		return 0, 0, fmt.Errorf("--shard %q: COUNT must be a positive number", s)
	}
	if i == "auto" {
		k := strings.LastIndex(hostname, "-")
		if k < 0 {
			return 0, 0, fmt.Errorf("--shard %q: hostname %q has no StatefulSet ordinal (NAME-N)", s, hostname)
		}
		i = hostname[k+1:]
	}
	if index, err = strconv.Atoi(i); err != nil || index < 0 || index >= count {
		return 0, 0, fmt.Errorf("--shard %q: INDEX must be 0..%d", s, count-1)
	}
	return index, count, nil
}

// checkAddresses refuses a fleet that starts on loopback and would spill
// out of 127.0.0.0/8 (onto addresses other machines own).
func checkAddresses(ms []Member) error {
	if len(ms) == 0 || !ms[0].Addr.IsLoopback() {
		return nil
	}
	for i, m := range ms {
		if !m.Addr.IsLoopback() {
			return fmt.Errorf("member %d (%s) would be on %s, outside the loopback range 127.0.0.0/8: %d members from %s do not fit; start lower (--fleet-addr) or use --fleet-same-address",
				i+1, m.Name, m.Addr, len(ms), ms[0].Addr)
		}
	}
	return nil
}

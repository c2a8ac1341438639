// Package profile describes a simulated server: its identity, its memory
// topology and which slots are populated at power-on. Profiles are YAML; the
// default one is embedded so `bmcemu serve` needs no file.
package profile

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/bmcemu/bmcemu/platform/fielderr"
	"github.com/bmcemu/bmcemu/platform/spd"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

var defaultYAML = mustBuiltin("default")

func mustBuiltin(name string) []byte {
	b, err := builtinFS.ReadFile("builtin/" + name + ".yaml")
	if err != nil {
		panic(fmt.Sprintf("embedded profile %s: %v", name, err))
	}
	return b
}

// Profile is the parsed, validated description of one server.
type Profile struct {
	Name    string   `yaml:"name" validate:"required"`
	System  System   `yaml:"system" validate:"required"`
	BMC     BMC      `yaml:"bmc"`
	Memory  Memory   `yaml:"memory" validate:"required"`
	Modules []Module `yaml:"modules" validate:"dive"`
	RAS     RAS      `yaml:"ras"`
	Hotplug Hotplug  `yaml:"hotplug"`
	// Guest, when present, makes the server a VM guest (guest.go).
	Guest *Guest `yaml:"guest"`
	// CXL, when present, gives the server CXL host bridges and hot-plug
	// slots for memory expanders (cxl.go).
	CXL *CXL `yaml:"cxl"`
	// Hardware is the processors, NICs, storage, fans and power supplies
	// (hardware.go); absent sections take DefaultHardware's.
	Hardware `yaml:",inline"`

	// Where the profile came from, so that checks made after parsing
	// (the firmware's address map at boot) name the line and field too.
	file string
	root *yaml.Node
}

// Hotplug is the firmware's memory hot-plug setup.
type Hotplug struct {
	// ReservePerSlotGiB is the address space the firmware holds back at
	// boot for each slot empty at boot (the `memmap=` reservation marked
	// EFI_MEMORY_HOT_PLUGGABLE, pooled per socket with a window per
	// slot): the largest module the slot can take without a reboot.
	// Unset, it is the largest module the profile fits, and at least
	// 64 GiB (DefaultReservePerSlotGiB).
	ReservePerSlotGiB *int `yaml:"reserve_per_slot_gib" validate:"omitnil,min=1"`
}

// DefaultReservePerSlotGiB is the least per-slot hot-plug reservation the
// firmware makes when the profile sets none.
const DefaultReservePerSlotGiB = 64

// ReservePerSlotGiB is the hot-plug reservation of each slot empty at
// boot: hotplug.reserve_per_slot_gib, or the largest module the profile
// fits and at least DefaultReservePerSlotGiB.
func (p *Profile) ReservePerSlotGiB() int {
	if r := p.Hotplug.ReservePerSlotGiB; r != nil {
		return *r
	}
	n := DefaultReservePerSlotGiB
	for _, m := range p.Modules {
		n = max(n, m.CapacityGiB)
	}
	return n
}

// DefaultAddressBits is the physical address width when the profile names
// none: the 46 bits Intel Xeon Scalable processors report (/proc/cpuinfo
// "address sizes: 46 bits physical"), 64 TiB.
const DefaultAddressBits = 46

// AddressBits is the platform's physical address width.
func (p *Profile) AddressBits() int {
	if p.Memory.PhysicalAddressBits != 0 {
		return p.Memory.PhysicalAddressBits
	}
	return DefaultAddressBits
}

// FieldError is a failure about field (a dotted path such as
// "hotplug.reserve_per_slot_gib") found after parsing, located in the
// profile's source when it has one: the firmware's boot-time checks
// report through it, so `profile check` and `serve` say the same words.
func (p *Profile) FieldError(field, msg string) *Error {
	e := &Error{File: p.file, Field: field, Msg: msg}
	if e.File == "" {
		e.File = p.Name
	}
	if p.root != nil {
		e.Line = lineOf(p.root, field)
	}
	return e
}

// RAS is the memory protection the firmware applies at boot (HPE's
// AdvancedMemoryProtection, Dell's MemOpMode). A population that cannot
// support the mode boots in AdvancedECC with a configuration error, as real
// firmware does, so the profile does not check the population here.
type RAS struct {
	// Mode is AdvancedECC (default), RankSparing, Mirroring or RAID5. RAID5
	// needs five memory controllers in all, each controller's modules being
	// one memory cartridge.
	//
	// AddressRangeMirror mirrors part of the address space only (Intel's
	// Address Range Mirroring, Dell's FaultResilientMode): the first
	// MirroredChannelPairs channel pairs of each socket, whose memory the
	// firmware decodes as one contiguous range per socket marked
	// EFI_MEMORY_MORE_RELIABLE; the rest is plain ECC memory.
	Mode string `yaml:"mode" validate:"omitempty,oneof=AdvancedECC RankSparing Mirroring RAID5 AddressRangeMirror"`
	// MirroredChannelPairs is how many channel pairs per socket
	// AddressRangeMirror mirrors (default 1).
	MirroredChannelPairs int `yaml:"mirrored_channel_pairs" validate:"omitempty,min=1,max=8"`
	// CEThreshold is how many correctable errors within the leak window
	// trip a rank (default 10); CELogLimit how many CEs a module logs per
	// period before logging is suppressed (default 100; 0 keeps it).
	CEThreshold int `yaml:"ce_threshold" validate:"omitempty,min=1,max=65535"`
	CELogLimit  int `yaml:"ce_log_limit" validate:"omitempty,min=1,max=65535"`
}

// System is the identity the host reports (SMBIOS type 1 in real life).
type System struct {
	Manufacturer string `yaml:"manufacturer" validate:"required,max=63"`
	Model        string `yaml:"model" validate:"required,max=63"`
	SerialNumber string `yaml:"serial_number" validate:"required,max=63"`
	PartNumber   string `yaml:"part_number" validate:"max=63"`
	BIOSVersion  string `yaml:"bios_version" validate:"max=63"`
}

// BMC describes the management controller itself.
type BMC struct {
	FirmwareVersion string `yaml:"firmware_version" validate:"omitempty,max=31"`
}

// Memory is the board's memory topology: sockets -> controllers -> channels -> slots.
//
// Limits: up to 12 memory controllers per socket (AMD EPYC 9004/9005 have
// twelve unified memory controllers of one channel each) and up to
// MaxChannelsPerSocket channels, the width of the firmware's Map Out
// register (a bit per channel).
type Memory struct {
	Type                  spd.DeviceType `yaml:"type" validate:"required,oneof=DDR4 DDR5"`
	SpeedMTs              int            `yaml:"speed_mts" validate:"required,min=1600,max=8800"`
	Sockets               int            `yaml:"sockets" validate:"required,min=1,max=8"`
	ControllersPerSocket  int            `yaml:"controllers_per_socket" validate:"required,min=1,max=12"`
	ChannelsPerController int            `yaml:"channels_per_controller" validate:"required,min=1,max=4"`
	SlotsPerChannel       int            `yaml:"slots_per_channel" validate:"required,min=1,max=3"`
	// PhysicalAddressBits is the processor's physical address width
	// (default 46, Intel Xeon Scalable; AMD EPYC 9004 and later report
	// 52): boot memory, hot-plug reservation and MMIO must fit below it.
	// The firmware puts the 64-bit MMIO window at a 1 TiB boundary, so
	// fewer than 41 bits never fit.
	PhysicalAddressBits int `yaml:"physical_address_bits" validate:"omitempty,min=41,max=52"`
}

// MaxChannelsPerSocket is the most channels a socket may have.
const MaxChannelsPerSocket = 32

// Module populates the slots matching its patterns at power-on.
type Module struct {
	Slots        []string       `yaml:"slots" validate:"required,min=1"`
	CapacityGiB  int            `yaml:"capacity_gib" validate:"required,min=1,max=4096"`
	Ranks        int            `yaml:"ranks" validate:"required,min=1,max=8"`
	Type         spd.DeviceType `yaml:"type" validate:"omitempty,oneof=DDR4 DDR5"`
	BaseModule   spd.ModuleType `yaml:"base_module" validate:"required,oneof=RDIMM UDIMM SO_DIMM LRDIMM"`
	SpeedMTs     int            `yaml:"speed_mts" validate:"omitempty,min=1600,max=8800"`
	Manufacturer string         `yaml:"manufacturer" validate:"required"`
	PartNumber   string         `yaml:"part_number" validate:"max=30"`
}

// Default returns the embedded default profile.
func Default() *Profile {
	p, err := Parse("default.yaml", defaultYAML)
	if err != nil {
		panic(fmt.Sprintf("embedded default profile is invalid: %v", err))
	}
	return p
}

// Load reads and validates a profile file.
func Load(file string) (*Profile, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read profile: %w", err)
	}
	defer f.Close()
	// A profile is a small regular file: not a device, a FIFO or a
	// directory, which could block or never end.
	if st, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("read profile: %w", err)
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read profile %s: not a regular file", file)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxProfileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read profile: %w", err)
	}
	if len(b) > maxProfileSize {
		return nil, fmt.Errorf("read profile %s: larger than %d bytes", file, maxProfileSize)
	}
	return Parse(file, b)
}

// maxProfileSize bounds a profile file; the largest real one is a few KiB.
const maxProfileSize = 1 << 20

// Error is a validation failure located in the source file.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// Parse decodes src (named file in messages), rejecting unknown fields, and
// validates it. Every error names the file, line and field.
func Parse(file string, src []byte) (*Profile, error) {
	var p Profile
	root, err := DecodeStrict(file, "profile", src, &p)
	if err != nil {
		return nil, err
	}
	p.file, p.root = file, root
	if err := p.validate(file, root); err != nil {
		return nil, err
	}
	if err := p.validateHardware(file, root); err != nil {
		return nil, err
	}
	if err := p.validateGuest(); err != nil {
		return nil, err
	}
	if err := p.validateCXL(); err != nil {
		return nil, err
	}
	p.Hardware = p.Hardware.Resolved(p.Memory)
	return &p, nil
}

// DecodeStrict decodes the YAML document src into v (a pointer to a struct
// with yaml and validate tags), refusing unknown fields, and runs the
// struct's validate tags. Errors are *Error naming the line and field;
// what names the kind of document in "empty ..." errors. The document's
// node tree is returned for further checks located with LineOf.
func DecodeStrict(file, what string, src []byte, v any) (*yaml.Node, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if root.Kind == 0 {
		return nil, &Error{File: file, Msg: "empty " + what}
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			// "line 7: field foo not found in type profile.Memory"
			first := te.Errors[0]
			line := 0
			if rest, ok := strings.CutPrefix(first, "line "); ok {
				if n, _, ok := strings.Cut(rest, ":"); ok {
					line, _ = strconv.Atoi(n)
					first = strings.TrimSpace(rest[len(n)+1:])
				}
			}
			// yaml names the line alone: name the field too.
			return nil, &Error{File: file, Line: line, Field: fieldAt(&root, line, first), Msg: first}
		}
		return nil, &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if err := validate.Struct(v); err != nil {
		if field, msg, ok := fielderr.First(err); ok {
			// Embedded structs inlined in YAML carry no name of their own.
			field = dropInlined(field)
			return nil, &Error{File: file, Line: lineOf(&root, field), Field: field, Msg: msg}
		}
		return nil, &Error{File: file, Msg: err.Error()}
	}
	return &root, nil
}

var validate = fielderr.New("yaml")

func (p *Profile) validate(file string, root *yaml.Node) error {
	if n := p.Memory.ControllersPerSocket * p.Memory.ChannelsPerController; n > MaxChannelsPerSocket {
		return p.FieldError("memory.channels_per_controller", fmt.Sprintf("%d controllers of %d channels make %d channels per socket; at most %d",
			p.Memory.ControllersPerSocket, p.Memory.ChannelsPerController, n, MaxChannelsPerSocket))
	}
	names := p.SlotNames()
	taken := map[string]int{}
	for i, m := range p.Modules {
		field := fmt.Sprintf("modules[%d]", i)
		for j, pat := range m.Slots {
			if _, err := path.Match(pat, ""); err != nil {
				return &Error{File: file, Line: lineOf(root, fmt.Sprintf("%s.slots[%d]", field, j)), Field: fmt.Sprintf("%s.slots[%d]", field, j), Msg: fmt.Sprintf("bad pattern %q: %v", pat, err)}
			}
			matched := false
			for _, n := range names {
				if slotMatch(pat, n) {
					matched = true
					if prev, dup := taken[n]; dup && prev != i {
						return &Error{File: file, Line: lineOf(root, field), Field: field, Msg: fmt.Sprintf("slot %s is already populated by modules[%d]", n, prev)}
					}
					taken[n] = i
				}
			}
			if !matched {
				return &Error{File: file, Line: lineOf(root, fmt.Sprintf("%s.slots[%d]", field, j)), Field: fmt.Sprintf("%s.slots[%d]", field, j),
					Msg: fmt.Sprintf("pattern %q matches no slot (slots are named like %s)", pat, names[0])}
			}
		}
		if _, err := spd.Encode(p.ModuleSpec(m, 0)); err != nil {
			return &Error{File: file, Line: lineOf(root, field), Field: field, Msg: err.Error()}
		}
		if m.Type != "" && m.Type != p.Memory.Type {
			return &Error{File: file, Line: lineOf(root, field+".type"), Field: field + ".type", Msg: fmt.Sprintf("%s module on a %s board", m.Type, p.Memory.Type)}
		}
	}
	return p.checkAddressSpace(len(names) - len(taken))
}

// checkAddressSpace refuses a profile whose memory cannot fit below the
// physical address width whatever the firmware's layout: boot modules
// alone, or with a hot-plug reservation for each of the empty slots. The
// firmware checks the exact layout (alignment, MMIO windows) at boot and
// reports through FieldError with the same fields.
func (p *Profile) checkAddressSpace(empty int) error {
	bits := p.AddressBits()
	limitGiB := uint64(1) << (bits - 30)
	var boot uint64
	for _, n := range p.SlotNames() {
		if m, ok := p.ModuleFor(n); ok {
			boot += uint64(m.CapacityGiB)
		}
	}
	if boot > limitGiB {
		return p.FieldError("modules", fmt.Sprintf("%d GiB of modules do not fit below the %d-bit physical address space (%d GiB); raise memory.physical_address_bits (at most 52) or fit less",
			boot, bits, limitGiB))
	}
	per := uint64(p.ReservePerSlotGiB())
	if per > limitGiB || per*uint64(empty) > limitGiB-boot {
		how := "hotplug.reserve_per_slot_gib"
		if p.Hotplug.ReservePerSlotGiB == nil {
			how = fmt.Sprintf("the default (the largest module, at least %d GiB); set hotplug.reserve_per_slot_gib lower", DefaultReservePerSlotGiB)
		}
		return p.FieldError("hotplug.reserve_per_slot_gib", fmt.Sprintf("%d GiB for each of the %d empty slots (%s) and %d GiB of modules do not fit below the %d-bit physical address space (%d GiB)",
			per, empty, how, boot, bits, limitGiB))
	}
	return nil
}

// dropInlined removes the Go names of structs inlined into their parent
// (`yaml:",inline"`, so no YAML key of their own) from a validator path:
// every YAML key here is lower-case.
func dropInlined(field string) string {
	parts := strings.Split(field, ".")
	out := parts[:0]
	for _, p := range parts {
		if p != "" && p[0] >= 'A' && p[0] <= 'Z' {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ".")
}

// lineOf finds the line of a dotted path such as "modules[2].capacity_gib",
// falling back to the deepest ancestor that exists.
func lineOf(root *yaml.Node, dotted string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, part := range strings.Split(dotted, ".") {
		key, idx := part, -1
		if k, rest, ok := strings.Cut(part, "["); ok {
			key = k
			idx, _ = strconv.Atoi(strings.TrimSuffix(rest, "]"))
		}
		next := mapValue(n, key)
		if next == nil {
			return line
		}
		n, line = next, next.Line
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return line
			}
			n = n.Content[idx]
			line = n.Line
		}
	}
	return line
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// ChannelLetter names channel ch of a socket the way board silkscreens do
// (A, B, ...); past Z, as spreadsheet columns (AA, AB, ...), so every name
// stays a letter sequence that slot patterns and URLs take as it is.
func ChannelLetter(ch int) string {
	if ch < 26 {
		return string(rune('A' + ch))
	}
	return ChannelLetter(ch/26-1) + string(rune('A'+ch%26))
}

// SlotName is the board label of a slot: CPU{socket}_DIMM_{channel letter}{slot}.
func SlotName(socket, channel, slot int) string {
	return fmt.Sprintf("CPU%d_DIMM_%s%d", socket, ChannelLetter(channel), slot)
}

// SlotNames lists every slot in board order.
func (p *Profile) SlotNames() []string {
	var out []string
	chPerSocket := p.Memory.ControllersPerSocket * p.Memory.ChannelsPerController
	for s := 0; s < p.Memory.Sockets; s++ {
		for ch := 0; ch < chPerSocket; ch++ {
			for sl := 1; sl <= p.Memory.SlotsPerChannel; sl++ {
				out = append(out, SlotName(s, ch, sl))
			}
		}
	}
	return out
}

// slotMatch matches a pattern against a full slot name, or against its
// "{letter}{slot}" suffix so "*1" means every slot 1.
func slotMatch(pat, name string) bool {
	if ok, _ := path.Match(pat, name); ok {
		return true
	}
	i := strings.LastIndex(name, "_")
	ok, _ := path.Match(pat, name[i+1:])
	return ok && !strings.Contains(pat, "CPU")
}

// ModuleFor returns the module entry that populates slot, if any.
func (p *Profile) ModuleFor(slot string) (Module, bool) {
	for _, m := range p.Modules {
		for _, pat := range m.Slots {
			if slotMatch(pat, slot) {
				return m, true
			}
		}
	}
	return Module{}, false
}

// ModuleSpec turns a profile module into an SPD spec; serial makes each part
// distinct (callers derive it from the system serial and slot).
func (p *Profile) ModuleSpec(m Module, serial uint32) spd.Spec {
	t := m.Type
	if t == "" {
		t = p.Memory.Type
	}
	speed := m.SpeedMTs
	if speed == 0 {
		speed = p.Memory.SpeedMTs
	}
	return spd.Spec{
		Type: t, BaseModule: m.BaseModule, CapacityGiB: m.CapacityGiB, Ranks: m.Ranks,
		SpeedMTs: speed, Manufacturer: m.Manufacturer, PartNumber: m.PartNumber,
		SerialNumber: serial, ManufactureYW: 0x2514,
	}
}

// BuiltinNames lists the embedded profiles: default, one per RAS mode
// (mirror, sparing, raid5, rangemirror) and the twelve-channel sockets
// (12ch-12mc, 12ch-6mc).
func BuiltinNames() []string {
	ents, _ := builtinFS.ReadDir("builtin")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	return out
}

// Builtin parses the embedded profile name (see BuiltinNames).
func Builtin(name string) (*Profile, error) {
	b, err := builtinFS.ReadFile("builtin/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("profile: no built-in profile %q (built-in: %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	return Parse(name+".yaml", b)
}

// BuiltinYAML returns the source of an embedded profile.
func BuiltinYAML(name string) ([]byte, error) {
	b, err := builtinFS.ReadFile("builtin/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("profile: no built-in profile %q (built-in: %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	return b, nil
}

// DefaultYAML returns the source of the embedded default profile.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Open resolves a profile the way the command line names one: a YAML file
// when one exists at that path, otherwise a built-in name.
func Open(nameOrFile string) (*Profile, error) {
	p, err := Load(nameOrFile)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return p, err
	}
	if _, statErr := os.Stat(nameOrFile); errors.Is(statErr, fs.ErrNotExist) && !strings.ContainsAny(nameOrFile, "/.") {
		return Builtin(nameOrFile)
	}
	return nil, err
}

// Clone returns a copy that can be changed (a fleet member's overrides)
// without touching p. Module slot patterns are shared: nothing changes them.
func (p *Profile) Clone() *Profile {
	c := *p
	c.Modules = append([]Module(nil), p.Modules...)
	return &c
}

// LineOf is the line of a dotted field path such as
// "members[2].address" in a YAML document, or of its deepest ancestor
// present: other files validated like profiles locate their errors with it.
func LineOf(root *yaml.Node, dotted string) int { return lineOf(root, dotted) }

// fieldAt names the field a decoding error on line is about, as LineOf
// takes it ("members[2].count"): yaml reports unknown fields and wrong
// types by line alone, and one line of a flow mapping holds several
// fields, so the key or value the message quotes picks among them.
func fieldAt(doc *yaml.Node, line int, msg string) string {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return "" // the document itself is not a mapping
	}
	var first, named string
	var walk func(n *yaml.Node, path string)
	visit := func(key, val *yaml.Node, path string) {
		walk(val, path) // the deepest field on the line wins
		if named != "" || (val.Line != line && (key == nil || key.Line != line)) {
			return
		}
		if first == "" {
			first = path
		}
		quoted := val.Value
		if len(quoted) > 10 { // as yaml shortens it
			quoted = quoted[:7] + "..."
		}
		switch {
		case key != nil && strings.Contains(msg, "field "+key.Value+" not found"),
			val.Kind == yaml.ScalarNode && strings.Contains(msg, "`"+quoted+"`"),
			val.Kind == yaml.SequenceNode && strings.Contains(msg, "!!seq into"),
			val.Kind == yaml.MappingNode && strings.Contains(msg, "!!map into"):
			named = path
		}
	}
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := n.Content[i].Value
				if path != "" {
					p = path + "." + p
				}
				visit(n.Content[i], n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				visit(nil, c, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(doc, "")
	if named != "" {
		return named
	}
	return first
}

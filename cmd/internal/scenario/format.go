// Package scenario runs scenario files: a timeline of physical actions,
// faults, RAS injections, power actions and expectations against one BMC,
// with time given on the simulated clock. A scenario runs against a BMC
// built in this process on a clock the engine steps (seconds of simulated
// time pass in milliseconds), or against a running server or fleet member.
//
// The format (see File and Step) is decoded like profiles and fleet files
// (platform/profile.DecodeStrict): unknown keys are refused and every error
// names the file, line, column and field.
package scenario

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bmcemu/bmcemu/platform/profile"
)

// File is a scenario file.
//
//	name: mirror-failover
//	description: a UE on one side of a mirror; the other side serves
//	profile: mirror
//	timeline:
//	  - at: 1s
//	    inject: {slot: CPU0_DIMM_A1, rank: 0, kind: ue}
//	  - expect:
//	      sel: {sensor: MEM_REDUNDANCY, offset: 1}
//	      within: 5s
type File struct {
	Name        string `yaml:"name" validate:"required,max=100"`
	Description string `yaml:"description" validate:"max=2000"`
	// Profile is the built-in profile the scenario needs: the in-process
	// BMC is built from it, and a target must run it.
	Profile string `yaml:"profile" validate:"required"`
	// Member is the fleet member to act on when the target is a fleet's
	// control listener and no --server-id is given.
	Member   string `yaml:"member" validate:"max=64"`
	Timeline []Step `yaml:"timeline" validate:"required,min=1,max=10000,dive"`
}

// Step is one entry of the timeline: when, an optional name, and exactly
// one action. The action fields form a tagged union; Action returns the
// one that is set. A new kind of step (a protocol fault, say) is a new
// field here and a type implementing Action: the engine runs every kind
// through that interface and needs no change.
type Step struct {
	// At is the simulated time since the scenario started at which the
	// step begins; a step never begins before the previous one ended, and
	// without At it begins right after it.
	At   *time.Duration `yaml:"at"`
	Name string         `yaml:"name" validate:"max=200"`

	Attention  string     `yaml:"attention" validate:"max=64"`
	Insert     *Insert    `yaml:"insert"`
	Remove     string     `yaml:"remove" validate:"max=64"`
	Latch      *Latch     `yaml:"latch"`
	Fault      *Fault     `yaml:"fault"`
	ClearFault *Fault     `yaml:"clear_fault"`
	Inject     *Inject    `yaml:"inject"`
	Fail       string     `yaml:"fail" validate:"max=64"`
	ErrorRate  *ErrorRate `yaml:"error_rate"`
	Workload   *Workload  `yaml:"workload"`
	Verify     *Verify    `yaml:"verify"`
	RASMode    *string    `yaml:"ras_mode"`
	Power      string     `yaml:"power" validate:"omitempty,oneof=On ForceOff GracefulShutdown GracefulRestart ForceRestart Nmi PowerCycle PushPowerButton"`
	// ProtocolFault sets a protocol fault rule; ClearProtocolFault
	// clears rules (see ProtocolFault).
	ProtocolFault      *ProtocolFault    `yaml:"protocol_fault"`
	ClearProtocolFault *ProtocolFaultRef `yaml:"clear_protocol_fault"`
	// CXL acts on a CXL slot (see CXL).
	CXL *CXL `yaml:"cxl"`
	// Wait lets simulated time pass (wait: 30s).
	Wait      *time.Duration `yaml:"wait"`
	Expect    *Expect        `yaml:"expect"`
	line, col int            // of the step's mapping in the file
	action    Action         // the field that is set
	kindName  string         // its YAML key
}

// Insert seats a module (the control API's ModuleRequest; zero fields take
// the board's defaults).
type Insert struct {
	Slot         string `yaml:"slot" validate:"required,max=64"`
	CapacityGiB  int    `yaml:"capacity_gib" validate:"omitempty,min=1,max=4096"`
	Type         string `yaml:"type" validate:"omitempty,oneof=DDR4 DDR5"`
	BaseModule   string `yaml:"base_module" validate:"omitempty,oneof=RDIMM UDIMM SO_DIMM LRDIMM"`
	Ranks        int    `yaml:"ranks" validate:"omitempty,min=1,max=8"`
	SpeedMTs     int    `yaml:"speed_mts" validate:"omitempty,min=1600,max=8800"`
	Manufacturer string `yaml:"manufacturer" validate:"max=64"`
	PartNumber   string `yaml:"part_number" validate:"max=30"`
	SerialNumber uint32 `yaml:"serial_number"`
}

// Latch opens or closes a slot's latch.
type Latch struct {
	Slot string `yaml:"slot" validate:"required,max=64"`
	Open bool   `yaml:"open"`
}

// Fault arms (fault) or clears (clear_fault) a fault kind on a slot; the
// kinds are those of `bmcemu ctl fault --list`. clear_fault without a
// kind clears every fault of the slot.
type Fault struct {
	Slot string `yaml:"slot" validate:"required,max=64"`
	Kind string `yaml:"kind" validate:"max=64"`
}

// Inject injects ECC errors on a module's rank.
type Inject struct {
	Slot  string  `yaml:"slot" validate:"required,max=64"`
	Rank  int     `yaml:"rank" validate:"min=0,max=7"`
	Kind  string  `yaml:"kind" validate:"required,oneof=ce ue"`
	Count int     `yaml:"count" validate:"omitempty,min=1,max=100000"`
	Addr  *uint64 `yaml:"address"`
}

// ErrorRate sets a rank's ECC error rates per simulated second (a CE
// storm); zero stops them.
type ErrorRate struct {
	Slot     string  `yaml:"slot" validate:"required,max=64"`
	Rank     int     `yaml:"rank" validate:"min=0,max=7"`
	CEPerSec float64 `yaml:"ce_per_sec" validate:"min=0,max=100000"`
	UEPerSec float64 `yaml:"ue_per_sec" validate:"min=0,max=1000"`
}

// Workload writes the RAS engine's deterministic pattern over the OS's
// memory.
type Workload struct {
	Seed  uint64 `yaml:"seed"`
	Pages int    `yaml:"pages" validate:"omitempty,min=1,max=1048576"`
}

// Verify reads the workload back byte for byte. Intact (default true) is
// what the step expects: every page there, or (false) some lost.
type Verify struct {
	Intact *bool `yaml:"intact"`
}

// Kinds lists the step kinds by their YAML key, in file order.
func Kinds() []string {
	var out []string
	t := reflect.TypeFor[Step]()
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || key == "at" || key == "name" || key == "" {
			continue
		}
		out = append(out, key)
	}
	return out
}

// Error is a scenario file error located in the file.
type Error struct {
	File  string
	Line  int
	Col   int
	Field string
	Msg   string
}

func (e *Error) Error() string {
	loc := e.File
	switch {
	case e.Line > 0 && e.Col > 0:
		loc = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Col)
	case e.Line > 0:
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// maxFileSize bounds a scenario file; the library's are a few KiB.
const maxFileSize = 1 << 20

// Parse decodes and validates a scenario file (named file in errors).
func Parse(file string, src []byte) (*File, error) {
	if len(src) > maxFileSize {
		return nil, &Error{File: file, Msg: fmt.Sprintf("%d bytes: a scenario file is at most %d", len(src), maxFileSize)}
	}
	var f File
	root, err := profile.DecodeStrict(file, "scenario", src, &f)
	if err != nil {
		var pe *profile.Error
		if errors.As(err, &pe) {
			e := &Error{File: file, Line: pe.Line, Field: pe.Field, Msg: pe.Msg}
			if root := parseRoot(src); root != nil && pe.Field != "" {
				// The field's key gives the column; yaml's own line
				// wins should the two disagree.
				if l, c := locate(root, pe.Field); pe.Line == 0 || l == pe.Line {
					e.Line, e.Col = l, c
				}
			}
			return nil, e
		}
		return nil, &Error{File: file, Msg: err.Error()}
	}
	fail := func(field, msg string) error {
		l, c := locate(root, field)
		return &Error{File: file, Line: l, Col: c, Field: field, Msg: msg}
	}
	if !slices.Contains(profile.BuiltinNames(), f.Profile) {
		return nil, fail("profile", fmt.Sprintf("%q is not a built-in profile (%s)", f.Profile, strings.Join(profile.BuiltinNames(), ", ")))
	}
	var prev time.Duration
	for i := range f.Timeline {
		s := &f.Timeline[i]
		field := fmt.Sprintf("timeline[%d]", i)
		s.line, s.col = locate(root, field)
		if s.At != nil {
			if *s.At < 0 {
				return nil, fail(field+".at", fmt.Sprintf("%s: a time on the timeline is not negative", *s.At))
			}
			if *s.At < prev {
				return nil, fail(field+".at", fmt.Sprintf("%s is before the previous step's %s: steps are listed in time order", *s.At, prev))
			}
			prev = *s.At
		}
		if err := s.resolve(); err != nil {
			var fe *fieldError
			if errors.As(err, &fe) {
				return nil, fail(field+fe.field, fe.msg)
			}
			return nil, fail(field, err.Error())
		}
	}
	return &f, nil
}

func parseRoot(src []byte) *yaml.Node {
	var root yaml.Node
	if yaml.Unmarshal(src, &root) != nil {
		return nil
	}
	return &root
}

// locate is the line and column of a dotted field path (as
// profile.LineOf takes it), or of its deepest ancestor present: a mapping
// entry is located at its key, a sequence item at its start.
func locate(root *yaml.Node, dotted string) (int, int) {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line, col := n.Line, n.Column
	for _, part := range strings.Split(dotted, ".") {
		key, idx := part, -1
		if k, rest, ok := strings.Cut(part, "["); ok {
			key = k
			fmt.Sscanf(strings.TrimSuffix(rest, "]"), "%d", &idx)
		}
		if key != "" {
			k, next := mapEntry(n, key)
			if next == nil {
				return line, col
			}
			n, line, col = next, k.Line, k.Column
		}
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return line, col
			}
			n = n.Content[idx]
			line, col = n.Line, n.Column
		}
	}
	return line, col
}

func mapEntry(n *yaml.Node, key string) (k, v *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

// fieldError is a check on a step that names a field below the step.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

// resolve finds the step's one action and checks what the validate tags
// cannot express.
func (s *Step) resolve() error {
	v := reflect.ValueOf(s).Elem()
	t := v.Type()
	var set []string
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || key == "at" || key == "name" || key == "" || v.Field(i).IsZero() {
			continue
		}
		set = append(set, key)
		s.kindName = key
	}
	switch len(set) {
	case 0:
		return fmt.Errorf("a step needs one action (%s)", strings.Join(Kinds(), ", "))
	case 1:
	default:
		return fmt.Errorf("a step has one action; this one has %s (split it into steps)", strings.Join(set, " and "))
	}
	switch {
	case s.Attention != "":
		s.action = attention(s.Attention)
	case s.Insert != nil:
		s.action = (*insertAction)(s.Insert)
	case s.Remove != "":
		s.action = remove(s.Remove)
	case s.Latch != nil:
		s.action = (*latchAction)(s.Latch)
	case s.Fault != nil:
		if s.Fault.Kind == "" {
			return &fieldError{".fault.kind", "is required (" + strings.Join(faultKinds(), ", ") + ")"}
		}
		if !slices.Contains(faultKinds(), s.Fault.Kind) {
			return &fieldError{".fault.kind", fmt.Sprintf("%q is not a fault kind (%s)", s.Fault.Kind, strings.Join(faultKinds(), ", "))}
		}
		s.action = (*armFault)(s.Fault)
	case s.ClearFault != nil:
		if k := s.ClearFault.Kind; k != "" && k != "all" && !slices.Contains(faultKinds(), k) {
			return &fieldError{".clear_fault.kind", fmt.Sprintf("%q is not a fault kind (%s, or all)", k, strings.Join(faultKinds(), ", "))}
		}
		s.action = (*clearFault)(s.ClearFault)
	case s.Inject != nil:
		s.action = (*injectAction)(s.Inject)
	case s.Fail != "":
		s.action = failAction(s.Fail)
	case s.ErrorRate != nil:
		s.action = (*rateAction)(s.ErrorRate)
	case s.Workload != nil:
		s.action = (*workloadAction)(s.Workload)
	case s.Verify != nil:
		s.action = (*verifyAction)(s.Verify)
	case s.RASMode != nil:
		if m := *s.RASMode; m != "" && !slices.Contains(rasModes, m) {
			return &fieldError{".ras_mode", fmt.Sprintf("%q: want one of %s (or \"\" for the profile's)", m, strings.Join(rasModes, ", "))}
		}
		s.action = rasModeAction(*s.RASMode)
	case s.Power != "":
		s.action = powerAction(s.Power)
	case s.ProtocolFault != nil:
		if err := s.ProtocolFault.validate(".protocol_fault"); err != nil {
			return err
		}
		s.action = (*setProtocolFault)(s.ProtocolFault)
	case s.ClearProtocolFault != nil:
		if err := s.ClearProtocolFault.validate(".clear_protocol_fault"); err != nil {
			return err
		}
		s.action = (*clearProtocolFault)(s.ClearProtocolFault)
	case s.CXL != nil:
		if err := s.CXL.validate(); err != nil {
			return err
		}
		s.action = (*cxlAction)(s.CXL)
	case s.Wait != nil:
		if *s.Wait < 0 {
			return &fieldError{".wait", fmt.Sprintf("%s: time does not run backwards", *s.Wait)}
		}
		s.action = waitAction(*s.Wait)
	case s.Expect != nil:
		if err := s.Expect.resolve(); err != nil {
			return err
		}
		s.action = s.Expect
	}
	return nil
}

var rasModes = []string{"AdvancedECC", "RankSparing", "Mirroring", "RAID5", "AddressRangeMirror"}

// Kind is the step's YAML key ("insert", "expect", ...).
func (s *Step) Kind() string { return s.kindName }

// Action is what the step does.
func (s *Step) Action() Action { return s.action }

// Line and Col locate the step in its file.
func (s *Step) Line() int { return s.line }

// Col is the step's column.
func (s *Step) Col() int { return s.col }

// Title names the step in reports: its name, or what it does.
func (s *Step) Title() string {
	if s.Name != "" {
		return s.Name
	}
	return s.action.Describe()
}

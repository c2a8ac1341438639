package scenario

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// library is the ready scenarios shipped in the binary
// (`bmcemu scenario run builtin:NAME`).
//
//go:embed library/*.yaml
var library embed.FS

// BuiltinPrefix names a library scenario on the command line.
const BuiltinPrefix = "builtin:"

// Builtin is a library scenario.
type Builtin struct {
	Name, Description, Profile string
	Steps                      int
}

// Library lists the shipped scenarios by name.
func Library() ([]Builtin, error) {
	ents, err := fs.Glob(library, "library/*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(ents)
	var out []Builtin
	for _, e := range ents {
		name := strings.TrimSuffix(path.Base(e), ".yaml")
		f, _, err := Load(BuiltinPrefix + name)
		if err != nil {
			return nil, err
		}
		out = append(out, Builtin{Name: name, Description: f.Description, Profile: f.Profile, Steps: len(f.Timeline)})
	}
	return out, nil
}

// BuiltinSource is a library scenario's YAML.
func BuiltinSource(name string) ([]byte, error) {
	src, err := library.ReadFile("library/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no built-in scenario %q (bmcemu scenario list)", name)
	}
	return src, nil
}

// Load reads a scenario file, or a library scenario named builtin:NAME.
// It returns the file and how reports name its source.
func Load(arg string) (*File, string, error) {
	var src []byte
	var err error
	if name, ok := strings.CutPrefix(arg, BuiltinPrefix); ok {
		if src, err = BuiltinSource(name); err != nil {
			return nil, "", err
		}
	} else {
		st, err := os.Stat(arg)
		if err != nil {
			return nil, "", fmt.Errorf("read scenario: %w", err)
		}
		if st.Size() > maxFileSize {
			return nil, "", fmt.Errorf("%s: %d bytes: a scenario file is at most %d", arg, st.Size(), maxFileSize)
		}
		if src, err = os.ReadFile(arg); err != nil {
			return nil, "", fmt.Errorf("read scenario: %w", err)
		}
	}
	f, err := Parse(arg, src)
	if err != nil {
		return nil, "", err
	}
	return f, arg, nil
}

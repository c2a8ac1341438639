package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/platform/profile"
)

// run runs the bmcemu command line with args, returning stdout and the
// error main would print.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func writeProfile(t *testing.T, src string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(f, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestProfileCheckPrintsTheMemoryMap: check dry-boots the profile and
// prints each socket's boot ranges, interleave sets and reservation.
func TestProfileCheckPrintsTheMemoryMap(t *testing.T) {
	src := strings.Replace(string(profile.DefaultYAML()), "controllers_per_socket: 4", "controllers_per_socket: 5", 1)
	src = strings.Replace(src, "channels_per_controller: 2", "channels_per_controller: 1", 1)
	out, err := run(t, "profile", "check", writeProfile(t, src))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`is valid: 20 slots, 10 populated`,
		"memory RAS AdvancedECC; 320 GiB usable",
		"physical address width 46 bits; hot-plug reservation 64 GiB per empty slot",
		"socket 0 (node 0): boot memory 160 GiB [mem 0x0000000000000000-0x00000000bfffffff]",
		"  4-way interleave set, channels A B C D: 128 GiB",
		"  1-way interleave set, channel E: 32 GiB",
		"  hot-plug reservation 320 GiB for 5 empty slots",
		"socket 1 (node 1)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("profile check output lacks %q:\n%s", want, out)
		}
	}
}

// TestProfileCheckAndServeRefuseInTheSameWords: a reservation the
// firmware cannot place below the address width is a located error from
// check, and serve refuses to start with the same words; so is an
// out-of-range value.
func TestProfileCheckAndServeRefuseInTheSameWords(t *testing.T) {
	base := string(profile.DefaultYAML())
	for _, tc := range []struct {
		name, src, want string
	}{
		{"past the address width", strings.Replace(strings.Replace(base, "reserve_per_slot_gib: 64", "reserve_per_slot_gib: 60", 1),
			"  slots_per_channel: 2", "  slots_per_channel: 2\n  physical_address_bits: 41", 1),
			"p.yaml:33: hotplug.reserve_per_slot_gib: the hot-plug reservation does not fit below the 41-bit physical address space"},
		{"zero", strings.Replace(base, "reserve_per_slot_gib: 64", "reserve_per_slot_gib: 0", 1),
			"p.yaml:32: hotplug.reserve_per_slot_gib: must be at least 1 (got 0)"},
		{"negative", strings.Replace(base, "reserve_per_slot_gib: 64", "reserve_per_slot_gib: -64", 1),
			"p.yaml:32: hotplug.reserve_per_slot_gib: must be at least 1 (got -64)"},
		{"larger than the address space", strings.Replace(base, "reserve_per_slot_gib: 64", "reserve_per_slot_gib: 9999999999", 1),
			"p.yaml:32: hotplug.reserve_per_slot_gib: 9999999999 GiB for each of the 16 empty slots"},
		{"shape", strings.Replace(base, "controllers_per_socket: 4", "controllers_per_socket: 16", 1),
			"p.yaml:16: memory.controllers_per_socket: must be at most 12 (got 16)"},
		{"channels per socket", strings.Replace(strings.Replace(base, "controllers_per_socket: 4", "controllers_per_socket: 12", 1), "channels_per_controller: 2", "channels_per_controller: 4", 1),
			"p.yaml:17: memory.channels_per_controller: 12 controllers of 4 channels make 48 channels per socket; at most 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := writeProfile(t, tc.src)
			_, cerr := run(t, "profile", "check", f)
			if cerr == nil || !strings.Contains(cerr.Error(), tc.want) {
				t.Fatalf("profile check: %v\nwant %q", cerr, tc.want)
			}
			_, serr := run(t, "serve", "--profile", f, "--ephemeral", "--redfish-addr", "127.0.0.1:0", "--redfish-tls-addr", "",
				"--ipmi-addr", "127.0.0.1:0", "--metrics=false")
			if serr == nil || serr.Error() != cerr.Error() {
				t.Fatalf("serve: %v\ncheck: %v", serr, cerr)
			}
		})
	}
}

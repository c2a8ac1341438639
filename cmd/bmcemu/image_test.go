package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bmcemu/bmcemu/platform"
)

// The images bmcemu writes are the ones the host boots and flashes.
func TestImageCommand(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"image", "iso", filepath.Join(dir, "a.iso"), "--label", "IPA", "--legacy=false"},
		{"image", "disk", filepath.Join(dir, "a.img"), "--mbr=false"},
		{"image", "firmware", filepath.Join(dir, "a.cap"), "--version", "2.0.1"},
	} {
		cmd := newRootCmd()
		cmd.SetArgs(args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	iso, _ := os.ReadFile(filepath.Join(dir, "a.iso"))
	if r, _ := platform.InspectImage(iso); !r.UEFI || r.Legacy || r.VolumeID != "IPA" {
		t.Errorf("iso %+v", r)
	}
	disk, _ := os.ReadFile(filepath.Join(dir, "a.img"))
	if r, _ := platform.InspectImage(disk); !r.DiskUEFI || r.DiskLegacy {
		t.Errorf("disk %+v", r)
	}
	capsule, _ := os.ReadFile(filepath.Join(dir, "a.cap"))
	if img, err := platform.ParseFirmwareImage(capsule); err != nil || img.Component != "BIOS" || img.Version != "2.0.1" {
		t.Errorf("capsule %+v %v", img, err)
	}
	cmd := newRootCmd()
	cmd.SetArgs([]string{"image", "firmware", filepath.Join(dir, "b.cap"), "--component", "NIC", "--version", "1"})
	if err := cmd.Execute(); err == nil {
		t.Error("a NIC capsule was written")
	}
}

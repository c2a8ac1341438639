package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/images"
)

// newImageCmd writes the images the emulated host boots and flashes, to
// serve over HTTP to virtual media and SimpleUpdate.
func newImageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Write boot and firmware images the emulated host reads (virtual media, SimpleUpdate)",
	}
	var uefi, legacy, gpt, mbr bool
	var label string
	var size int
	iso := &cobra.Command{
		Use:     "iso FILE",
		Short:   "An ISO 9660 image with an El Torito boot catalog (UEFI and/or legacy BIOS boot images)",
		Example: "  bmcemu image iso deploy.iso --label IPA\n  python3 -m http.server 8080 &   # then InsertMedia http://127.0.0.1:8080/deploy.iso",
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return os.WriteFile(args[0], images.ISO(label, uefi, legacy, size), 0o644)
		},
	}
	iso.Flags().StringVar(&label, "label", "BMCEMU", "volume identifier")
	iso.Flags().BoolVar(&uefi, "uefi", true, "an EFI boot image")
	iso.Flags().BoolVar(&legacy, "legacy", true, "a legacy BIOS boot image")
	iso.Flags().IntVar(&size, "size", 1<<20, "image size in bytes")
	disk := &cobra.Command{
		Use:   "disk FILE",
		Short: "A disk image for the virtual USB stick (GPT for UEFI boot, MBR for legacy)",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return os.WriteFile(args[0], images.Disk(gpt, mbr, size), 0o644)
		},
	}
	disk.Flags().BoolVar(&gpt, "gpt", true, "a GPT")
	disk.Flags().BoolVar(&mbr, "mbr", true, "an MBR boot signature")
	disk.Flags().IntVar(&size, "size", 1<<20, "image size in bytes")
	var component, version string
	fw := &cobra.Command{
		Use:     "firmware FILE",
		Short:   "A firmware capsule for SimpleUpdate (BIOS: flashed at the host's next reset; BMC: at the BMC's next start)",
		Example: "  bmcemu image firmware bios-2.1.0.cap --component BIOS --version 2.1.0",
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if component != platform.FirmwareComponentBIOS && component != platform.FirmwareComponentBMC {
				return fmt.Errorf("--component %q: want BIOS or BMC", component)
			}
			if version == "" || len(version) > 32 {
				return fmt.Errorf("--version %q: want 1 to 32 characters", version)
			}
			payload := make([]byte, size)
			copy(payload, component+" "+version)
			return os.WriteFile(args[0], platform.EncodeFirmwareImage(component, version, payload), 0o644)
		},
	}
	fw.Flags().StringVar(&component, "component", platform.FirmwareComponentBIOS, "BIOS or BMC")
	fw.Flags().StringVar(&version, "version", "", "the version the image installs (required)")
	fw.Flags().IntVar(&size, "size", 64<<10, "payload size in bytes")
	cmd.AddCommand(iso, disk, fw)
	return cmd
}

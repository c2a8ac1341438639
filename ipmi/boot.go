package ipmi

import (
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
)

// bootSelectors maps the platform's boot targets to the boot device
// selector of System Boot Options parameter 5 (IPMI 2.0 Table 28-14, data
// 2 bits 5:2). It is one-to-one so a target set on either surface reads
// back the same on the other:
//
//	target       selector
//	None         0h  no override
//	Pxe          1h  force PXE
//	Hdd          2h  force boot from default hard drive
//	Diags        4h  force boot from default diagnostic partition
//	Cd           5h  force boot from default CD/DVD
//	BiosSetup    6h  force boot into BIOS setup
//	RemoteDrive  Bh  force boot from remote hard drive
//	Usb          Fh  force boot from floppy/primary removable media
//
// Fh is ipmitool's "floppy"; like OpenBMC, which maps it to its
// RemovableMedia source, it is the USB stick of today. Selectors with no
// target (3h hard drive in safe mode, 7h remote floppy, 8h remote CD/DVD,
// 9h primary remote media) are refused rather than stored as something
// else.
var bootSelectors = map[string]types.BootDeviceSelector{
	platform.BootTargetNone:       types.BootDeviceSelectorNoOverride,
	platform.BootTargetPxe:        types.BootDeviceSelectorForcePXE,
	platform.BootTargetHdd:        types.BootDeviceSelectorForceHardDrive,
	platform.BootTargetDiags:      types.BootDeviceSelectorForceDiagnosticPartition,
	platform.BootTargetCd:         types.BootDeviceSelectorForceCDROM,
	platform.BootTargetBiosSetup:  types.BootDeviceSelectorForceBIOSSetup,
	platform.BootTargetRemoteDisk: types.BootDeviceSelectorForceRemoteHardDrive,
	platform.BootTargetUsb:        types.BootDeviceSelectorForceFloppy,
}

// bootTarget is the platform target for a selector.
func bootTarget(s types.BootDeviceSelector) (string, bool) {
	for t, sel := range bootSelectors {
		if sel == s {
			return t, true
		}
	}
	return "", false
}

// overrideFromFlags reads parameter 5 as the platform's override: the valid
// bit enables it, the persistent bit makes it Continuous rather than Once,
// and the BIOS boot type bit picks UEFI.
func overrideFromFlags(f *types.BootOptionParam_BootFlags) (platform.BootOverride, bool) {
	target, ok := bootTarget(f.BootDeviceSelector)
	if !ok {
		return platform.BootOverride{}, false
	}
	o := platform.BootOverride{Target: target, Enabled: platform.BootOverrideDisabled, Mode: platform.BootModeLegacy}
	switch {
	case f.BootFlagsValid && f.Persist:
		o.Enabled = platform.BootOverrideContinuous
	case f.BootFlagsValid:
		o.Enabled = platform.BootOverrideOnce
	}
	if f.BIOSBootType == types.BIOSBootTypeEFI {
		o.Mode = platform.BootModeUEFI
	}
	return o, true
}

// applyOverride writes the platform's override into parameter 5's fields,
// leaving the bits only IPMI speaks (CMOS clear, lock-outs, verbosity,
// console redirection...) as base has them.
func applyOverride(base types.BootOptionParam_BootFlags, o platform.BootOverride) *types.BootOptionParam_BootFlags {
	base.BootFlagsValid = o.Enabled != platform.BootOverrideDisabled
	base.Persist = o.Enabled == platform.BootOverrideContinuous
	base.BIOSBootType = types.BIOSBootType(o.Mode == platform.BootModeUEFI)
	base.BootDeviceSelector = bootSelectors[o.Target]
	return &base
}

// Package images builds the boot images the emulated host's firmware
// reads (platform/vmedia.go): an ISO 9660 image with an El Torito boot
// catalog, and a disk image with an MBR or GPT. Tests serve them to the
// BMC's virtual media; `bmcemu image` writes them for people trying the
// emulator. The boot images inside are placeholders: the emulated host
// runs its own OS model once the firmware finds them.
package images

import (
	"encoding/binary"
)

const sector = 2048

// ISO builds an ISO 9660 image (ECMA-119) labelled volumeID whose El
// Torito catalog (El Torito 1.0) has a boot image for legacy BIOS, UEFI,
// or both, padded to size bytes (at least 24 sectors).
func ISO(volumeID string, uefi, legacy bool, size int) []byte {
	const catalogLBA, biosImage, efiImage = 19, 20, 22
	size = max(size, 24*sector)
	img := make([]byte, size)
	// Primary volume descriptor (sector 16).
	pvd := img[16*sector:]
	pvd[0] = 1
	copy(pvd[1:], "CD001")
	pvd[6] = 1
	label := []byte(volumeID + "                                ")[:32]
	copy(pvd[40:], label)
	blocks := uint32(size / sector)
	binary.LittleEndian.PutUint32(pvd[80:], blocks)
	binary.BigEndian.PutUint32(pvd[84:], blocks)
	binary.LittleEndian.PutUint16(pvd[128:], sector)
	binary.BigEndian.PutUint16(pvd[130:], sector)
	// Boot record volume descriptor (sector 17).
	br := img[17*sector:]
	br[0] = 0
	copy(br[1:], "CD001")
	br[6] = 1
	copy(br[7:], "EL TORITO SPECIFICATION")
	binary.LittleEndian.PutUint32(br[0x47:], catalogLBA)
	// Volume descriptor set terminator (sector 18).
	term := img[18*sector:]
	term[0] = 255
	copy(term[1:], "CD001")
	term[6] = 1
	// Boot catalog (sector 19): validation entry, default entry (BIOS),
	// then a final section header for UEFI with one entry.
	cat := img[catalogLBA*sector:]
	cat[0] = 1
	copy(cat[4:], "bmcemu")
	cat[30], cat[31] = 0x55, 0xAA
	var sum uint16
	for i := 0; i < 32; i += 2 {
		sum += binary.LittleEndian.Uint16(cat[i:])
	}
	binary.LittleEndian.PutUint16(cat[28:], -sum)
	def := cat[32:]
	if legacy {
		def[0] = 0x88
	}
	binary.LittleEndian.PutUint16(def[6:], 4)
	binary.LittleEndian.PutUint32(def[8:], biosImage)
	if uefi {
		sec := cat[64:]
		sec[0], sec[1] = 0x91, 0xEF
		binary.LittleEndian.PutUint16(sec[2:], 1)
		ent := cat[96:]
		ent[0] = 0x88
		binary.LittleEndian.PutUint16(ent[6:], 1)
		binary.LittleEndian.PutUint32(ent[8:], efiImage)
		copy(img[efiImage*sector:], "bmcemu EFI System Partition")
	}
	copy(img[biosImage*sector:], "bmcemu isolinux")
	return img
}

// Disk builds a disk image of size bytes (at least 2 KiB) with a GPT
// header at LBA 1 (UEFI boots it) and/or an MBR boot signature (legacy
// BIOS boots it).
func Disk(gpt, mbr bool, size int) []byte {
	img := make([]byte, max(size, 2048))
	if mbr {
		img[510], img[511] = 0x55, 0xAA
	}
	if gpt {
		copy(img[512:], "EFI PART")
		binary.LittleEndian.PutUint32(img[520:], 0x00010000) // revision 1.0
	}
	return img
}

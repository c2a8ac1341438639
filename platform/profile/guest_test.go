package profile

import (
	"strings"
	"testing"
)

func TestGuestProfileErrorsNameTheLine(t *testing.T) {
	src, err := BuiltinYAML("virtio-mem")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to, want string }{
		{"block_size_mib: 4", "block_size_mib: 6", "guest.virtio_mem.block_size_mib: 6 MiB is not a power of two"},
		{"block_size_mib: 4", "block_size_mib: 2", "guest.virtio_mem.block_size_mib"},
		{"block_size_mib: 4", "block_size_mib: 131072", "guest.virtio_mem.block_size_mib: must be at most 65536"},
		{"region_size_gib: 128\n    block_size_mib: 4", "region_size_gib: 129\n    block_size_mib: 2048", "guest.virtio_mem.block_size_mib: 2048 MiB does not divide the 129 GiB region"},
		{"requested_size_mib: 0", "requested_size_mib: 6", "guest.virtio_mem.requested_size_mib: 6 MiB is not a multiple of the 4 MiB block size"},
		{"requested_size_mib: 0", "requested_size_mib: 131076", "exceeds the 128 GiB region"},
		{"    node: 0\n    region", "    node: 1\n    region", "guest.virtio_mem.node: node 1 does not exist"},
		{"auto_online_blocks: online_movable", "auto_online_blocks: sometimes", "guest.kernel.auto_online_blocks"},
		{"free_page_reporting: true", "free_page_reporting: true\n    inflate: 3", "field inflate not found"},
	} {
		bad := strings.Replace(string(src), c.from, c.to, 1)
		if bad == string(src) {
			t.Fatalf("%q not in the built-in", c.from)
		}
		_, err := Parse("vm.yaml", []byte(bad))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "vm.yaml:") {
			t.Errorf("%s -> %v; want %q with a line", c.to, err, c.want)
			continue
		}
		var pe *Error
		if e, ok := err.(*Error); ok {
			pe = e
		}
		if pe == nil || pe.Line == 0 {
			t.Errorf("%s: no line in %v", c.to, err)
		}
	}
	for _, name := range []string{"virtio-mem", "balloon", "pc-dimm"} {
		p, err := Builtin(name)
		if err != nil || !p.IsGuest() {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if p, _ := Builtin("default"); p.IsGuest() {
		t.Fatal("default profile is a guest")
	}
}

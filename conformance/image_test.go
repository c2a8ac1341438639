package conformance

import (
	"archive/tar"
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// needPodman finds podman. Under CI=true a missing podman fails the test
// (conformance/test.sh installs it); elsewhere the test is skipped.
func needPodman(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("podman"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("podman is not installed; conformance/test.sh must install it")
	}
	t.Skip("podman is not installed (apt-get install podman): the container image is not built or checked")
	return ""
}

// imageEntry is one file of the image's root filesystem.
type imageEntry struct {
	mode     int64
	uid, gid int
	typ      byte
	data     []byte
}

// TestContainerImage builds the image with cmd/bmcemu/deploy/image.sh, as
// the README says, checks what it holds (one static binary, a user, /tmp,
// the state directory) and how it is configured (non-root, the ports), then
// runs the binary taken out of the image (this machine's podman cannot start
// containers): a fleet of three, and a fleet of four split across two
// processes as the chart's StatefulSet splits it across pods.
func TestContainerImage(t *testing.T) {
	podman := needPodman(t)
	version := fmt.Sprintf("conformance-%d", os.Getpid())
	image := "localhost/bmcemu-conformance:" + version
	build := exec.Command("bash", "../cmd/bmcemu/deploy/image.sh", image)
	build.Env = append(os.Environ(), "CONTAINER_TOOL="+podman, "VERSION="+version)
	t.Cleanup(func() { _ = exec.Command(podman, "rmi", "--force", image).Run() })
	start := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("image.sh %s: %v\n%s", image, err, out)
	}
	t.Logf("image.sh built %s in %s", image, time.Since(start).Round(time.Millisecond))

	// Configuration: who runs, what is exposed, what starts.
	out, err := exec.Command(podman, "image", "inspect", "--format", "{{json .Config}}", image).Output()
	if err != nil {
		t.Fatalf("podman image inspect: %v", err)
	}
	var cfg struct {
		User         string
		ExposedPorts map[string]struct{}
		Entrypoint   []string
		Cmd          []string
		Env          []string
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("podman image inspect: %v\n%s", err, out)
	}
	if cfg.User != "65532:65532" {
		t.Errorf("image user %q, want 65532:65532 (non-root, numeric so Kubernetes can check runAsNonRoot)", cfg.User)
	}
	for _, p := range []string{"623/udp", "443/tcp", "8000/tcp"} {
		if _, ok := cfg.ExposedPorts[p]; !ok {
			t.Errorf("image does not expose %s (exposes %v)", p, cfg.ExposedPorts)
		}
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/bmcemu"}) {
		t.Errorf("entrypoint %q, want [/bmcemu]", cfg.Entrypoint)
	}
	if !slices.Contains(cfg.Env, "BMCEMU_STATE_DIR=/var/lib/bmcemu") {
		t.Errorf("env %q: want BMCEMU_STATE_DIR=/var/lib/bmcemu (the chart's volume)", cfg.Env)
	}

	// Contents: everything in the image, from podman export of a created
	// (never started) container.
	id, err := exec.Command(podman, "create", image).Output()
	if err != nil {
		t.Fatalf("podman create: %v", err)
	}
	ctr := strings.TrimSpace(string(id))
	t.Cleanup(func() { _ = exec.Command(podman, "rm", "--force", ctr).Run() })
	files := exportImage(t, podman, ctr)
	var names []string
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	if want := []string{"bmcemu", "etc", "etc/group", "etc/passwd", "tmp", "var", "var/lib", "var/lib/bmcemu"}; !slices.Equal(names, want) {
		t.Errorf("image holds %q, want %q", names, want)
	}
	for name, w := range map[string]imageEntry{
		"bmcemu":         {mode: 0o755, typ: tar.TypeReg},
		"tmp":            {mode: 0o1777, typ: tar.TypeDir},
		"var/lib":        {mode: 0o755, typ: tar.TypeDir},
		"var/lib/bmcemu": {mode: 0o755, uid: 65532, gid: 65532, typ: tar.TypeDir},
		"etc/passwd":     {mode: 0o644, typ: tar.TypeReg},
	} {
		got, ok := files[name]
		if ok && (got.mode != w.mode || got.uid != w.uid || got.gid != w.gid || got.typ != w.typ) {
			t.Errorf("/%s: mode %o owner %d:%d type %c, want mode %o owner %d:%d type %c", name, got.mode, got.uid, got.gid, got.typ, w.mode, w.uid, w.gid, w.typ)
		}
	}
	if !bytes.Contains(files["etc/passwd"].data, []byte(":65532:65532:")) {
		t.Errorf("/etc/passwd names no user 65532:\n%s", files["etc/passwd"].data)
	}

	// The binary: static (no interpreter, no shared libraries: nothing else
	// is in the image), and the one image.sh stamped.
	bin := filepath.Join(t.TempDir(), "bmcemu")
	if err := os.WriteFile(bin, files["bmcemu"].data, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("the image's /bmcemu is not an ELF binary: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the image's /bmcemu is dynamically linked (%s): build it with CGO_ENABLED=0", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the image's /bmcemu needs %q", libs)
	}
	f.Close()
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err != nil || !strings.Contains(string(out), version) {
		t.Errorf("/bmcemu --version: %v %q; want version %s", err, out, version)
	}
	// The default command's flags exist (it cannot be started here: it binds
	// the standard ports on every address).
	if out, err := exec.Command(bin, append(cfg.Cmd, "--help")...).CombinedOutput(); err != nil {
		t.Errorf("the image's default command %q does not parse: %v\n%s", cfg.Cmd, err, out)
	}
	if t.Failed() {
		return
	}

	var serials map[string]string
	t.Run("fleet of three", func(t *testing.T) {
		base := freePortRange(t, 7, "127.0.0.1")
		runBinary(t, bin, nil, "serve", "--ephemeral", "--fleet", "3", "--fleet-same-address", "--fleet-addr", "127.0.0.1",
			"--member-ipmi-port", fmt.Sprint(base), "--member-https-port", fmt.Sprint(base+3), "--member-http-port", "0",
			"--control-addr", fmt.Sprintf("127.0.0.1:%d", base+6), "--log-level", "warn")
		ms := controlServers(t, fmt.Sprintf("http://127.0.0.1:%d", base+6), "admin", "password")
		serials = map[string]string{}
		for i, m := range ms {
			serials[m.ID] = m.Serial
			if want := fmt.Sprintf("bmc-%03d", i+1); m.ID != want {
				t.Errorf("member %d is %s, want %s", i, m.ID, want)
			}
			if want := fmt.Sprintf("127.0.0.1:%d", base+i); m.IPMI != want {
				t.Errorf("%s: IPMI on %s, want %s", m.ID, m.IPMI, want)
			}
			if want := fmt.Sprintf("https://127.0.0.1:%d/redfish/v1", base+3+i); !slices.Equal(m.Redfish, []string{want}) {
				t.Errorf("%s: Redfish at %q, want [%s]", m.ID, m.Redfish, want)
			}
			checkServiceRoot(t, m)
		}
		if len(ms) != 3 {
			t.Fatalf("%d members, want 3", len(ms))
		}
		if _, err := exec.LookPath("ipmitool"); err == nil {
			if out, err := ms[2].ipmitool(t, "mc", "info"); err != nil || !strings.Contains(out, "IPMI Version") {
				t.Errorf("%s: ipmitool mc info: %v\n%s", ms[2].ID, err, out)
			}
		}
	})

	// Two processes of the same --fleet 4, as two pods of the StatefulSet:
	// the same flags but the shard and the address (a pod's IP), the account
	// from the environment as the chart passes it from its Secret.
	t.Run("two shards", func(t *testing.T) {
		addrs := []string{"127.0.0.1", "127.0.0.2"}
		base := freePortRange(t, 9, addrs...)
		env := []string{"BMCEMU_USER=shardop", "BMCEMU_PASSWORD=Shard-passw0rd"}
		var got [][]fleetMember
		for s, addr := range addrs {
			runBinary(t, bin, env, "serve", "--ephemeral", "--fleet", "4", "--shard", fmt.Sprintf("%d/2", s),
				"--fleet-same-address", "--fleet-addr", addr,
				"--member-ipmi-port", fmt.Sprint(base), "--member-https-port", fmt.Sprint(base+4), "--member-http-port", "0",
				"--control-addr", fmt.Sprintf("%s:%d", addr, base+8), "--log-level", "warn")
			control := fmt.Sprintf("http://%s:%d", addr, base+8)
			if code := controlGet(t, control, "admin", "password", nil); code != http.StatusUnauthorized {
				t.Errorf("shard %d: control API with the default account: HTTP %d, want 401 (the account is the environment's)", s, code)
			}
			got = append(got, controlServers(t, control, "shardop", "Shard-passw0rd"))
		}
		seen := map[string]int{}
		for s, ms := range got {
			var ids []string
			for _, m := range ms {
				ids = append(ids, m.ID)
				if prev, dup := seen[m.ID]; dup {
					t.Errorf("%s is in shard %d and shard %d", m.ID, prev, s)
				}
				seen[m.ID] = s
				// Ports count from the fleet's first member in every shard.
				var i int
				if _, err := fmt.Sscanf(m.ID, "bmc-%d", &i); err != nil {
					t.Fatalf("member id %q: %v", m.ID, err)
				}
				i--
				if want := fmt.Sprintf("%s:%d", addrs[s], base+i); m.IPMI != want {
					t.Errorf("shard %d: %s IPMI on %s, want %s", s, m.ID, m.IPMI, want)
				}
				if want := serials[m.ID]; want != "" && m.Serial != want {
					t.Errorf("shard %d: %s has serial %s, the whole fleet's %s has %s", s, m.ID, m.Serial, m.ID, want)
				}
				checkServiceRoot(t, m)
			}
			if want := [][]string{{"bmc-001", "bmc-002"}, {"bmc-003", "bmc-004"}}[s]; !slices.Equal(ids, want) {
				t.Errorf("shard %d/2 runs %q, want %q", s, ids, want)
			}
		}
		if len(seen) != 4 {
			t.Errorf("the shards run %d distinct members, want 4", len(seen))
		}
	})
}

// exportImage reads a container's filesystem from podman export.
func exportImage(t *testing.T, podman, ctr string) map[string]imageEntry {
	t.Helper()
	cmd := exec.Command(podman, "export", ctr)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	files := map[string]imageEntry{}
	tr := tar.NewReader(stdout)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("podman export: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("podman export: %s: %v", h.Name, err)
		}
		name := strings.Trim(filepath.Clean("/"+h.Name), "/")
		files[name] = imageEntry{mode: h.Mode & 0o7777, uid: h.Uid, gid: h.Gid, typ: h.Typeflag, data: data}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("podman export: %v\n%s", err, stderr.Bytes())
	}
	return files
}

// freePortRange finds n consecutive ports free for both TCP and UDP on
// every address (members count their ports up from a base).
func freePortRange(t *testing.T, n int, addrs ...string) int {
	t.Helper()
	for range 50 {
		base := freeTCPPort(t)
		if base+n > 65535 {
			continue
		}
		var closers []io.Closer
		ok := true
		for p := base; p < base+n && ok; p++ {
			for _, a := range addrs {
				hp := net.JoinHostPort(a, fmt.Sprint(p))
				l, err := net.Listen("tcp", hp)
				if err != nil {
					ok = false
					break
				}
				closers = append(closers, l)
				c, err := net.ListenPacket("udp", hp)
				if err != nil {
					ok = false
					break
				}
				closers = append(closers, c)
			}
		}
		for _, c := range closers {
			c.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports on %v", n, addrs)
	return 0
}

// process is one run of a binary that prints "ready" once it serves.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	out    bytes.Buffer
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// runBinary starts bin with args (and env added to this process's) and waits
// for "ready"; cleanup stops it with SIGTERM and checks it exits cleanly.
func runBinary(t *testing.T, bin string, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	p.cmd.Env = append(p.cmd.Env, env...)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		announced := false
		for sc.Scan() {
			fmt.Fprintln(p, sc.Text())
			if sc.Text() == "ready" && !announced {
				announced = true
				close(ready)
			}
		}
	}()
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
			if !p.cmd.ProcessState.Success() {
				t.Errorf("%s exited: %s", bin, p.cmd.ProcessState)
			}
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
			t.Errorf("%s did not exit within 10s of SIGTERM", bin)
		}
		if t.Failed() {
			t.Logf("%s %s:\n%s", bin, strings.Join(args, " "), p.output())
		}
	})
	select {
	case <-ready:
	case <-p.exited:
		t.Fatalf("%s exited before it was ready:\n%s", bin, p.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s not ready after 30s:\n%s", bin, p.output())
	}
	return p
}

// controlGet fetches a control listener's membership with Basic auth.
func controlGet(t *testing.T, url, user, password string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/emulator/v1/servers", nil)
	req.SetBasicAuth(user, password)
	resp, err := insecure.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v\n%s", req.URL, err, b)
		}
	}
	return resp.StatusCode
}

// controlServers is the membership a control listener reports.
func controlServers(t *testing.T, url, user, password string) []fleetMember {
	t.Helper()
	var ms []fleetMember
	if code := controlGet(t, url, user, password, &ms); code != http.StatusOK {
		t.Fatalf("GET %s/emulator/v1/servers: HTTP %d", url, code)
	}
	return ms
}

// checkServiceRoot: the member's Redfish answers over HTTPS at its address.
func checkServiceRoot(t *testing.T, m fleetMember) {
	t.Helper()
	if len(m.Redfish) == 0 {
		t.Errorf("%s serves no Redfish", m.ID)
		return
	}
	resp, err := insecure.Get(m.Redfish[0])
	if err != nil {
		t.Errorf("%s: GET %s: %v", m.ID, m.Redfish[0], err)
		return
	}
	defer resp.Body.Close()
	var root struct{ RedfishVersion, UUID string }
	if err := json.NewDecoder(resp.Body).Decode(&root); err != nil || resp.StatusCode != http.StatusOK || root.RedfishVersion == "" {
		t.Errorf("%s: GET %s: HTTP %d, %v, %+v; want a service root", m.ID, m.Redfish[0], resp.StatusCode, err, root)
	}
}

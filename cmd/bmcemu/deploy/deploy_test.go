package deploy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v4/pkg/chart"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/bmcemu/bmcemu/cmd/internal/fleet"
)

// imageUser is the numeric user the Containerfile's USER names.
const imageUser = 65532

var loadChart = sync.OnceValues(func() (chart.Charter, error) { return loader.Load("chart") })

// rendered is one release's objects, decoded strictly into the API types.
type rendered struct {
	notes      string
	sts        []*appsv1.StatefulSet
	services   map[string]*corev1.Service
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

// render runs the chart's templates as `helm install` would (values merged
// with values.yaml and checked against values.schema.json), in strict mode
// (a template reading a value that is not there fails).
func render(t *testing.T, release, values string) (*rendered, error) {
	t.Helper()
	ch, err := loadChart()
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	vals, err := common.ReadValues([]byte(values))
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	top, err := util.ToRenderValues(ch, vals, common.ReleaseOptions{Name: release, Namespace: "bmc", Revision: 1, IsInstall: true}, nil)
	if err != nil {
		return nil, err
	}
	files, err := engine.Engine{Strict: true}.RenderWithContext(context.Background(), ch, top)
	if err != nil {
		return nil, err
	}
	r := &rendered{services: map[string]*corev1.Service{}, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if path.Base(name) == "NOTES.txt" {
			r.notes = files[name]
			continue
		}
		r.decode(t, name, files[name])
	}
	return r, nil
}

// decode splits one rendered template into documents and decodes each into
// its API type, refusing unknown and duplicate fields as the API server's
// strict field validation does.
func (r *rendered) decode(t *testing.T, file, text string) {
	t.Helper()
	rd := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(text)))
	for n := 0; ; n++ {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", file, n, err)
		}
		j, err := sigsyaml.YAMLToJSONStrict(doc)
		if err != nil {
			t.Fatalf("%s: document %d is not valid YAML: %v\n%s", file, n, err, doc)
		}
		if string(j) == "null" {
			continue // only comments
		}
		var tm metav1.TypeMeta
		if err := json.Unmarshal(j, &tm); err != nil {
			t.Fatalf("%s: document %d: %v", file, n, err)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 StatefulSet":
			s := &appsv1.StatefulSet{}
			r.sts, obj = append(r.sts, s), s
		case "v1 Service":
			obj = &corev1.Service{}
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1 Secret":
			obj = &corev1.Secret{}
		default:
			t.Fatalf("%s: document %d: unexpected object %s %s", file, n, tm.APIVersion, tm.Kind)
		}
		strict, err := kjson.UnmarshalStrict(j, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
		if err != nil {
			t.Fatalf("%s: %s: %v", file, tm.Kind, err)
		}
		for _, e := range strict {
			t.Errorf("%s: %s: %v", file, tm.Kind, e)
		}
		var meta metav1.ObjectMeta
		var into map[string]*corev1.Service
		switch o := obj.(type) {
		case *appsv1.StatefulSet:
			meta = o.ObjectMeta
		case *corev1.Service:
			meta, into = o.ObjectMeta, r.services
			into[o.Name] = o
		case *corev1.ConfigMap:
			meta = o.ObjectMeta
			r.configMaps[o.Name] = o
		case *corev1.Secret:
			meta = o.ObjectMeta
			r.secrets[o.Name] = o
		}
		// Names and labels the API server would refuse.
		check := validation.IsDNS1123Subdomain
		if into != nil {
			check = validation.IsDNS1035Label
		}
		for _, e := range check(meta.Name) {
			t.Errorf("%s: %s name %q: %s", file, tm.Kind, meta.Name, e)
		}
		for k, v := range meta.Labels {
			for _, e := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
				t.Errorf("%s: %s %s label %s=%q: %s", file, tm.Kind, meta.Name, k, v, e)
			}
		}
	}
}

// flags reads `serve` arguments: --name value, or --name alone for a
// boolean.
func flags(t *testing.T, args []string) map[string]string {
	t.Helper()
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("container args %q: want serve ...", args)
	}
	out := map[string]string{}
	for i := 1; i < len(args); i++ {
		name := args[i]
		if !strings.HasPrefix(name, "--") {
			t.Fatalf("container args %q: %q is not a flag", args, name)
		}
		if _, dup := out[name]; dup {
			t.Fatalf("container args %q: %s given twice", args, name)
		}
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			out[name] = args[i+1]
			i++
		} else {
			out[name] = "true"
		}
	}
	return out
}

func atoi(t *testing.T, what, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s %q: %v", what, s, err)
	}
	return n
}

// want is what a value set must produce.
type want struct {
	members int
	// perShard is each pod's member count, written out by hand.
	perShard []int
	// serviceName names a member's Service (default <release>-<member>).
	serviceName func(release string, i int, m fleet.Member) string
	// user and password are the credentials (when the chart makes the
	// Secret); empty with an existing Secret.
	user, password string
	persistent     bool
}

func TestChartRenders(t *testing.T) {
	const fileDBWeb = `
    seed: 42
    defaults: {profile: default}
    members:
      - {name: db, profile: raid5}
      - {name: web, count: 3}
`
	for _, tc := range []struct {
		name, release, values string
		want                  want
	}{
		{name: "10 members on 3 pods", release: "lab", values: "replicas: 3\nfleet: {size: 10}\n",
			want: want{members: 10, perShard: []int{3, 3, 4}, user: "admin", password: "password", persistent: true}},
		{name: "one pod", release: "bmcemu", values: "replicas: 1\nfleet: {size: 4}\n",
			want: want{members: 4, perShard: []int{4}, user: "admin", password: "password", persistent: true}},
		{name: "a pod per member", release: "rack7", values: "replicas: 5\nfleet: {size: 5}\n",
			want: want{members: 5, perShard: []int{1, 1, 1, 1, 1}, user: "admin", password: "password", persistent: true}},
		{name: "100 members on 7 pods", release: "big", values: "replicas: 7\nfleet: {size: 100}\n",
			want: want{members: 100, perShard: []int{14, 14, 14, 15, 14, 14, 15}, user: "admin", password: "password", persistent: true}},
		{name: "ports, profile, seed, account, no persistence", release: "lab", values: `
replicas: 2
fleet: {size: 6, profile: mirror, seed: 99}
ports: {ipmi: 10000, https: 20000, control: 9000}
credentials: {user: ops, password: S3cret-passw0rd}
persistence: {enabled: false}
`, want: want{members: 6, perShard: []int{3, 3}, user: "ops", password: "S3cret-passw0rd"}},
		{name: "fleet file with names", release: "lab", values: "replicas: 2\nfleet:\n  count: 4\n  names: [db, web-001, web-002, web-003]\n  file: |" + fileDBWeb,
			want: want{members: 4, perShard: []int{2, 2}, user: "admin", password: "password", persistent: true}},
		{name: "fleet file without names", release: "lab", values: "replicas: 3\nfleet:\n  count: 4\n  file: |" + fileDBWeb,
			want: want{members: 4, perShard: []int{1, 1, 2}, user: "admin", password: "password", persistent: true,
				serviceName: func(release string, i int, _ fleet.Member) string { return fmt.Sprintf("%s-member-%03d", release, i+1) }}},
		{name: "existing secret", release: "lab", values: "replicas: 2\nfleet: {size: 3}\ncredentials: {existingSecret: lab-bmc-account}\n",
			want: want{members: 3, perShard: []int{1, 2}, persistent: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := render(t, tc.release, tc.values)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			checkRelease(t, tc.release, r, tc.want)
		})
	}
}

// checkRelease checks one rendered release: the pods run the shards of the
// fleet the ConfigMap describes, and every member's Service reaches its
// member's ports on the pod fleet.Shard gives it.
func checkRelease(t *testing.T, release string, r *rendered, w want) {
	if len(r.sts) != 1 {
		t.Fatalf("%d StatefulSets, want 1", len(r.sts))
	}
	sts := r.sts[0]
	if sts.Name != release {
		t.Errorf("StatefulSet %q: want the release name %q (pods <release>-N)", sts.Name, release)
	}
	if sts.Spec.Replicas == nil || int(*sts.Spec.Replicas) != len(w.perShard) {
		t.Fatalf("StatefulSet replicas %v, want %d", sts.Spec.Replicas, len(w.perShard))
	}
	replicas := int(*sts.Spec.Replicas)
	pod := sts.Spec.Template
	for k, v := range sts.Spec.Selector.MatchLabels {
		if pod.Labels[k] != v {
			t.Errorf("StatefulSet selector %s=%s does not match its pod template %v", k, v, pod.Labels)
		}
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	args := flags(t, c.Args)
	for name := range args {
		if !slices.Contains([]string{"--fleet-file", "--shard", "--fleet-same-address", "--fleet-addr", "--member-ipmi-port",
			"--member-https-port", "--member-http-port", "--control-addr", "--state-dir", "--log-level", "--log-format"}, name) {
			t.Errorf("unexpected serve flag %s", name)
		}
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v
	}

	// Non-root, nothing added, and the user the image was built for.
	psc, sc := pod.Spec.SecurityContext, c.SecurityContext
	if psc == nil || sc == nil {
		t.Fatal("pod or container has no securityContext")
	}
	if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != imageUser || psc.FSGroup == nil || *psc.FSGroup != imageUser {
		t.Errorf("pod securityContext %+v: want runAsNonRoot, runAsUser and fsGroup %d", psc, imageUser)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.Capabilities == nil || len(sc.Capabilities.Add) != 0 || !slices.Contains(sc.Capabilities.Drop, "ALL") || sc.Privileged != nil && *sc.Privileged {
		t.Errorf("container securityContext %+v: want no privilege escalation, a read-only root, all capabilities dropped", sc)
	}
	if m, ok := mounts["/tmp"]; !ok || volumes[m.Name].EmptyDir == nil {
		t.Errorf("no writable /tmp (emptyDir) under a read-only root filesystem")
	}

	// The state directory is the claim of the volumeClaimTemplate (or an
	// emptyDir without persistence).
	stateMount, ok := mounts[args["--state-dir"]]
	if !ok || stateMount.ReadOnly {
		t.Fatalf("--state-dir %q is not a writable mount (mounts %v)", args["--state-dir"], mounts)
	}
	var claims []string
	for _, vct := range sts.Spec.VolumeClaimTemplates {
		claims = append(claims, vct.Name)
		if q := vct.Spec.Resources.Requests[corev1.ResourceStorage]; q.IsZero() {
			t.Errorf("volumeClaimTemplate %s requests no storage", vct.Name)
		}
	}
	if w.persistent {
		if !slices.Contains(claims, stateMount.Name) {
			t.Errorf("state mount %q is not a volumeClaimTemplate (%v)", stateMount.Name, claims)
		}
		if _, shadow := volumes[stateMount.Name]; shadow {
			t.Errorf("volume %q shadows the volumeClaimTemplate", stateMount.Name)
		}
	} else if v, ok := volumes[stateMount.Name]; len(claims) != 0 || !ok || v.EmptyDir == nil {
		t.Errorf("without persistence: claims %v, state volume %+v; want no claims and an emptyDir", claims, v)
	}

	// The account comes from the Secret.
	secretKey := map[string]*corev1.SecretKeySelector{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			secretKey[e.Name] = e.ValueFrom.SecretKeyRef
		} else if strings.HasPrefix(e.Name, "BMCEMU_") {
			t.Errorf("env %s=%q: want only the account from the environment", e.Name, e.Value)
		}
	}
	account := map[string]string{}
	for _, env := range []string{"BMCEMU_USER", "BMCEMU_PASSWORD"} {
		ref := secretKey[env]
		if ref == nil {
			t.Fatalf("env %s does not come from a Secret", env)
		}
		if w.user == "" {
			if _, made := r.secrets[ref.Name]; made || ref.Name != "lab-bmc-account" {
				t.Errorf("env %s from Secret %q (rendered: %v); want the existing one", env, ref.Name, made)
			}
			account[env] = "x"
			continue
		}
		s, ok := r.secrets[ref.Name]
		if !ok {
			t.Fatalf("env %s: Secret %q is not in the release", env, ref.Name)
		}
		account[env] = string(s.Data[ref.Key])
	}
	if w.user != "" && (account["BMCEMU_USER"] != w.user || account["BMCEMU_PASSWORD"] != w.password) {
		t.Errorf("account %v, want %s / %s", account, w.user, w.password)
	}

	// The fleet the pods run: the ConfigMap's file, placed by the flags.
	fleetFile := args["--fleet-file"]
	m, ok := mounts[path.Dir(fleetFile)]
	if !ok || volumes[m.Name].ConfigMap == nil {
		t.Fatalf("--fleet-file %s is not on a ConfigMap volume", fleetFile)
	}
	cm, ok := r.configMaps[volumes[m.Name].ConfigMap.Name]
	if !ok {
		t.Fatalf("ConfigMap %s is not in the release", volumes[m.Name].ConfigMap.Name)
	}
	first, err := netip.ParseAddr(args["--fleet-addr"])
	if err != nil || !first.IsUnspecified() || args["--fleet-same-address"] != "true" {
		t.Errorf("--fleet-addr %q, --fleet-same-address %q: want every member on 0.0.0.0 (the pod's one address)", args["--fleet-addr"], args["--fleet-same-address"])
	}
	lay := fleet.Layout{First: first, SamePorts: true,
		IPMIPort: atoi(t, "--member-ipmi-port", args["--member-ipmi-port"]), HTTPSPort: atoi(t, "--member-https-port", args["--member-https-port"]),
		HTTPPort: atoi(t, "--member-http-port", args["--member-http-port"]),
		User:     account["BMCEMU_USER"], Password: account["BMCEMU_PASSWORD"]}
	members, _, err := fleet.Parse(fleetFile, []byte(cm.Data[path.Base(fleetFile)]), lay)
	if err != nil {
		t.Fatalf("the rendered fleet file does not parse: %v\n%s", err, cm.Data[path.Base(fleetFile)])
	}
	if len(members) != w.members {
		t.Fatalf("fleet file has %d members, want %d", len(members), w.members)
	}
	controlAddr, err := netip.ParseAddrPort(args["--control-addr"])
	if err != nil || !controlAddr.Addr().IsUnspecified() {
		t.Fatalf("--control-addr %q: %v; want 0.0.0.0:PORT", args["--control-addr"], err)
	}
	controlPort := int(controlAddr.Port())
	var controlContainerPort bool
	for _, p := range c.Ports {
		controlContainerPort = controlContainerPort || p.Name == "control" && int(p.ContainerPort) == controlPort && p.Protocol == corev1.ProtocolTCP
	}
	if !controlContainerPort {
		t.Errorf("container ports %+v: no TCP port named control on %d", c.Ports, controlPort)
	}

	// Each pod's shard, as bmcemu computes it from the pod's hostname.
	memberSvcs := map[string]*corev1.Service{}
	for name, s := range r.services {
		if s.Labels["app.kubernetes.io/component"] == "bmc" {
			memberSvcs[name] = s
		}
	}
	if len(memberSvcs) != len(members) {
		t.Errorf("%d member Services for %d members", len(memberSvcs), len(members))
	}
	seen := 0
	for s := range replicas {
		podName := fmt.Sprintf("%s-%d", sts.Name, s)
		idx, count, err := fleet.ParseShard(args["--shard"], podName)
		if err != nil || idx != s || count != replicas {
			t.Fatalf("pod %s: --shard %s is shard %d/%d (%v), want %d/%d", podName, args["--shard"], idx, count, err, s, replicas)
		}
		part, err := fleet.Shard(members, idx, count)
		if err != nil {
			t.Fatalf("pod %s: %v", podName, err)
		}
		if len(part) != w.perShard[s] {
			t.Errorf("pod %s runs %d members, want %d", podName, len(part), w.perShard[s])
		}
		for _, m := range part {
			name := release + "-" + m.Name
			if w.serviceName != nil {
				name = w.serviceName(release, seen, m)
			}
			seen++
			svc, ok := memberSvcs[name]
			if !ok {
				t.Errorf("member %s (pod %s): no Service %s", m.Name, podName, name)
				continue
			}
			delete(memberSvcs, name)
			checkMemberService(t, svc, sts, podName, m, controlPort)
		}
	}
	for name := range memberSvcs {
		t.Errorf("Service %s is no member's", name)
	}

	// The headless Service governs the StatefulSet; the control Service
	// reaches the pods' control port.
	if h, ok := r.services[sts.Spec.ServiceName]; !ok || h.Spec.ClusterIP != corev1.ClusterIPNone || !selects(h, pod.Labels) {
		t.Errorf("StatefulSet serviceName %q: want a headless Service selecting the pods", sts.Spec.ServiceName)
	}
	if ctl, ok := r.services[release+"-control"]; !ok || !selects(ctl, pod.Labels) || len(ctl.Spec.Ports) != 1 || ctl.Spec.Ports[0].TargetPort.String() != "control" {
		t.Errorf("no control Service %s-control selecting the pods' control port", release)
	}
	if want := fmt.Sprintf("%s-%s", release, members[0].Name); w.serviceName == nil && !strings.Contains(r.notes, want) {
		t.Errorf("NOTES.txt does not name the first member's Service %s:\n%s", want, r.notes)
	}
}

func selects(s *corev1.Service, podLabels map[string]string) bool {
	if len(s.Spec.Selector) == 0 {
		return false
	}
	for k, v := range s.Spec.Selector {
		if k == "statefulset.kubernetes.io/pod-name" {
			continue // set on each pod by the StatefulSet controller
		}
		if podLabels[k] != v {
			return false
		}
	}
	return true
}

// checkMemberService: the Service selects exactly the member's pod and maps
// the standard ports to the member's own.
func checkMemberService(t *testing.T, svc *corev1.Service, sts *appsv1.StatefulSet, podName string, m fleet.Member, controlPort int) {
	t.Helper()
	if svc.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("%s: type %s, want ClusterIP", svc.Name, svc.Spec.Type)
	}
	if got := svc.Spec.Selector["statefulset.kubernetes.io/pod-name"]; got != podName || !selects(svc, sts.Spec.Template.Labels) {
		t.Errorf("%s (member %s): selector %v, want pod %s", svc.Name, m.Name, svc.Spec.Selector, podName)
	}
	if svc.Labels["bmcemu-member"] == "" {
		t.Errorf("%s: no bmcemu-member label", svc.Name)
	}
	want := map[string]struct {
		proto      corev1.Protocol
		port, to   int
		configured bool
	}{
		"ipmi":    {corev1.ProtocolUDP, 623, m.IPMIPort, true},
		"https":   {corev1.ProtocolTCP, 443, m.HTTPSPort, m.HTTPSPort != 0},
		"control": {corev1.ProtocolTCP, 8000, controlPort, true},
	}
	if m.HTTPPort != 0 {
		t.Errorf("member %s has an HTTP port %d the Service does not map", m.Name, m.HTTPPort)
	}
	for _, p := range svc.Spec.Ports {
		w, ok := want[p.Name]
		if !ok || !w.configured {
			t.Errorf("%s: unexpected port %s", svc.Name, p.Name)
			continue
		}
		delete(want, p.Name)
		if p.Protocol != w.proto || int(p.Port) != w.port || p.TargetPort.IntValue() != w.to {
			t.Errorf("%s (member %s on %s): port %s is %s %d -> %s, want %s %d -> %d",
				svc.Name, m.Name, podName, p.Name, p.Protocol, p.Port, p.TargetPort.String(), w.proto, w.port, w.to)
		}
	}
	for name, w := range want {
		if w.configured {
			t.Errorf("%s: no %s port", svc.Name, name)
		}
	}
}

// TestChartRefuses: value sets that cannot work fail at render time with a
// message saying why, not in a crash-looping pod.
func TestChartRefuses(t *testing.T) {
	for _, tc := range []struct{ name, values, msg string }{
		{"more pods than members", "replicas: 4\nfleet: {size: 3}\n", "a shard would be empty"},
		{"no members", "replicas: 1\nfleet: {size: 0}\n", "no members"},
		{"fleet file without a count", "fleet: {file: 'members: [{name: a}]'}\n", "fleet.count"},
		{"names and count disagree", "replicas: 1\nfleet: {file: 'members: [{name: a}]', count: 1, names: [a, b]}\n", "2 names"},
		{"ports past 65535", "fleet: {size: 10}\nports: {ipmi: 6230, https: 65530, control: 8000}\n", "past 65535"},
		{"control port among the members'", "fleet: {size: 10}\nports: {ipmi: 6230, https: 8443, control: 8445}\n", "ports.control"},
		{"misspelt value", "fleet: {sise: 10}\n", "sise"},
		{"password too long for IPMI", "credentials: {password: 123456789012345678901}\n", "password"},
		{"release name too long", "fullnameOverride: " + strings.Repeat("a", 53) + "\n", "fullnameOverride"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, "lab", tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("render: %v; want an error mentioning %q", err, tc.msg)
			}
		})
	}
}

// TestChartLint runs `helm lint --strict`'s checks: warnings fail too.
func TestChartLint(t *testing.T) {
	l := lint.RunAll("chart", nil, "bmc")
	for _, m := range l.Messages {
		if m.Severity >= support.WarningSev {
			t.Error(m)
		}
	}
}

package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser starts headless Chromium (Debian's chromium) with a fresh
// profile and no network beyond what the page asks for.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := needTool(t, "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // root in CI
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// The BMC's certificate is self-signed, made on first start.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 2000),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	return actx
}

// artifacts is where screenshots go: $BMCEMU_ARTIFACTS (CI keeps it) or
// the test's temporary directory.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BMCEMU_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

// waitFor polls a JavaScript expression in the page until it is true.
// The limit is only there so a broken page fails instead of hanging; the
// test asserts what the page shows, never how fast.
func waitFor(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('action-error') ? document.getElementById('action-error').textContent + ' | ' + document.body.innerText.slice(0, 2000) : document.body.innerText.slice(0, 2000)`))
		t.Fatalf("%s: %v\npage: %s", what, err, state)
	}
}

func evalInt(t *testing.T, ctx context.Context, expr string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return n
}

// login logs in through the page's form and waits for the board's
// slots (32 on the default profile) and the live stream.
func login(t *testing.T, ctx context.Context, url, user, password string, slots int) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(url+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#login-user"), user),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
	); err != nil {
		t.Fatalf("log in as %s: %v", user, err)
	}
	waitFor(t, ctx, fmt.Sprintf("%s sees the board's %d slots", user, slots), fmt.Sprintf(`document.querySelectorAll('#board .slot').length === %d`, slots))
	waitFor(t, ctx, user+"'s live stream is open", `document.getElementById('live').textContent === 'live'`)
}

// The web view in a real browser: log in with the BMC's accounts, see
// the board, press attention and hot-add a module with the page's
// buttons, and watch the slot, the OS's memory blocks, the SEL and the
// event list follow without a reload; a ReadOnly account gets no buttons
// and the server refuses its actions.
func TestWebUIInChromium(t *testing.T) {
	actx := browser(t)
	// --redfish-require-if-match: the page's Redfish PATCH (Identify)
	// must send the ETag, as cautious BMCs demand.
	e := start(t, startOpts{args: []string{"--speed", "1000", "--redfish-require-if-match"}})
	dir := artifacts(t)

	// A ReadOnly account, made the way an operator would (Redfish).
	e.createViewer(t)

	// The BMC's HTTPS port, where a real BMC serves its web UI.
	ui := fmt.Sprintf("https://127.0.0.1:%d", e.TLSPort)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancel()
	ctx, cancelRun := context.WithTimeout(ctx, 5*time.Minute)
	defer cancelRun()
	login(t, ctx, ui, e.User, e.Password, 32)
	waitFor(t, ctx, "the OS's memory blocks", `document.querySelectorAll('#blocks .block[data-state="online"]').length > 0`)
	waitFor(t, ctx, "the SEL table", `document.getElementById('sel-summary').textContent !== ''`)
	screenshot(t, ctx, dir, "1-board")

	const slot = "CPU0_DIMM_A2"
	if n := evalInt(t, ctx, `document.querySelectorAll('#slot-`+slot+` button.action').length`); n == 0 {
		t.Fatal("the administrator sees no action buttons")
	}
	hotBlocks := `document.querySelectorAll('#blocks .block[data-boot="false"][data-state="online"]').length`
	if n := evalInt(t, ctx, hotBlocks); n != 0 {
		t.Fatalf("%d hot-added blocks online before the hot-add", n)
	}
	selRows := evalInt(t, ctx, `document.querySelectorAll('#sel tbody tr').length`)
	// A page reload would lose this.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__sameDocument = 42`)); err != nil {
		t.Fatal(err)
	}

	// Identify: the page lights the slot's LED through Redfish.
	clickLive(t, ctx, `#slot-CPU0_DIMM_A1 button.act-identify`)
	waitFor(t, ctx, "the identify LED lit", `document.querySelector('#slot-CPU0_DIMM_A1 .led.id-on') !== null`)

	// Attention: the SMC isolates the slot, and the page shows it.
	clickLive(t, ctx, `#slot-`+slot+` button.act-attention`)
	waitFor(t, ctx, "the slot isolated after attention", `document.getElementById('slot-`+slot+`').dataset.power === 'Isolated'`)
	waitFor(t, ctx, "AttentionPressed in the event list", `document.querySelector('#events li[data-kind="AttentionPressed"][data-slot="`+slot+`"]') !== null`)

	// Insert a 64 GiB module with the form.
	clickLive(t, ctx, `#slot-`+slot+` button.act-insert`)
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS("#insert-dialog")),
		chromedp.SetValue(chromedp.CSS("#insert-capacity"), "64"),
		chromedp.Click(chromedp.CSS("#insert-submit")),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the slot Enabled with its 64 GiB module",
		`(() => { const s = document.getElementById('slot-`+slot+`'); return s.dataset.status === 'enabled' && s.dataset.health === 'ok' && s.querySelector('.module').textContent.startsWith('64 GiB'); })()`)
	// 64 GiB in blocks of the size the page shows.
	waitFor(t, ctx, "the new memory blocks online",
		`(() => { const m = document.getElementById('blocks-summary').textContent.match(/\((\d+) GiB each\)/); return m && `+hotBlocks+` === 64 / Number(m[1]); })()`)
	waitFor(t, ctx, "the hot-add's SEL rows", fmt.Sprintf(`document.querySelectorAll('#sel tbody tr').length > %d`, selRows))
	waitFor(t, ctx, "MemoryHotAdded in the event list", `document.querySelector('#events li[data-kind="MemoryHotAdded"][data-slot="`+slot+`"]') !== null`)
	if n := evalInt(t, ctx, `window.__sameDocument || 0`); n != 42 {
		t.Error("the page reloaded to show the hot-add; it must update in place")
	}
	selText, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#sel tbody")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(selText, slot) {
		t.Errorf("no SEL row names %s:\n%s", slot, selText)
	}
	screenshot(t, ctx, dir, "2-after-hot-add")

	// ReadOnly: a new tab, so a session of its own.
	vctx, vcancel := chromedp.NewContext(ctx)
	defer vcancel()
	login(t, vctx, ui, "viewer", "Viewer-passw0rd", 32)
	if n := evalInt(t, vctx, `document.querySelectorAll('button.action').length`); n != 0 {
		t.Errorf("a ReadOnly login sees %d action buttons", n)
	}
	status, err := chromedp.Run(vctx, chromedp.Evaluate[int](
		`fetch('/ui/api/emulator/v1/slots/CPU1_DIMM_B2/attention', {method: 'POST', headers: {'X-Auth-Token': sessionStorage.getItem('bmcemu.token')}}).then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusForbidden {
		t.Errorf("ReadOnly POST to an action from the page: %d, want 403", status)
	}
	screenshot(t, vctx, dir, "3-readonly")
}

// The fleet's control listener shows a grid of every member's health,
// live, and each cell leads to that member's own board.
func TestWebUIFleetGridInChromium(t *testing.T) {
	actx := browser(t)
	// Members on this test's own loopback range, above 1023, with plain
	// HTTP so the browser needs no certificate exception.
	e := &Emulator{t: t, HTTPPort: freeTCPPort(t), User: "admin", Password: "password", exited: make(chan struct{})}
	e.URL = fmt.Sprintf("http://127.0.0.1:%d", e.HTTPPort)
	e.launch([]string{"serve", "--ephemeral", "--fleet", "3", "--control-addr", fmt.Sprintf("127.0.0.1:%d", e.HTTPPort), "--log-level", "warn",
		"--fleet-addr", "127.0.62.10", "--member-ipmi-port", "16231", "--member-https-port", "0", "--member-http-port", "18081", "--speed", "1000"})
	dir := artifacts(t)

	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancel()
	ctx, cancelRun := context.WithTimeout(ctx, 5*time.Minute)
	defer cancelRun()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.URL+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#login-user"), e.User),
		chromedp.SendKeys(chromedp.CSS("#login-password"), e.Password),
		chromedp.Click(chromedp.CSS("#login-submit")),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "three healthy members", `document.querySelectorAll('.member[data-health="OK"]').length === 3`)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__sameDocument = 42`)); err != nil {
		t.Fatal(err)
	}

	// An uncorrectable error on one member shows on its cell alone.
	if out, err := e.ctl("--server-id", "bmc-002", "ras", "inject", "CPU0_DIMM_A1", "--ue"); err != nil {
		t.Fatalf("ctl ras inject: %v\n%s", err, out)
	}
	waitFor(t, ctx, "bmc-002's health falls", `document.getElementById('member-bmc-002').dataset.health !== 'OK'`)
	if n := evalInt(t, ctx, `document.querySelectorAll('.member[data-health="OK"]').length`); n != 2 {
		t.Errorf("%d members still OK, want the other 2", n)
	}
	if n := evalInt(t, ctx, `window.__sameDocument || 0`); n != 42 {
		t.Error("the grid reloaded to show the change; it must update in place")
	}
	screenshot(t, ctx, dir, "1-fleet-grid")

	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#member-bmc-002 a').href`))
	if err != nil {
		t.Fatal(err)
	}
	if href != "http://127.0.62.11:18081/ui/" {
		t.Fatalf("bmc-002 links to %q, want its own board at http://127.0.62.11:18081/ui/", href)
	}
	login(t, ctx, strings.TrimSuffix(href, "/ui/"), "admin", "password", 32)
	waitFor(t, ctx, "the failed module on the member's board", `document.getElementById('slot-CPU0_DIMM_A1').dataset.health !== 'ok'`)
	screenshot(t, ctx, dir, "2-member-board")
}

// Memory RAS in the page: on the mirror profile an uncorrectable error
// injected with the Fault dialog takes a mirror's redundancy away, and
// the hot-replace done with the page's buttons (attention, remove,
// insert) brings it back, all shown live.
func TestWebUIRASReplaceInChromium(t *testing.T) {
	actx := browser(t)
	e := start(t, startOpts{args: []string{"--speed", "1000", "--profile", "mirror"}})
	dir := artifacts(t)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancel()
	ctx, cancelRun := context.WithTimeout(ctx, 5*time.Minute)
	defer cancelRun()
	login(t, ctx, e.URL, e.User, e.Password, 16) // one socket
	redundancy := func(want string) string {
		return `(() => { const r = document.getElementById('ras-redundancy'); return r !== null && r.textContent === '` + want + `'; })()`
	}
	waitFor(t, ctx, "a fully redundant mirror", redundancy("FullyRedundant"))

	const slot = "CPU0_DIMM_A1"
	clickLive(t, ctx, `#slot-`+slot+` button.act-fault`)
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS("#fault-dialog")),
		chromedp.SetValue(chromedp.CSS("#fault-count"), "1"),
		chromedp.Click(chromedp.CSS("#fault-ue")),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "redundancy lost after the UE", redundancy("RedundancyLost"))
	waitFor(t, ctx, "the module taken out of service", `document.getElementById('slot-`+slot+`').dataset.health === 'critical'`)
	waitFor(t, ctx, "the system's health falls", `document.getElementById('health').textContent !== 'OK'`)
	screenshot(t, ctx, dir, "1-redundancy-lost")

	clickLive(t, ctx, `#slot-`+slot+` button.act-attention`)
	waitFor(t, ctx, "the module isolated", `document.getElementById('slot-`+slot+`').dataset.power === 'Isolated'`)
	clickLive(t, ctx, `#slot-`+slot+` button.act-remove`)
	waitFor(t, ctx, "the slot empty", `document.getElementById('slot-`+slot+`').dataset.status === 'absent'`)
	clickLive(t, ctx, `#slot-`+slot+` button.act-insert`)
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS("#insert-dialog")),
		chromedp.SetValue(chromedp.CSS("#insert-capacity"), "32"),
		chromedp.SetValue(chromedp.CSS("#insert-ranks"), "2"),
		chromedp.Click(chromedp.CSS("#insert-submit")),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the replacement enabled", `document.getElementById('slot-`+slot+`').dataset.status === 'enabled'`)
	waitFor(t, ctx, "redundancy back after the re-silver", redundancy("FullyRedundant"))
	waitFor(t, ctx, "the re-silver in the event list", `document.querySelector('#events li[data-kind="MemoryRebuildCompleted"]') !== null`)
	waitFor(t, ctx, "the SEL's redundancy records", `[...document.querySelectorAll('#sel tbody td')].some(td => td.textContent.includes('Fully Redundant'))`)
	screenshot(t, ctx, dir, "2-replaced")
}

// clickLive clicks a button in a slot card. The page redraws a card when
// its slot changes, so the node a query found can be gone before the click
// lands (CDP error -32000, "Could not find node"); then the query and the
// click are done again, as a user would click the redrawn button.
func clickLive(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	for try := 0; ; try++ {
		err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel)))
		if err == nil {
			return
		}
		if try == 20 || !strings.Contains(err.Error(), "-32000") {
			t.Fatalf("click %s: %v", sel, err)
		}
	}
}

// The CXL panel in a real browser on the cxl profile (listeners on
// 127.0.77.x): a card seated in CXL1 through the control API comes up
// with the page's Attention button, shown live with its region, node and
// memory online; CXL2, which firmware gave no memory window, shows the
// refusal on its card; a ReadOnly account sees the panel with no buttons.
func TestWebUICXLInChromium(t *testing.T) {
	actx := browser(t)
	e := start(t, startOpts{host: "127.0.77.1", args: []string{"--speed", "1000", "--profile", "cxl"}})
	dir := artifacts(t)
	e.createViewer(t)
	status := func() cxlJSON {
		t.Helper()
		var st cxlJSON
		if r := e.getJSON("/emulator/v1/cxl", &st); r.StatusCode != http.StatusOK {
			t.Fatalf("GET /emulator/v1/cxl: %d", r.StatusCode)
		}
		return st
	}
	slotOf := func(st cxlJSON, name string) int {
		for i, s := range st.Slots {
			if s.Slot == name {
				return i
			}
		}
		t.Fatalf("no slot %s in %+v", name, st.Slots)
		return -1
	}
	var dimms []json.RawMessage
	e.getJSON("/emulator/v1/slots", &dimms)

	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancel()
	ctx, cancelRun := context.WithTimeout(ctx, 5*time.Minute)
	defer cancelRun()
	login(t, ctx, e.URL, e.User, e.Password, len(dimms))
	cards := fmt.Sprintf(`document.querySelectorAll('#cxl:not(.hidden) #cxl-slots .cxl-slot').length === %d`, len(status().Slots))
	waitFor(t, ctx, "the CXL panel with every CXL slot", cards)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__sameDocument = 42`)); err != nil {
		t.Fatal(err)
	}
	e.waitInBandOS(t)
	card := func(slot string) string { return `document.getElementById('cxl-slot-` + slot + `')` }

	// CXL1: firmware reserved a window and a bridge window for it.
	e.mustCtl(t, "cxl", "insert", "CXL1", "--capacity", "256G")
	waitFor(t, ctx, "CXL1's card seated, slot off", card("CXL1")+`.dataset.state === 'present' && `+card("CXL1")+`.dataset.power === 'off'`)
	clickLive(t, ctx, `#cxl-slot-CXL1 button.act-attention`)
	waitFor(t, ctx, "CXL1 enabled with its region, node and memory online",
		`(() => { const c = `+card("CXL1")+`; return c.dataset.state === 'enabled' && c.querySelector('.region') !== null && c.dataset.node !== '' && Number(c.dataset.onlineBytes) > 0; })()`)
	st := status()
	s1 := st.Slots[slotOf(st, "CXL1")]
	if s1.State != "enabled" || s1.Device == nil || s1.Device.Region == nil || s1.Device.Region.OnlineBytes == 0 {
		t.Fatalf("the control API's CXL1 after the page's Attention: %+v", s1)
	}
	r := s1.Device.Region
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => { const c = `+card("CXL1")+`; return [c.querySelector('.region').textContent, c.dataset.node, c.dataset.onlineBytes, c.querySelector('.memdev').textContent, document.getElementById('cxl-windows').textContent]; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got[0], r.Name+" · ") || got[1] != fmt.Sprint(r.Node) || got[2] != fmt.Sprint(r.OnlineBytes) ||
		!strings.HasPrefix(got[3], s1.Device.Memdev) || !strings.Contains(got[4], r.Name+" [") {
		t.Errorf("the page shows CXL1 as region %q node %s online %s memdev %q, windows %q; the control API has %s on node %d, %d bytes online, %s",
			got[0], got[1], got[2], got[3], got[4], r.Name, r.Node, r.OnlineBytes, s1.Device.Memdev)
	}
	screenshot(t, ctx, dir, "1-cxl1-enabled")

	// CXL2: a bridge window but no CFMWS, so no memory window. The card
	// is seated from the page's Insert dialog; a capacity the device
	// cannot have is refused on the slot's card and seats nothing.
	insert := func(capacity string) {
		t.Helper()
		clickLive(t, ctx, `#cxl-slot-CXL2 button.act-insert`)
		if err := chromedp.Do(ctx,
			chromedp.WaitVisible(chromedp.CSS("#cxl-insert-dialog")),
			chromedp.SetValue(chromedp.CSS("#cxl-insert-capacity"), capacity),
			chromedp.Click(chromedp.CSS("#cxl-insert-submit"))); err != nil {
			t.Fatalf("the Insert dialog with %s: %v", capacity, err)
		}
	}
	insert("300M")
	waitFor(t, ctx, "the InvalidValue refusal of 300M on CXL2's card",
		`(() => { const c = `+card("CXL2")+`; const r = c.querySelector('.refusal'); return r !== null && r.textContent.startsWith('InvalidValue: ') && r.textContent.includes('256 MiB') && c.dataset.state === 'empty'; })()`)
	if s := status().Slots[slotOf(status(), "CXL2")]; s.State != "empty" || s.Device != nil {
		t.Fatalf("a refused insert seated something: %+v", s)
	}
	insert("64G")
	waitFor(t, ctx, "CXL2's card seated from the page, the old refusal gone",
		card("CXL2")+`.dataset.state === 'present' && `+card("CXL2")+`.querySelector('.refusal') === null`)
	if s := status().Slots[slotOf(status(), "CXL2")]; s.Device == nil || s.Device.Spec.Capacity != 64<<30 || s.Device.Spec.Trusted {
		t.Fatalf("the control API's CXL2 after the page's Insert: %+v", s)
	}
	clickLive(t, ctx, `#cxl-slot-CXL2 button.act-attention`)
	waitFor(t, ctx, "the NoMemoryWindow refusal on CXL2's card",
		`(() => { const r = `+card("CXL2")+`.querySelector('.refusal'); return r !== null && r.textContent.startsWith('NoMemoryWindow: '); })()`)
	st = status()
	s2 := st.Slots[slotOf(st, "CXL2")]
	if s2.Reason == "" {
		t.Fatalf("the control API gives CXL2 no reason: %+v", s2)
	}
	waitFor(t, ctx, "CXL2's reason on its card", fmt.Sprintf(`%s.textContent.includes(%q)`, card("CXL2"), s2.Reason))
	if msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('action-error').textContent`)); err != nil || msg != "" {
		t.Errorf("the refusal went to the page's error line (%q), not only the card", msg)
	}
	if n := evalInt(t, ctx, `window.__sameDocument || 0`); n != 42 {
		t.Error("the page reloaded to show the CXL slots; it must update in place")
	}
	screenshot(t, ctx, dir, "2-cxl2-refused")

	// Pull: the card leaves and the refusal with it.
	clickLive(t, ctx, `#cxl-slot-CXL2 button.act-pull`)
	waitFor(t, ctx, "CXL2 empty after Pull, its refusal gone", `(() => { const c = `+card("CXL2")+`; return c.dataset.state === 'empty' && c.querySelector('.refusal') === null && c.querySelector('button.act-pull') === null; })()`)

	// A driver's DMA with CXL1's card moves the IOMMU counters with no
	// platform event; the panel follows them still.
	maps := evalInt(t, ctx, `Number(document.getElementById('cxl-iommu').dataset.maps)`)
	e.mustCtl(t, "cxl", "dma", "transfer", "CXL1")
	waitFor(t, ctx, "the IOMMU's maps after a DMA transfer", fmt.Sprintf(`Number(document.getElementById('cxl-iommu').dataset.maps) > %d`, maps))
	// The device's own write outside its mappings: blocked, a DMAR fault
	// on the panel.
	if out, err := e.ctl("cxl", "dma", "access", "CXL1", "--iova", "0x1000", "--write"); err == nil {
		t.Fatalf("a device write to an unmapped IOVA was not refused:\n%s", out)
	}
	waitFor(t, ctx, "the DMAR fault in the panel", `document.querySelectorAll('#cxl-faults li').length > 0 && Number(document.getElementById('cxl-iommu').dataset.faults) > 0`)

	vctx, vcancel := chromedp.NewContext(ctx)
	defer vcancel()
	login(t, vctx, e.URL, "viewer", "Viewer-passw0rd", len(dimms))
	waitFor(t, vctx, "the viewer's CXL panel", cards)
	waitFor(t, vctx, "CXL1 enabled for the viewer", card("CXL1")+`.dataset.state === 'enabled'`)
	if n := evalInt(t, vctx, `document.querySelectorAll('#cxl button, button.action').length`); n != 0 {
		t.Errorf("a ReadOnly login sees %d buttons", n)
	}
	screenshot(t, vctx, dir, "3-cxl-readonly")
}

// createViewer makes the ReadOnly account "viewer" (password
// Viewer-passw0rd) through Redfish, as an operator would.
func (e *Emulator) createViewer(t *testing.T) {
	t.Helper()
	body := `{"UserName":"viewer","Password":"Viewer-passw0rd","RoleId":"ReadOnly","Enabled":true}`
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/redfish/v1/AccountService/Accounts", strings.NewReader(body))
	req.SetBasicAuth(e.User, e.Password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create viewer: %d", resp.StatusCode)
	}
}

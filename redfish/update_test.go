package redfish

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/platform"
)

// firmwareServer serves firmware images on loopback.
func firmwareServer(t *testing.T, files map[string][]byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// update posts a SimpleUpdate and waits for its task to end, returning
// the task.
func update(t *testing.T, h http.Handler, body string) map[string]any {
	t.Helper()
	w := do(t, h, http.MethodPost, pathSimpleUpdate, withBody(body))
	if w.Code != http.StatusAccepted {
		t.Fatalf("SimpleUpdate %s: %d %s", body, w.Code, w.Body)
	}
	mon := w.Header().Get("Location")
	var task map[string]any
	json.Unmarshal(w.Body.Bytes(), &task)
	uri := task["@odata.id"].(string)
	waitFor(t, "the update task", func() bool {
		task = getJSON(t, h, uri)
		return task["TaskState"] == "Completed" || task["TaskState"] == "Exception"
	})
	task["monitor"] = mon
	return task
}

func taskMessageIDs(t *testing.T, task map[string]any) string {
	var ids []string
	for _, m := range task["Messages"].([]any) {
		ids = append(ids, m.(map[string]any)["MessageId"].(string))
	}
	return strings.Join(ids, " ")
}

// A system firmware image is fetched, verified and staged by a task; the
// next reset flashes it and the System reports the new version.
func TestSimpleUpdateBIOS(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	old := p.Snapshot().Firmware.BIOS
	srv := firmwareServer(t, map[string][]byte{"/bios.cap": platform.EncodeFirmwareImage("BIOS", "2.1.0", []byte("firmware"))})
	us := getJSON(t, h, path(t, getJSON(t, h, "/redfish/v1/"), "UpdateService", "@odata.id").(string))
	if path(t, us, "Actions", "#UpdateService.SimpleUpdate", "target") != pathSimpleUpdate {
		t.Fatalf("UpdateService %v", us)
	}
	task := update(t, h, `{"ImageURI":"`+srv.URL+`/bios.cap","TransferProtocol":"HTTP","Targets":["/redfish/v1/UpdateService/FirmwareInventory/BIOS"],"Password":"secret"}`)
	ids := taskMessageIDs(t, task)
	if task["TaskState"] != "Completed" || !strings.Contains(ids, "Update.1.3.0.AwaitToActivate") || !strings.Contains(ids, "Base.1.22.1.ResetRequired") {
		t.Fatalf("task %v", task)
	}
	if strings.Contains(path(t, task, "Payload", "JsonBody").(string), "secret") {
		t.Error("the task shows the image server's password")
	}
	if w := do(t, h, http.MethodGet, task["monitor"].(string)); w.Code != http.StatusOK || decode(t, w.Body.Bytes())["TaskState"] != "Completed" {
		t.Errorf("monitor after the task: %d %s", w.Code, w.Body)
	}
	if v := getJSON(t, h, systemURI)["BiosVersion"]; v != old {
		t.Errorf("BiosVersion %v before the reset", v)
	}
	if w := do(t, h, http.MethodPost, resetPath(), withBody(`{"ResetType":"ForceRestart"}`)); w.Code != http.StatusNoContent {
		t.Fatal(w.Code)
	}
	settle(t, p)
	if v := getJSON(t, h, systemURI)["BiosVersion"]; v != "2.1.0" {
		t.Errorf("BiosVersion %v after the reset", v)
	}
	// The same image again: nothing to do.
	task = update(t, h, `{"ImageURI":"`+srv.URL+`/bios.cap"}`)
	if task["TaskState"] != "Completed" || !strings.Contains(taskMessageIDs(t, task), "UpdateSkippedSameVersion") {
		t.Errorf("same version: %v", task)
	}
}

// A corrupt image, an unreachable one, one for another component: the
// task ends in Exception with the reason, and nothing is staged.
func TestSimpleUpdateFailures(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	good := platform.EncodeFirmwareImage("BIOS", "2.1.0", []byte("firmware"))
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-2] ^= 0x40
	srv := firmwareServer(t, map[string][]byte{"/corrupt.cap": corrupt, "/bios.cap": good})
	task := update(t, h, `{"ImageURI":"`+srv.URL+`/corrupt.cap"}`)
	if task["TaskState"] != "Exception" || !strings.Contains(taskMessageIDs(t, task), "Update.1.3.0.VerificationFailed") {
		t.Errorf("corrupt: %v", task)
	}
	checkErrorDetail(t, do(t, h, http.MethodGet, task["monitor"].(string)), http.StatusBadRequest, "ResourceAtUriInUnknownFormat", "SHA-256 does not match")
	task = update(t, h, `{"ImageURI":"`+srv.URL+`/missing.cap"}`)
	if task["TaskState"] != "Exception" || !strings.Contains(taskMessageIDs(t, task), "Update.1.3.0.TransferFailed") ||
		!strings.Contains(taskMessageIDs(t, task), "ResourceMissingAtURI") {
		t.Errorf("missing: %v", task)
	}
	task = update(t, h, `{"ImageURI":"`+srv.URL+`/bios.cap","Targets":["/redfish/v1/Managers/bmc"]}`)
	if task["TaskState"] != "Exception" || !strings.Contains(taskMessageIDs(t, task), "UpdateNotApplicable") {
		t.Errorf("wrong component: %v", task)
	}
	if fw := p.Snapshot().Firmware; len(fw.Staged) != 0 {
		t.Errorf("staged after failures: %+v", fw.Staged)
	}
	// Refused before any task starts.
	checkErrorDetail(t, do(t, h, http.MethodPost, pathSimpleUpdate, withBody(`{"ImageURI":"http://192.0.2.9/bios.cap"}`)),
		http.StatusBadRequest, "ActionParameterValueConflict", "outside the networks")
	checkError(t, do(t, h, http.MethodPost, pathSimpleUpdate, withBody(`{"ImageURI":"`+srv.URL+`/bios.cap","Targets":["/redfish/v1/Chassis/1"]}`)),
		http.StatusBadRequest, "ActionParameterValueNotInList", "/redfish/v1/Chassis/1", "Targets", "#UpdateService.SimpleUpdate")
	checkError(t, do(t, h, http.MethodPost, pathSimpleUpdate, withBody(`{}`)), http.StatusBadRequest,
		"ActionParameterMissing", "#UpdateService.SimpleUpdate", "ImageURI")
}

func TestUpdateMessagesMatchRegistry(t *testing.T) {
	var reg struct {
		Messages map[string]struct {
			Message, MessageSeverity, Resolution string
			ParamTypes                           []string
		}
	}
	if err := json.Unmarshal(registryFile(t, "Update.1.3.0.json"), &reg); err != nil {
		t.Fatal(err)
	}
	for full, m := range updateMessages {
		r, ok := reg.Messages[strings.TrimPrefix(full, updateRegistry+".")]
		if !ok || r.Message != m.text || r.MessageSeverity != m.severity || r.Resolution != m.resolution || len(r.ParamTypes) != m.args {
			t.Errorf("%s differs from its registry", full)
		}
	}
}

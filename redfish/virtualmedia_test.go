package redfish

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/platform/images"
)

// imageServer serves images on loopback: /ipa.iso, /big.iso (without a
// length), /missing.iso is 404.
func imageServer(t *testing.T, iso []byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ipa.iso":
			w.Write(iso)
		case "/big.iso":
			w.Header().Set("Transfer-Encoding", "chunked")
			for range 8 {
				w.Write(iso)
				w.(http.Flusher).Flush()
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestVirtualMediaInsertEject(t *testing.T) {
	p := newPlatform(t)
	iso := images.ISO("IPA", true, true, 64<<10)
	h := newHandlerCfg(t, p, Config{MaxImageBytes: 256 << 10})
	srv := imageServer(t, iso)
	cd := virtualMediumPath("CD")
	insert := cd + "/Actions/VirtualMedia.InsertMedia"

	coll := getJSON(t, h, path(t, getJSON(t, h, managerPath()), "VirtualMedia", "@odata.id").(string))
	if coll["Members@odata.count"] != 2.0 {
		t.Fatalf("collection %v", coll)
	}
	if m := getJSON(t, h, cd); m["Inserted"] != false || m["Image"] != nil || m["ImageName"] != nil ||
		path(t, m, "Actions", "#VirtualMedia.InsertMedia", "target") != insert {
		t.Fatalf("empty CD %v", m)
	}
	url := srv.URL + "/ipa.iso"
	if w := do(t, h, http.MethodPost, insert, withBody(`{"Image":"`+url+`","Inserted":true,"WriteProtected":true,"TransferProtocolType":"HTTP"}`)); w.Code != http.StatusNoContent {
		t.Fatalf("InsertMedia: %d %s", w.Code, w.Body)
	}
	sum := sha256.Sum256(iso)
	m := getJSON(t, h, cd)
	if m["Inserted"] != true || m["Image"] != url || m["ImageName"] != "ipa.iso" || m["ConnectedVia"] != "URI" ||
		path(t, m, "Oem", "Bmcemu", "ImageSizeBytes") != float64(len(iso)) || path(t, m, "Oem", "Bmcemu", "ImageSHA256") != hex.EncodeToString(sum[:]) ||
		path(t, m, "Oem", "Bmcemu", "BootRecord", "uefi") != true {
		t.Errorf("inserted CD %v", m)
	}
	w := do(t, h, http.MethodPost, insert, withBody(`{"Image":"`+url+`"}`))
	checkErrorDetail(t, w, http.StatusConflict, "ResourceInUse", "eject it first")
	if w := do(t, h, http.MethodPost, cd+"/Actions/VirtualMedia.EjectMedia"); w.Code != http.StatusNoContent {
		t.Fatalf("EjectMedia: %d %s", w.Code, w.Body)
	}
	if m := getJSON(t, h, cd); m["Inserted"] != false || m["Image"] != nil {
		t.Errorf("ejected CD %v", m)
	}
}

// Every bad image leaves the device empty, with the Base message that says
// why.
func TestVirtualMediaRefusals(t *testing.T) {
	p := newPlatform(t)
	iso := images.ISO("IPA", true, true, 64<<10)
	h := newHandlerCfg(t, p, Config{MaxImageBytes: 256 << 10})
	svc := h.(*handler).svc
	svc.media.lookup = func(host string) ([]net.IP, error) {
		if host == "localhost" {
			return []net.IP{net.ParseIP("127.0.0.1")}, nil
		}
		return nil, errors.New("no such host")
	}
	srv := imageServer(t, iso)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	insert := virtualMediumPath("CD") + "/Actions/VirtualMedia.InsertMedia"
	post := func(body string) *httptest.ResponseRecorder {
		return do(t, h, http.MethodPost, insert, withBody(body))
	}
	checkErrorDetail(t, post(`{"Image":"http://192.0.2.7/ipa.iso"}`), http.StatusBadRequest, "ActionParameterValueConflict", "outside the networks")
	checkError(t, post(`{"Image":"http://image.invalid/ipa.iso"}`), http.StatusBadRequest, "CouldNotEstablishConnection", "http://image.invalid/ipa.iso")
	checkError(t, post(`{"Image":"`+closedURL+`/ipa.iso"}`), http.StatusBadRequest, "CouldNotEstablishConnection", closedURL+"/ipa.iso")
	checkError(t, post(`{"Image":"`+srv.URL+`/missing.iso"}`), http.StatusBadRequest, "ResourceMissingAtURI", srv.URL+"/missing.iso")
	checkError(t, post(`{"Image":"ftp://127.0.0.1/ipa.iso"}`), http.StatusBadRequest, "SourceDoesNotSupportProtocol", "ftp://127.0.0.1/ipa.iso", "FTP")
	checkError(t, post(`{"Image":"not a url"}`), http.StatusBadRequest, "ActionParameterValueFormatError", "not a url", "Image", "#VirtualMedia.InsertMedia")
	checkErrorDetail(t, post(`{"Image":"`+srv.URL+`/ipa.iso","TransferProtocolType":"HTTPS"}`), http.StatusBadRequest, "ActionParameterValueConflict", "does not match")
	checkError(t, post(`{"Inserted":true}`), http.StatusBadRequest, "ActionParameterMissing", "#VirtualMedia.InsertMedia", "Image")
	checkError(t, post(`{"Image":"`+srv.URL+`/ipa.iso","Colour":"blue"}`), http.StatusBadRequest, "ActionParameterUnknown", "#VirtualMedia.InsertMedia", "Colour")
	checkError(t, post(`{"Image":"`+srv.URL+`/ipa.iso","WriteProtected":false}`), http.StatusBadRequest, "ActionParameterValueConflict", "WriteProtected", "false")
	w := post(`{"Image":"` + srv.URL + `/big.iso"}`)
	checkErrorDetail(t, w, http.StatusInsufficientStorage, "InsufficientStorage", "larger than")
	// localhost resolves to loopback: allowed.
	local := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/ipa.iso"
	for _, m := range p.Snapshot().VirtualMedia {
		if m.Image != nil {
			t.Fatalf("a refused insert left %+v", m.Image)
		}
	}
	if w := post(`{"Image":"` + local + `"}`); w.Code != http.StatusNoContent {
		t.Errorf("localhost: %d %s", w.Code, w.Body)
	}
}

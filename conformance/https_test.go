package conformance

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// HTTPS serves the same tree with a self-signed certificate that is made
// once and kept: a restart presents the same certificate, so clients that
// pinned it keep working. redfishtool logs in with a session over it.
func TestHTTPSAndSessions(t *testing.T) {
	dir := t.TempDir()
	e := start(t, startOpts{stateDir: dir})
	pool := x509.NewCertPool()
	var first []byte
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // we check the certificate by hand below
		VerifyConnection: func(cs tls.ConnectionState) error {
			first = cs.PeerCertificates[0].Raw
			pool.AddCert(cs.PeerCertificates[0])
			return nil
		},
	}}}
	url := fmt.Sprintf("https://127.0.0.1:%d/redfish/v1/Systems/1", e.TLSPort)
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.SetBasicAuth(e.User, e.Password)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var sys memSummary
	err = json.NewDecoder(resp.Body).Decode(&sys)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || sys.MemorySummary.TotalSystemMemoryGiB != 512 {
		t.Fatalf("HTTPS Systems/1: %d %v %+v", resp.StatusCode, err, sys)
	}

	// The real client, with a session (-S Always) over TLS.
	bin := needTool(t, "redfishtool")
	out, err := run(t, 60*time.Second, bin, "-r", fmt.Sprintf("127.0.0.1:%d", e.TLSPort), "-S", "Always", "-A", "Session",
		"-u", e.User, "-p", e.Password, "raw", "GET", "/redfish/v1/Systems/1/Memory/CPU1_DIMM_B1")
	if err != nil || !strings.Contains(out, `"CapacityMiB"`) {
		t.Fatalf("redfishtool over HTTPS with a session: %v\n%s", err, out)
	}

	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	e = start(t, startOpts{stateDir: dir})
	strict := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err = strict.Get(fmt.Sprintf("https://127.0.0.1:%d/redfish/v1/", e.TLSPort))
	if err != nil {
		t.Fatalf("after restart the pinned self-signed certificate no longer verifies: %v", err)
	}
	resp.Body.Close()
	if resp.TLS == nil || string(resp.TLS.PeerCertificates[0].Raw) != string(first) {
		t.Fatal("certificate changed across restart")
	}
	if _, err := os.Stat(filepath.Join(dir, "default-2s-ddr5")); err != nil {
		t.Fatal(err)
	}
}

// Accounts live in the state directory: one created through Redfish's
// AccountService can log in after a restart.
func TestAccountsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	e := start(t, startOpts{stateDir: dir})
	body := `{"UserName":"operator1","Password":"0perator-pass","RoleId":"Operator","Enabled":true}`
	if code := e.send(http.MethodPost, "/redfish/v1/AccountService/Accounts", body); code != 201 {
		t.Fatalf("create account: %d", code)
	}
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	e = start(t, startOpts{stateDir: dir})
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/redfish/v1/Systems/1", nil)
	req.SetBasicAuth("operator1", "0perator-pass")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("saved account after restart: %d", resp.StatusCode)
	}
	// The same account works over IPMI after the restart (shared database).
	bin := needTool(t, "ipmitool")
	out, err := run(t, 60*time.Second, bin, "-I", "lanplus", "-H", e.IPMIHost, "-p", fmt.Sprint(e.IPMIPort),
		"-U", "operator1", "-P", "0perator-pass", "-L", "OPERATOR", "-N", "1", "-R", "3", "chassis", "status")
	if err != nil || !strings.Contains(out, "System Power") {
		t.Fatalf("ipmitool as the Redfish-created operator: %v\n%s", err, out)
	}
}

// One account database: a password changed through Redfish is the password
// ipmitool must use on its next session, without a restart.
func TestPasswordChangeReachesIPMILive(t *testing.T) {
	e := start(t, startOpts{})
	var acct struct {
		Members []struct {
			ID string `json:"@odata.id"`
		}
	}
	e.getJSON("/redfish/v1/AccountService/Accounts", &acct)
	var adminURI string
	for _, m := range acct.Members {
		var a struct{ UserName string }
		e.getJSON(m.ID, &a)
		if a.UserName == e.User {
			adminURI = m.ID
		}
	}
	if adminURI == "" {
		t.Fatalf("no account named %s in %+v", e.User, acct)
	}
	if code := e.send(http.MethodPatch, adminURI, `{"Password":"n3w-Secret!"}`); code/100 != 2 {
		t.Fatalf("PATCH password: %d", code)
	}
	if out, err := e.ipmitool("mc", "info"); err == nil {
		t.Fatalf("the old password still opens an IPMI session:\n%s", out)
	}
	e.Password = "n3w-Secret!"
	if mc := kv(e.mustIPMI("mc", "info")); mc["IPMI Version"] != "2.0" {
		t.Fatalf("mc info with the new password: %v", mc)
	}
}

// The provisioning recipe for a new IPMI user (ipmitool user set name,
// set password, channel setaccess, enable) makes an account Redfish sees
// and redfishtool can use at once, with the role the privilege named.
func TestIPMICreatedUserIsARedfishAccount(t *testing.T) {
	e := start(t, startOpts{})
	for _, args := range [][]string{
		{"user", "set", "name", "9", "provisioner"},
		{"user", "set", "password", "9", "Prov1sion-pw"},
		{"channel", "setaccess", "1", "9", "privilege=3"},
		{"user", "enable", "9"},
	} {
		e.mustIPMI(args...)
	}
	var a struct {
		UserName, RoleId string
		Enabled          bool
	}
	if resp := e.getJSON("/redfish/v1/AccountService/Accounts/9", &a); resp.StatusCode != http.StatusOK ||
		a.UserName != "provisioner" || a.RoleId != "Operator" || !a.Enabled {
		t.Fatalf("Accounts/9 = %d %+v", resp.StatusCode, a)
	}
	out, err := run(t, 60*time.Second, needTool(t, "redfishtool"), "-r", fmt.Sprintf("127.0.0.1:%d", e.HTTPPort), "-S", "Never",
		"-u", "provisioner", "-p", "Prov1sion-pw", "raw", "GET", "/redfish/v1/Systems/1")
	if err != nil || !strings.Contains(out, `"PowerState"`) {
		t.Fatalf("redfishtool as the IPMI-created operator: %v\n%s", err, out)
	}
}

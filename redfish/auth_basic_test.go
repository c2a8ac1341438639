package redfish

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

// parseBasic must read every header exactly as net/http's BasicAuth does,
// except that credentials too long for any account are refused.
func TestParseBasicMatchesNetHTTP(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, h := range []string{
		"", "Basic", "Basic ", "Basic " + b64("admin:password"), "basic " + b64("admin:password"),
		"BASIC " + b64("a:b:c"), "Basic " + b64("nocolon"), "Basic " + b64(":"), "Basic " + b64("admin:"),
		"Basic !!!", "Basic " + b64("admin:password")[:5], "Bearer " + b64("admin:password"),
		"Basic  " + b64("admin:password"), "Basic " + b64("ü:ö"),
		"Basic " + b64(strings.Repeat("x", maxBasicCredentials-2)+":y"),
	} {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", h)
		wu, wp, wok := r.BasicAuth()
		var buf [maxBasicCredentials]byte
		u, p, ok := parseBasic(h, &buf)
		if ok != wok || string(u) != wu || string(p) != wp {
			t.Errorf("%q: got %q %q %v, net/http %q %q %v", h, u, p, ok, wu, wp, wok)
		}
	}
	var buf [maxBasicCredentials]byte
	if _, _, ok := parseBasic("Basic "+b64(strings.Repeat("x", maxBasicCredentials)+":y"), &buf); ok {
		t.Error("credentials longer than maxBasicCredentials accepted")
	}
}

func TestTokenHash(t *testing.T) {
	for _, tok := range []string{"", "abc", strings.Repeat("f", 64), strings.Repeat("z", 300)} {
		if tokenHash(tok) != sha256.Sum256([]byte(tok)) {
			t.Errorf("tokenHash(%q) differs from SHA-256", tok)
		}
	}
}

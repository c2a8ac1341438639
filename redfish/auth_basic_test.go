package redfish

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/platform/accounts"
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

// tokenHash hashes the bytes an issued token spells and refuses, without
// hashing, anything the service could not have issued.
func TestTokenHash(t *testing.T) {
	raw := make([]byte, tokenBytes)
	for i := range raw {
		raw[i] = byte(i*37 + 11)
	}
	tok := hex.EncodeToString(raw)
	if h, ok := tokenHash(tok); !ok || h != sha256.Sum256(raw) {
		t.Errorf("tokenHash(%q) = %x, %v; want the SHA-256 of its bytes", tok, h, ok)
	}
	for _, bad := range []string{"", "abc", tok[:62], tok + "00", strings.ToUpper(tok),
		strings.Repeat("g", 64), strings.Repeat("z", 300), tok[:63] + " "} {
		if _, ok := tokenHash(bad); ok {
			t.Errorf("tokenHash(%q) accepted", bad)
		}
	}
}

// FuzzTokenHash: any X-Auth-Token value a client sends. tokenHash accepts
// exactly the 64 lowercase hex digits hex.EncodeToString writes, hashes
// the bytes they spell, and refuses everything else; equalSecret agrees
// with ==.
func FuzzTokenHash(f *testing.F) {
	f.Add(strings.Repeat("0f", 32), strings.Repeat("0f", 32))
	f.Add(strings.Repeat("AB", 32), strings.Repeat("ab", 32))
	f.Add("", "x")
	f.Add(strings.Repeat("g", 64), strings.Repeat("0", 65))
	f.Fuzz(func(t *testing.T, tok, other string) {
		h, ok := tokenHash(tok)
		raw, err := hex.DecodeString(tok)
		want := err == nil && len(raw) == tokenBytes && hex.EncodeToString(raw) == tok
		if ok != want {
			t.Fatalf("tokenHash(%q) ok=%v, want %v", tok, ok, want)
		}
		if ok && h != sha256.Sum256(raw) {
			t.Fatalf("tokenHash(%q) is not the SHA-256 of its bytes", tok)
		}
		if equalSecret(tok, other) != (tok == other) {
			t.Fatalf("equalSecret(%q, %q) disagrees with ==", tok, other)
		}
	})
}

// equalSecret looks at every byte, in the words and in the tail: one byte
// changed anywhere makes two tokens differ.
func TestSameTokenEveryByte(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 13, 64, 65} {
		a := strings.Repeat("5", n)
		if !equalSecret(a, strings.Clone(a)) {
			t.Errorf("len %d: equal tokens differ", n)
		}
		for i := range n {
			b := []byte(a)
			b[i] ^= 0x80
			if equalSecret(a, string(b)) {
				t.Errorf("len %d: a change at byte %d went unseen", n, i)
			}
		}
	}
	if equalSecret("ab", "abc") {
		t.Error("tokens of different lengths are the same")
	}
}

// FuzzBasicMemo: any Authorization field a client sends on a connection
// whose memo holds the administrator's working field (or nothing) gets
// the answer it gets without a memo. Lockout and address blocking are
// off, so every answer depends on the field alone.
func FuzzBasicMemo(f *testing.F) {
	good := "Basic " + base64.StdEncoding.EncodeToString([]byte(adminUser+":"+adminPass))
	for _, s := range []string{good, good[:len(good)-1], good + "=", "Basic", "basic " + good[6:], "Basic !!!!", "Bearer x", "", "Basic " + base64.StdEncoding.EncodeToString([]byte(adminUser+":"))} {
		f.Add(s, true)
		f.Add(s, false)
	}
	st, err := accounts.Open(accounts.Options{Seed: []accounts.New{
		{UserName: adminUser, Password: adminPass, Role: accounts.RoleAdministrator, Enabled: true},
	}})
	if err != nil {
		f.Fatal(err)
	}
	pol := st.Policy()
	pol.LockoutThreshold = 0
	if err := st.SetPolicy(pol); err != nil {
		f.Fatal(err)
	}
	blk := st.IPBlocking()
	blk.Enabled = false
	if err := st.SetIPBlocking(blk); err != nil {
		f.Fatal(err)
	}
	h := newHandlerCfg(f, newPlatform(f), Config{AccountStore: st})
	get := func(t *testing.T, field string, memo *connTokens) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/redfish/v1/Systems/1", nil)
		if memo != nil {
			r = r.WithContext(context.WithValue(r.Context(), connTokensKey{}, memo))
		}
		r.Header["Authorization"] = []string{field}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	f.Fuzz(func(t *testing.T, field string, primed bool) {
		memo := &connTokens{}
		if primed {
			if w := get(t, good, memo); w.Code != http.StatusOK || memo.basic.Load() == nil {
				t.Fatalf("the working field: %d, memo %v", w.Code, memo.basic.Load())
			}
		}
		with, without := get(t, field, memo), get(t, field, nil)
		if with.Code != without.Code {
			t.Fatalf("field %q: %d with the memo (primed %v), %d without", field, with.Code, primed, without.Code)
		}
		if with.Code != http.StatusOK && (with.Code != http.StatusUnauthorized || !strings.Contains(with.Body.String(), `"error"`)) {
			t.Fatalf("field %q: %d %s", field, with.Code, with.Body)
		}
	})
}

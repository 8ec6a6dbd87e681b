package app

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func testCodec() *sessionCodec {
	return newSessionCodec(bytes.Repeat([]byte("k"), 32), 7*24*time.Hour, 30*24*time.Hour)
}

func TestSessionCookieRoundTrip(t *testing.T) {
	k := testCodec()
	now := time.Unix(1_800_000_000, 0)
	for name, d := range map[string]sessionData{
		"anonymous": {SID: newSessionID(), IAT: now.Unix(), EXP: now.Add(time.Hour).Unix()},
		"signed in": {SID: newSessionID(), UID: "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", Auth: now.Unix() - 60, IAT: now.Unix(), EXP: now.Add(time.Hour).Unix()},
	} {
		t.Run(name, func(t *testing.T) {
			v := k.encode(&d)
			if strings.ContainsAny(v, " ;,\"\\") {
				t.Fatalf("cookie value %q needs quoting", v)
			}
			got, ok := k.decode(v, now)
			if !ok || got != d {
				t.Fatalf("decode(encode(%+v)) = %+v, %v", d, got, ok)
			}
			if _, ok := k.decode(v, time.Unix(d.EXP, 0)); ok {
				t.Error("accepted at its expiry")
			}
			if _, ok := testCodecWithSecret("another secret of at least 32 bytes").decode(v, now); ok {
				t.Error("accepted with another secret")
			}
		})
	}
}

func testCodecWithSecret(secret string) *sessionCodec {
	return newSessionCodec([]byte(secret), 7*24*time.Hour, 30*24*time.Hour)
}

// TestTamperedSessionCookieIsRejected changes every character of a valid cookie (payload, dot and
// MAC) to every other character a cookie may hold: none of the results verifies.
func TestTamperedSessionCookieIsRejected(t *testing.T) {
	k := testCodec()
	now := time.Unix(1_800_000_000, 0)
	d := sessionData{SID: newSessionID(), UID: "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", Auth: now.Unix(), IAT: now.Unix(), EXP: now.Add(time.Hour).Unix()}
	v := k.encode(&d)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.="
	for i := range len(v) {
		for _, c := range []byte(alphabet) {
			if v[i] == c {
				continue
			}
			forged := v[:i] + string(c) + v[i+1:]
			if got, ok := k.decode(forged, now); ok {
				t.Fatalf("changing byte %d to %q verified: %+v", i, c, got)
			}
		}
	}
	for _, forged := range []string{v[:len(v)-1], v + "A", "." + v, v[:strings.IndexByte(v, '.')], ""} {
		if _, ok := k.decode(forged, now); ok {
			t.Errorf("%q verified", forged)
		}
	}
}

// TestOldJSONSessionCookieCountsAsAbsent: cookies of the JSON format (version 1) are not sessions any
// more, even when signed with the current key; the visitor simply gets a new session.
func TestOldJSONSessionCookieCountsAsAbsent(t *testing.T) {
	k := testCodec()
	now := time.Unix(1_800_000_000, 0)
	raw, _ := json.Marshal(map[string]any{"v": 1, "sid": "abc", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	payload := base64.RawURLEncoding.EncodeToString(raw)
	m := k.cookieMAC.get()
	sig := base64.RawURLEncoding.EncodeToString(m.mac([]byte(payload)))
	k.cookieMAC.put(m)
	if _, ok := k.decode(payload+"."+sig, now); ok {
		t.Fatal("a JSON cookie verified")
	}
}

// TestSessionSetCookieMatchesNetHTTP: the hand-made Set-Cookie value is what http.Cookie.String
// makes of the same cookie.
func TestSessionSetCookieMatchesNetHTTP(t *testing.T) {
	for i, secure := range []bool{false, true, false} {
		exp := time.Unix(1_800_000_000+int64(i%2), 0) // the formatted Expires of the last second is kept
		set := http.Cookie{Name: SessionCookieName, Value: "AbC-_.x", Path: "/", Expires: exp, MaxAge: 3600, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
		if got, want := sessionSetCookie(set.Value, exp.Unix(), 3600, secure), set.String(); got != want {
			t.Errorf("set:\n got %s\nwant %s", got, want)
		}
		del := http.Cookie{Name: SessionCookieName, Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
		if got, want := sessionSetCookie("", 0, -1, secure), del.String(); got != want {
			t.Errorf("delete:\n got %s\nwant %s", got, want)
		}
	}
}

func TestCSRFTokenLength(t *testing.T) {
	if n := base64.RawURLEncoding.EncodedLen(2 * csrfSecretLen); n != csrfTokenLen {
		t.Fatalf("csrfTokenLen %d, encoded length %d", csrfTokenLen, n)
	}
	if len(newTraceID()) != traceIDLen {
		t.Fatalf("trace id length %d", len(newTraceID()))
	}
}

// Live streams are held to maxLiveStreamsPerSession per session (per address for streams without a
// session) and to maxLiveStreamsPerAddress per address over all its sessions: fresh sessions from one
// address do not lift the bound, while another address is not affected.
func TestLiveStreamCountsPerSessionAndPerAddress(t *testing.T) {
	var l liveStreamCounts
	session := func(n int, addr string) liveStreamKey {
		k := liveStreamKey{session: true, addr: addr}
		k.sid[0], k.sid[1] = byte(n), byte(n>>8)
		return k
	}
	if !l.acquire(session(0, "a")) {
		t.Fatal("first stream refused")
	}
	for range maxLiveStreamsPerSession - 1 {
		l.acquire(session(0, "a"))
	}
	if l.acquire(session(0, "a")) {
		t.Error("a session got more than maxLiveStreamsPerSession streams")
	}
	opened := maxLiveStreamsPerSession
	for n := 1; opened < maxLiveStreamsPerAddress; n++ {
		for range maxLiveStreamsPerSession {
			if opened < maxLiveStreamsPerAddress && l.acquire(session(n, "a")) {
				opened++
			}
		}
	}
	if l.acquire(session(9999, "a")) {
		t.Error("a fresh session of a full address got a stream")
	}
	if !l.acquire(session(9999, "b")) || !l.acquire(liveStreamKey{addr: "b"}) {
		t.Error("another address was refused")
	}
	l.release(session(0, "a"))
	if !l.acquire(session(9999, "a")) {
		t.Error("a stream that ended did not give its place back to the address")
	}
	for range maxLiveStreamsPerSession {
		l.acquire(liveStreamKey{addr: "c"})
	}
	if l.acquire(liveStreamKey{addr: "c"}) {
		t.Error("streams without a session got more than maxLiveStreamsPerSession")
	}
}

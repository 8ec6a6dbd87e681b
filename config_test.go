package main

import (
	"bytes"
	"errors"
	"flag"
	"math"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigDefaults(t *testing.T) {
	c, err := parseConfig(nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.Host != "127.0.0.1" || !c.UsesDevDB() || c.LogFormat != "text" ||
		c.MaxUploadBytes != 512<<20 || len(c.Roles) != 3 || c.BaseURL != "http://localhost:8080" ||
		c.EmailDirectory != ".devdata/email" || c.MediaDirectory != ".devdata/media" ||
		c.LogFlushInterval != 100*time.Millisecond {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestConfigFlagsOverrideEnvironment(t *testing.T) {
	c, err := parseConfig([]string{"-port", "9000", "-roles", "web"},
		env(map[string]string{"PORT": "7000", "ROLES": "components", "ADMIN_EMAILS": " A@x.org , b@y.org",
			"DATABASE_URL": "postgres://u@h/db"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 9000 || !c.Runs(RoleWeb) || c.Runs(RoleComponents) || c.UsesDevDB() {
		t.Fatalf("%+v", c)
	}
	if strings.Join(c.AdminEmails, ",") != "a@x.org,b@y.org" {
		t.Fatalf("admin emails %v", c.AdminEmails)
	}
}

func TestConfigBadValuesNameTheSetting(t *testing.T) {
	cases := map[string]map[string]string{
		"PORT":                        {"PORT": "eighty"},
		"ROLES":                       {"ROLES": "web,cooking"},
		"LOG_FORMAT":                  {"LOG_FORMAT": "xml"},
		"DATABASE_URL":                {"DATABASE_URL": "mysql://x"},
		"MESSAGE_STORE_URL":           {"MESSAGE_STORE_URL": "postgres://x/y"},
		"SMTP_URL":                    {"SMTP_URL": "http://mail"},
		"MAX_UPLOAD_BYTES":            {"MAX_UPLOAD_BYTES": "-1"},
		"SESSION_SECRET":              {"SESSION_SECRET": "short"},
		"ADMIN_EMAILS":                {"ADMIN_EMAILS": "not-an-email"},
		"SYSTEM_SENDER_EMAIL_ADDRESS": {"SYSTEM_SENDER_EMAIL_ADDRESS": "nobody"},
		"SHUTDOWN_TIMEOUT":            {"SHUTDOWN_TIMEOUT": "soon"},
		"BASE_URL":                    {"BASE_URL": "ftp://x"},
		"COMBINE_WRITES":              {"COMBINE_WRITES": "maybe"},
		"GOGC":                        {"GOGC": "0"},
		"GOMEMLIMIT":                  {"GOMEMLIMIT": "40MB"},
		"LOG_FLUSH_INTERVAL":          {"LOG_FLUSH_INTERVAL": "-1s"},
		"TRUSTED_PROXIES":             {"TRUSTED_PROXIES": "10.0.0.0/8,proxy.example"},
	}
	for name, e := range cases {
		_, err := parseConfig(nil, env(e), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), name+":") {
			t.Errorf("%s: error %v does not name the setting", name, err)
		}
	}
}

func TestGCSettings(t *testing.T) {
	c, err := parseConfig(nil, env(nil), &bytes.Buffer{})
	if err != nil || c.GCPercent != 400 || c.MemoryLimit != 32<<20 {
		t.Fatalf("defaults: GOGC %d, GOMEMLIMIT %d, %v", c.GCPercent, c.MemoryLimit, err)
	}
	c, err = parseConfig([]string{"-gogc", "off"}, env(map[string]string{"GOMEMLIMIT": "off"}), &bytes.Buffer{})
	if err != nil || c.GCPercent != -1 || c.MemoryLimit != math.MaxInt64 {
		t.Fatalf("off: GOGC %d, GOMEMLIMIT %d, %v", c.GCPercent, c.MemoryLimit, err)
	}
	sizes := map[string]int64{"1": 1, "512B": 512, "64KiB": 64 << 10, "40MiB": 40 << 20, "2GiB": 2 << 30, "1TiB": 1 << 40}
	for v, want := range sizes {
		if got, err := parseByteSize(v); err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", v, got, err, want)
		}
	}
	for _, v := range []string{"", "0", "-1MiB", "40MB", "1.5GiB", "MiB", "9999999TiB", "off "} {
		if got, err := parseByteSize(v); err == nil {
			t.Errorf("parseByteSize(%q) = %d, want an error", v, got)
		}
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	_, err := parseConfig([]string{"-h"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("want ErrHelp, got %v", err)
	}
	for _, name := range []string{"PORT", "HOST", "DATABASE_URL", "MESSAGE_STORE_URL", "LOG_FORMAT", "ROLES",
		"SESSION_SECRET", "EMAIL_DIRECTORY", "SMTP_URL", "SYSTEM_SENDER_EMAIL_ADDRESS", "MEDIA_DIRECTORY",
		"MAX_UPLOAD_BYTES", "ADMIN_EMAILS", "DEV_DATA_DIR", "BASE_URL", "LOG_FLUSH_INTERVAL"} {
		if !strings.Contains(out.String(), "$"+name) {
			t.Errorf("-h does not list %s", name)
		}
	}
}

// TestTuneGCAppliesTheSettings: the parsed values reach the runtime.
func TestTuneGCAppliesTheSettings(t *testing.T) {
	prevPercent, prevLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	defer func() { debug.SetGCPercent(prevPercent); debug.SetMemoryLimit(prevLimit) }()
	tuneGC(Config{GCPercent: 250, MemoryLimit: 48 << 20})
	if got := debug.SetGCPercent(100); got != 250 {
		t.Errorf("GC percent %d, want 250", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != 48<<20 {
		t.Errorf("memory limit %d, want %d", got, 48<<20)
	}
}

// TRUSTED_PROXIES decides whose X-Forwarded-For is believed: nobody's by default (a client could pick
// its own address and slip past the log-in throttle), only the listed proxies' when set.
func TestTrustedProxies(t *testing.T) {
	c, err := parseConfig(nil, env(map[string]string{"TRUSTED_PROXIES": " 10.1.0.0/16, 192.0.2.7,2001:db8::1 "}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range c.TrustedProxies {
		got = append(got, n.String())
	}
	if want := "10.1.0.0/16 192.0.2.7/32 2001:db8::1/128"; strings.Join(got, " ") != want {
		t.Fatalf("TrustedProxies %v, want %s", got, want)
	}
	ip := func(extract echo.IPExtractor, peer, xff string) string {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer + ":4711"
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		return extract(r)
	}
	direct := clientIP(nil)
	if got := ip(direct, "127.0.0.1", "203.0.113.9"); got != "127.0.0.1" {
		t.Errorf("no trusted proxies: %s, want the TCP peer", got)
	}
	behind := clientIP(c.TrustedProxies)
	for _, tc := range []struct{ peer, xff, want string }{
		{"10.1.2.3", "203.0.113.9", "203.0.113.9"},            // through the proxy
		{"10.1.2.3", "6.6.6.6, 203.0.113.9", "203.0.113.9"},   // a client's forged entry stays to the left
		{"10.1.2.3", "203.0.113.9, 192.0.2.7", "203.0.113.9"}, // two trusted hops
		{"198.51.100.4", "203.0.113.9", "198.51.100.4"},       // not through a proxy: the peer
		{"127.0.0.1", "203.0.113.9", "127.0.0.1"},             // loopback is not trusted unless listed
	} {
		if got := ip(behind, tc.peer, tc.xff); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}

// healthcheck asks the address the server listens on: HOST itself, or loopback for "every interface".
func TestHealthcheckHost(t *testing.T) {
	for host, want := range map[string]string{"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "::1": "::1",
		"10.0.0.5": "10.0.0.5", "localhost": "localhost"} {
		if got := healthcheckHost(host); got != want {
			t.Errorf("HOST %q: healthcheck asks %q, want %q", host, got, want)
		}
	}
}

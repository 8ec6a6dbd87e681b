package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of the program. Each one is a flag whose default comes from an environment
// variable of the same name in upper snake case (PORT, DATABASE_URL, …), except SenderEmail's
// (SYSTEM_SENDER_EMAIL_ADDRESS), GCPercent's (GOGC) and MemoryLimit's (GOMEMLIMIT); `-h` lists them all.
type Config struct {
	Host             string
	Port             int
	BaseURL          string
	DatabaseURL      string
	MessageStoreURL  string
	DevDataDir       string
	SessionSecret    string
	SecureCookies    bool
	TrustedProxies   []*net.IPNet // reverse proxies whose X-Forwarded-For is believed
	EmailDirectory   string
	SMTPURL          string
	SenderEmail      string
	MediaDirectory   string
	MaxUploadBytes   int64
	AdminEmails      []string
	Roles            []string
	LogFormat        string
	LogLevel         string
	LogFlushInterval time.Duration
	ShutdownTimeout  time.Duration
	RequestTimeout   time.Duration // 0: no request deadline
	LeaseInterval    time.Duration
	DBMaxConns       int
	CombineWrites    bool
	GCPercent        int   // -1: collection off (GOGC=off)
	MemoryLimit      int64 // bytes; math.MaxInt64: no limit (GOMEMLIMIT=off)
}

// Roles a process can run.
const (
	RoleWeb         = "web"
	RoleComponents  = "components"
	RoleAggregators = "aggregators"
)

// Runs reports whether the process runs role.
func (c Config) Runs(role string) bool { return slices.Contains(c.Roles, role) }

// UsesDevDB reports whether the program starts its private PostgreSQL.
func (c Config) UsesDevDB() bool { return c.DatabaseURL == "" }

// parseConfig reads flags (args, without the program name) over environment defaults (getenv).
func parseConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	var adminEmails, roles, port, maxUpload, secure, proxies, logFlush, shutdown, requestTimeout, lease, maxConns, combine, gogc, memLimit string
	fs := flag.NewFlagSet("videotutorials", flag.ContinueOnError)
	fs.SetOutput(out)
	str := func(p *string, name, env, def, usage string) {
		if v := getenv(env); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage+" [$"+env+"]")
	}
	str(&c.Host, "host", "HOST", "127.0.0.1", "interface to listen on (0.0.0.0 for all, as in the container)")
	str(&port, "port", "PORT", "8080", "TCP port to listen on (0 picks a free one)")
	str(&c.BaseURL, "base-url", "BASE_URL", "", "public URL of the site, used in emails (default http://localhost:PORT)")
	str(&c.DatabaseURL, "database-url", "DATABASE_URL", "", "PostgreSQL URL for view data (and the message store); empty starts a private dev PostgreSQL")
	str(&c.MessageStoreURL, "message-store-url", "MESSAGE_STORE_URL", "", "PostgreSQL URL of the message store when it lives in another database (default DATABASE_URL)")
	str(&c.DevDataDir, "dev-data-dir", "DEV_DATA_DIR", ".devdata", "directory for the private PostgreSQL, dev secrets, emails and media")
	str(&c.SessionSecret, "session-secret", "SESSION_SECRET", "", "secret (32+ characters) that signs session cookies; generated and kept in DEV_DATA_DIR for the dev database")
	str(&secure, "secure-cookies", "SECURE_COOKIES", "false", "mark cookies Secure even when TLS ends at a proxy (true/false)")
	str(&proxies, "trusted-proxies", "TRUSTED_PROXIES", "", "comma-separated addresses or CIDR ranges of the reverse proxies in front of the web server, whose X-Forwarded-For gives the client's address (log-in throttling, logs); empty: the TCP peer is the client")
	str(&c.EmailDirectory, "email-directory", "EMAIL_DIRECTORY", "", "pickup directory for outgoing email as .eml files (default DEV_DATA_DIR/email)")
	str(&c.SMTPURL, "smtp-url", "SMTP_URL", "", "send email through SMTP instead, e.g. smtp://user:pass@host:587")
	str(&c.SenderEmail, "sender-email", "SYSTEM_SENDER_EMAIL_ADDRESS", "Video Tutorials <noreply@video-tutorials.local>", "From address of the system's emails")
	str(&c.MediaDirectory, "media-directory", "MEDIA_DIRECTORY", "", "where uploaded and transcoded videos are kept (default DEV_DATA_DIR/media)")
	str(&maxUpload, "max-upload-bytes", "MAX_UPLOAD_BYTES", strconv.Itoa(512<<20), "largest accepted video upload in bytes")
	str(&adminEmails, "admin-emails", "ADMIN_EMAILS", "", "comma-separated emails of admin users (dev database: empty makes the first registered user the admin)")
	str(&roles, "roles", "ROLES", "web,components,aggregators", "what this process runs: any of web, components, aggregators")
	str(&c.LogFormat, "log-format", "LOG_FORMAT", "text", "log format: text or json")
	str(&c.LogLevel, "log-level", "LOG_LEVEL", "info", "log level: debug, info, warn or error")
	str(&logFlush, "log-flush-interval", "LOG_FLUSH_INTERVAL", "100ms", "how long info and debug log lines may wait in memory to be written together (0: each at once); warnings and errors are written at once")
	str(&shutdown, "shutdown-timeout", "SHUTDOWN_TIMEOUT", "15s", "how long a graceful shutdown may take")
	str(&requestTimeout, "request-timeout", "REQUEST_TIMEOUT", "15s", "how long a request may wait for the database before it is answered 503 with Retry-After (0: as long as the client waits); live pages, video downloads and uploads' transfer time are not counted")
	str(&lease, "lease-interval", "LEASE_INTERVAL", "2s", "how often a process tries to take over subscriptions another process held")
	str(&maxConns, "db-max-conns", "DB_MAX_CONNS", "20", "database connections per pool")
	str(&combine, "combine-writes", "COMBINE_WRITES", "true", "share transactions between concurrent writes to one category (false: one transaction per write, for benchmarks)")
	str(&gogc, "gogc", "GOGC", "400", "garbage collection target, as Go's GOGC: the heap may grow by this percentage of the live heap between collections (off: never collect)")
	str(&memLimit, "gomemlimit", "GOMEMLIMIT", "32MiB", "soft limit of the Go runtime's memory, as Go's GOMEMLIMIT (bytes, or with B, KiB, MiB, GiB, TiB; off: none); collection works harder near it")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	var errs []error
	bad := func(env string, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", env, fmt.Sprintf(format, a...)))
	}
	var err error
	if c.Port, err = strconv.Atoi(port); err != nil || c.Port < 0 || c.Port > 65535 {
		bad("PORT", "%q is not a port number (0–65535)", port)
	}
	if c.MaxUploadBytes, err = strconv.ParseInt(maxUpload, 10, 64); err != nil || c.MaxUploadBytes < 1024 {
		bad("MAX_UPLOAD_BYTES", "%q is not a byte count of at least 1024", maxUpload)
	}
	if c.SecureCookies, err = strconv.ParseBool(secure); err != nil {
		bad("SECURE_COOKIES", "%q is not true or false", secure)
	}
	if c.TrustedProxies, err = parseIPRanges(proxies); err != nil {
		bad("TRUSTED_PROXIES", "%v", err)
	}
	if c.LogFlushInterval, err = time.ParseDuration(logFlush); err != nil || c.LogFlushInterval < 0 || c.LogFlushInterval > 10*time.Second {
		bad("LOG_FLUSH_INTERVAL", "%q is not a duration from 0 to 10s", logFlush)
	}
	if c.ShutdownTimeout, err = time.ParseDuration(shutdown); err != nil || c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT", "%q is not a positive duration such as 15s", shutdown)
	}
	if c.RequestTimeout, err = time.ParseDuration(requestTimeout); err != nil || c.RequestTimeout < 0 {
		bad("REQUEST_TIMEOUT", "%q is not a duration such as 15s (0: none)", requestTimeout)
	}
	if c.LeaseInterval, err = time.ParseDuration(lease); err != nil || c.LeaseInterval < 100*time.Millisecond {
		bad("LEASE_INTERVAL", "%q is not a duration of at least 100ms", lease)
	}
	if c.CombineWrites, err = strconv.ParseBool(combine); err != nil {
		bad("COMBINE_WRITES", "%q is not true or false", combine)
	}
	if gogc == "off" {
		c.GCPercent = -1
	} else if c.GCPercent, err = strconv.Atoi(gogc); err != nil || c.GCPercent < 1 {
		bad("GOGC", "%q is not a positive percentage or off", gogc)
	}
	if c.MemoryLimit, err = parseByteSize(memLimit); err != nil {
		bad("GOMEMLIMIT", "%v", err)
	}
	if c.DBMaxConns, err = strconv.Atoi(maxConns); err != nil || c.DBMaxConns < 4 {
		bad("DB_MAX_CONNS", "%q is not a number of at least 4", maxConns)
	}
	for _, u := range []struct{ env, v string }{{"DATABASE_URL", c.DatabaseURL}, {"MESSAGE_STORE_URL", c.MessageStoreURL}} {
		if u.v == "" {
			continue
		}
		if p, err := url.Parse(u.v); err != nil || (p.Scheme != "postgres" && p.Scheme != "postgresql") {
			bad(u.env, "not a postgres:// URL")
		}
	}
	if c.MessageStoreURL != "" && c.DatabaseURL == "" {
		bad("MESSAGE_STORE_URL", "needs DATABASE_URL too (the private dev database holds both)")
	}
	if c.SMTPURL != "" {
		if p, err := url.Parse(c.SMTPURL); err != nil || (p.Scheme != "smtp" && p.Scheme != "smtps") || p.Host == "" {
			bad("SMTP_URL", "not an smtp:// or smtps:// URL with a host")
		}
	}
	if _, err := mail.ParseAddress(c.SenderEmail); err != nil {
		bad("SYSTEM_SENDER_EMAIL_ADDRESS", "%q is not an email address", c.SenderEmail)
	}
	for _, e := range strings.Split(adminEmails, ",") {
		if e = strings.ToLower(strings.TrimSpace(e)); e == "" {
			continue
		}
		if _, err := mail.ParseAddress(e); err != nil {
			bad("ADMIN_EMAILS", "%q is not an email address", e)
		}
		c.AdminEmails = append(c.AdminEmails, e)
	}
	for _, r := range strings.Split(roles, ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		if r != RoleWeb && r != RoleComponents && r != RoleAggregators {
			bad("ROLES", "unknown role %q (use web, components, aggregators)", r)
		}
		if !slices.Contains(c.Roles, r) {
			c.Roles = append(c.Roles, r)
		}
	}
	if len(c.Roles) == 0 {
		bad("ROLES", "no role given")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("LOG_FORMAT", "%q is not text or json", c.LogFormat)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		bad("LOG_LEVEL", "%q is not debug, info, warn or error", c.LogLevel)
	}
	if c.SessionSecret != "" && len(c.SessionSecret) < 32 {
		bad("SESSION_SECRET", "must be at least 32 characters")
	}
	if c.EmailDirectory == "" {
		c.EmailDirectory = filepath.Join(c.DevDataDir, "email")
	}
	if c.MediaDirectory == "" {
		c.MediaDirectory = filepath.Join(c.DevDataDir, "media")
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://localhost:" + strconv.Itoa(c.Port)
	} else if p, err := url.Parse(c.BaseURL); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		bad("BASE_URL", "%q is not an http(s) URL", c.BaseURL)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c, errors.Join(errs...)
}

func environ(key string) string { return os.Getenv(key) }

// parseByteSize reads a size the way the Go runtime reads GOMEMLIMIT: a whole number of bytes with an
// optional unit B, KiB, MiB, GiB or TiB, or off (no limit).
func parseByteSize(v string) (int64, error) {
	if v == "off" {
		return math.MaxInt64, nil
	}
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	num, shift := v, uint(0)
	for _, u := range units {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			num, shift = n, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 || n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("%q is not a size such as 40MiB, or off", v)
	}
	return n << shift, nil
}

// parseIPRanges reads a comma-separated list of addresses (one host each) and CIDR ranges.
func parseIPRanges(list string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			_, n, err := net.ParseCIDR(item)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or a CIDR range", item)
			}
			out = append(out, n)
			continue
		}
		ip := net.ParseIP(item)
		if ip == nil {
			return nil, fmt.Errorf("%q is not an address or a CIDR range", item)
		}
		bits := 128
		if ip.To4() != nil {
			ip, bits = ip.To4(), 32
		}
		out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
	}
	return out, nil
}

package sendemail

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/components/sendemail/sendemailmsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

// fakeSMTP is a tiny SMTP server on 127.0.0.1 that records what it is sent. It speaks just enough of
// RFC 5321 for net/smtp: EHLO (offering AUTH PLAIN), AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
type fakeSMTP struct {
	ln   net.Listener
	addr string

	tls      *tls.Config // offered with STARTTLS when set
	implicit bool        // speak TLS from the first byte (smtps)
	tlsUsed  bool

	mu        sync.Mutex
	rcptReply string // reply to RCPT TO; default "250 OK"
	dataReply string // reply after the data; default "250 queued"
	auth      []string
	mails     []fakeMail
}

type fakeMail struct {
	from string
	to   []string
	data string
}

func startFakeSMTP(t *testing.T) *fakeSMTP { return startFakeSMTPWith(t, nil, false) }

func startFakeSMTPWith(t *testing.T, tlsConfig *tls.Config, implicit bool) *fakeSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSMTP{ln: ln, addr: ln.Addr().String(), rcptReply: "250 OK", dataReply: "250 queued", tls: tlsConfig, implicit: implicit}
	if implicit {
		ln = tls.NewListener(ln, tlsConfig)
		f.ln = ln
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); f.serve(conn) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return f
}

func (f *fakeSMTP) reply(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rcptReply = s
}

func (f *fakeSMTP) recorded() ([]fakeMail, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.mails), slices.Clone(f.auth)
}

func (f *fakeSMTP) serve(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewConn(conn)
	var cur fakeMail
	secure := f.implicit
	if secure {
		f.mu.Lock()
		f.tlsUsed = true
		f.mu.Unlock()
	}
	_ = tp.PrintfLine("220 fake ESMTP")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		f.mu.Lock()
		rcptReply, dataReply := f.rcptReply, f.dataReply
		f.mu.Unlock()
		switch strings.ToUpper(verb) {
		case "EHLO":
			if f.tls != nil && !secure {
				_ = tp.PrintfLine("250-fake greets %s\r\n250-STARTTLS\r\n250-AUTH PLAIN\r\n250 8BITMIME", arg)
			} else {
				_ = tp.PrintfLine("250-fake greets %s\r\n250-AUTH PLAIN\r\n250 8BITMIME", arg)
			}
		case "STARTTLS":
			_ = tp.PrintfLine("220 ready to start TLS")
			tc := tls.Server(conn, f.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, tp, secure = tc, textproto.NewConn(tc), true
			f.mu.Lock()
			f.tlsUsed = true
			f.mu.Unlock()
		case "HELO", "RSET", "NOOP":
			_ = tp.PrintfLine("250 OK")
		case "AUTH":
			_, b64, _ := strings.Cut(arg, " ")
			creds, _ := base64.StdEncoding.DecodeString(b64)
			f.mu.Lock()
			f.auth = append(f.auth, string(creds))
			f.mu.Unlock()
			_ = tp.PrintfLine("235 authenticated")
		case "MAIL":
			cur = fakeMail{from: arg}
			_ = tp.PrintfLine("250 OK")
		case "RCPT":
			if strings.HasPrefix(rcptReply, "250") {
				cur.to = append(cur.to, arg)
			}
			_ = tp.PrintfLine("%s", rcptReply)
		case "DATA":
			_ = tp.PrintfLine("354 go ahead")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			cur.data = string(data)
			if strings.HasPrefix(dataReply, "250") {
				f.mu.Lock()
				f.mails = append(f.mails, cur)
				f.mu.Unlock()
			}
			_ = tp.PrintfLine("%s", dataReply)
		case "QUIT":
			_ = tp.PrintfLine("221 bye")
			return
		default:
			_ = tp.PrintfLine("502 not implemented")
		}
	}
}

// selfSigned returns a server configuration with a certificate for 127.0.0.1 and a client
// configuration that trusts it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: roots}
}

func TestSMTPUsesTLS(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	for _, implicit := range []bool{false, true} {
		f := startFakeSMTPWith(t, serverTLS, implicit)
		scheme := "smtp://"
		if implicit {
			scheme = "smtps://"
		}
		tr, err := NewSMTP(scheme + "ada:secret@" + f.addr)
		if err != nil {
			t.Fatal(err)
		}
		tr.TLSConfig, tr.Timeout = clientTLS, 5*time.Second
		if err := tr.Deliver(ctx, Email{ID: uuid.NewString(), From: sender, To: "ada@example.com", Text: "x"}); err != nil {
			t.Fatalf("implicit TLS %v: %v", implicit, err)
		}
		mails, auth := f.recorded()
		f.mu.Lock()
		used := f.tlsUsed
		f.mu.Unlock()
		if len(mails) != 1 || len(auth) != 1 || !used {
			t.Errorf("implicit TLS %v: %d mails, auth %q, TLS used %v", implicit, len(mails), auth, used)
		}
	}

	// A certificate the client does not trust is the configuration's problem: transient, not Failed.
	f := startFakeSMTPWith(t, serverTLS, false)
	tr, _ := NewSMTP("smtp://" + f.addr)
	tr.Timeout = 5 * time.Second
	err := tr.Deliver(ctx, Email{ID: uuid.NewString(), From: sender, To: "ada@example.com", Text: "x"})
	if err == nil || !messagestore.IsTransient(err) {
		t.Errorf("untrusted certificate: want a transient error, got %v", err)
	}
}

func smtpTransport(t *testing.T, f *fakeSMTP, userinfo string) *SMTP {
	t.Helper()
	s, err := NewSMTP("smtp://" + userinfo + f.addr)
	if err != nil {
		t.Fatal(err)
	}
	s.Timeout = 5 * time.Second
	return s
}

func TestSMTPDelivers(t *testing.T) {
	f := startFakeSMTP(t)
	tr := smtpTransport(t, f, "ada:secret@")
	e := Email{ID: uuid.NewString(), From: sender, To: "Zoë <zoe@example.com>", Subject: "Welcome",
		Text: "Hello,\n.a line starting with a dot\n", HTML: "<p>Hello</p>", Date: time.Now()}
	if err := tr.Deliver(ctx, e); err != nil {
		t.Fatal(err)
	}
	mails, auth := f.recorded()
	if !slices.Equal(auth, []string{"\x00ada\x00secret"}) {
		t.Errorf("AUTH PLAIN %q", auth)
	}
	if len(mails) != 1 {
		t.Fatalf("%d mails", len(mails))
	}
	got := mails[0]
	if !strings.HasPrefix(got.from, "FROM:<noreply@videos.example>") || !slices.Equal(got.to, []string{"TO:<zoe@example.com>"}) {
		t.Errorf("envelope %q → %q", got.from, got.to)
	}
	want, _ := e.Message()
	if got.data != strings.ReplaceAll(string(want), "\r\n", "\n") { // ReadDotBytes turns CRLF into LF
		t.Errorf("DATA differs from the message:\n%s\nwant:\n%s", got.data, want)
	}
	msg, err := mail.ReadMessage(strings.NewReader(got.data))
	if err != nil {
		t.Fatal(err)
	}
	_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	part, err := multipart.NewReader(msg.Body, params["boundary"]).NextPart()
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(part)
	if strings.ReplaceAll(string(text), "\r\n", "\n") != e.Text {
		t.Errorf("text part %q (dot-stuffing?)", text)
	}
}

func TestSMTPRejectionsArePermanentOrTransientByCode(t *testing.T) {
	f := startFakeSMTP(t)
	tr := smtpTransport(t, f, "")
	e := Email{ID: uuid.NewString(), From: sender, To: "nobody@example.com", Subject: "Hi", Text: "x"}

	f.reply("550 5.1.1 no such user")
	err := tr.Deliver(ctx, e)
	if err == nil || messagestore.IsTransient(err) || !strings.Contains(err.Error(), "550") {
		t.Errorf("550 to RCPT: want a permanent error, got %v", err)
	}
	f.reply("451 4.3.0 try again later")
	err = tr.Deliver(ctx, e)
	if err == nil || !messagestore.IsTransient(err) {
		t.Errorf("451 to RCPT: want a transient error, got %v", err)
	}
	if mails, _ := f.recorded(); len(mails) != 0 {
		t.Errorf("rejected mail recorded: %v", mails)
	}
}

func TestSMTPConnectionRefusedIsTransient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there any more
	tr, err := NewSMTP("smtp://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	err = tr.Deliver(ctx, Email{ID: uuid.NewString(), From: sender, To: "ada@example.com", Text: "x"})
	if err == nil || !messagestore.IsTransient(err) {
		t.Fatalf("want a transient error, got %v", err)
	}
}

func TestSMTPRejectionThroughTheComponent(t *testing.T) {
	// send-email records Failed for a permanent rejection and nothing for a temporary one.
	f := startFakeSMTP(t)
	s := testdb.NewStore(t)
	c := New(Deps{Store: s, Logger: testdb.Quiet, Transport: smtpTransport(t, f, ""), Sender: sender})

	f.reply("452 4.2.2 mailbox full")
	m, cmd := sendCommand(t, s, "full@example.com", "Welcome")
	if err := c.HandleSend(ctx, m); err == nil || !messagestore.IsTransient(err) {
		t.Fatalf("452: want a transient error, got %v", err)
	}
	if n := len(testdb.ReadStream(t, s, sendemailmsg.StreamName(cmd.EmailID))); n != 0 {
		t.Fatalf("recorded %d outcome(s) of a temporary rejection", n)
	}

	f.reply("550 5.1.1 no such user")
	if err := c.HandleSend(ctx, m); err != nil {
		t.Fatal(err)
	}
	msgs := testdb.ReadStream(t, s, sendemailmsg.StreamName(cmd.EmailID))
	var failed sendemailmsg.Failed
	if len(msgs) != 1 || msgs[0].Decode(&failed) != nil || !strings.Contains(failed.Reason, "550") {
		t.Fatalf("email stream %v: %+v", testdb.Types(msgs), failed)
	}

	f.reply("250 OK")
	m2, cmd2 := sendCommand(t, s, "ada@example.com", "Welcome")
	if err := c.HandleSend(ctx, m2); err != nil {
		t.Fatal(err)
	}
	if got := testdb.Types(testdb.ReadStream(t, s, sendemailmsg.StreamName(cmd2.EmailID))); !slices.Equal(got, []string{"Sent"}) {
		t.Fatalf("email stream: %v", got)
	}
	if mails, _ := f.recorded(); len(mails) != 1 {
		t.Errorf("%d mails delivered", len(mails))
	}
}

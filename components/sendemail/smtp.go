package sendemail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"net/url"
	"time"

	"videotutorials/messagestore"
)

// SMTP delivers emails through an SMTP server (net/smtp: no dependency beyond the standard library).
type SMTP struct {
	Addr string // host:port
	Host string // the server's name: TLS verification and PLAIN authentication check it
	// ImplicitTLS speaks TLS from the first byte (smtps://, usually port 465). Otherwise STARTTLS is
	// used whenever the server offers it.
	ImplicitTLS bool
	// Username and Password, when Username is set, authenticate with AUTH PLAIN. net/smtp refuses to
	// send them over an unencrypted connection except to localhost.
	Username, Password string
	TLSConfig          *tls.Config   // nil: verify the server against the system's roots
	LocalName          string        // name given in EHLO; default "localhost"
	Timeout            time.Duration // the whole conversation; default one minute
}

// NewSMTP returns a transport for an smtp://[user:password@]host[:port] (STARTTLS when offered, port
// 587 by default) or smtps://… (implicit TLS, port 465 by default) URL.
func NewSMTP(rawURL string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("smtp url: %w", err)
	}
	s := &SMTP{Host: u.Hostname()}
	port := u.Port()
	switch u.Scheme {
	case "smtp":
		if port == "" {
			port = "587"
		}
	case "smtps":
		s.ImplicitTLS = true
		if port == "" {
			port = "465"
		}
	default:
		return nil, fmt.Errorf("smtp url: scheme %q is not smtp or smtps", u.Scheme)
	}
	if s.Host == "" {
		return nil, errors.New("smtp url: no host")
	}
	s.Addr = net.JoinHostPort(s.Host, port)
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	return s, nil
}

// Deliver sends the email in one SMTP conversation. Replies in the 5xx range to the envelope or the
// data (unknown recipient, message refused) are permanent; everything else — a refused or lost
// connection, a timeout, a 4xx reply, a TLS or authentication problem (the configuration's, not the
// email's) — is transient.
func (s *SMTP) Deliver(ctx context.Context, e Email) error {
	msg, err := e.Message()
	if err != nil {
		return err
	}
	from, to, _ := e.envelope() // valid: Message checked them
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	conn, err := s.dial(ctx)
	if err != nil {
		return messagestore.Transient(fmt.Errorf("smtp connect %s: %w", s.Addr, err))
	}
	// net/smtp knows no contexts: the deadline bounds every read and write, and cancelling the context
	// unblocks them at once.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		conn.Close()
		return classify("greeting", err, false)
	}
	defer c.Close()
	localName := s.LocalName
	if localName == "" {
		localName = "localhost"
	}
	if err := c.Hello(localName); err != nil {
		return classify("EHLO", err, false)
	}
	if !s.ImplicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig()); err != nil {
				return classify("STARTTLS", err, false)
			}
		}
	}
	if s.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return messagestore.Transient(errors.New("smtp: credentials are configured but the server offers no AUTH"))
		}
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, s.Host)); err != nil {
			return classify("AUTH", err, false)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return classify("MAIL FROM", err, true)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return classify("RCPT TO", err, true)
	}
	w, err := c.Data()
	if err != nil {
		return classify("DATA", err, true)
	}
	if _, err := w.Write(msg); err != nil {
		return classify("DATA", err, false)
	}
	if err := w.Close(); err != nil { // the server's verdict on the message
		return classify("DATA", err, true)
	}
	// The message is accepted; a failing QUIT changes nothing about that.
	_ = c.Quit()
	return nil
}

func (s *SMTP) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{}
	if s.ImplicitTLS {
		return (&tls.Dialer{NetDialer: d, Config: s.tlsConfig()}).DialContext(ctx, "tcp", s.Addr)
	}
	return d.DialContext(ctx, "tcp", s.Addr)
}

func (s *SMTP) tlsConfig() *tls.Config {
	cfg := &tls.Config{}
	if s.TLSConfig != nil {
		cfg = s.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = s.Host
	}
	return cfg
}

// classify turns an SMTP failure into a permanent error (a 5xx reply in a step where that means the
// email itself is refused) or a transient one (anything else).
func classify(step string, err error, fiveHundredsArePermanent bool) error {
	var reply *textproto.Error
	if fiveHundredsArePermanent && errors.As(err, &reply) && reply.Code >= 500 && reply.Code < 600 {
		return permanent("smtp "+step, err)
	}
	return messagestore.Transient(fmt.Errorf("smtp %s: %w", step, err))
}

package sendemail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/google/uuid"

	"videotutorials/messagestore"
)

// Email is one email to deliver.
type Email struct {
	// ID is the email id (a UUID): it names the pickup file and makes the Message-ID, so that
	// delivering the same email twice produces the same message.
	ID      string
	From    string // "Name <address>" or "address"
	To      string
	Subject string
	Text    string // plain-text part
	HTML    string // HTML part
	Date    time.Time
}

// ErrInvalidAddress says an address cannot be delivered to, whatever the transport: the email fails.
var ErrInvalidAddress = errors.New("invalid email address")

// envelope returns the bare sender and recipient addresses (for SMTP's MAIL FROM and RCPT TO) and
// their header forms. An invalid recipient or id is the email's fault (permanent); an invalid sender
// is the configuration's (transient: it must be fixed, and no email should be marked failed meanwhile).
func (e Email) envelope() (from, to *mail.Address, err error) {
	if uuid.Validate(e.ID) != nil {
		return nil, nil, fmt.Errorf("email id %q is not a UUID", e.ID)
	}
	if from, err = mail.ParseAddress(e.From); err != nil {
		return nil, nil, messagestore.Transient(fmt.Errorf("sender %q: %w", e.From, err))
	}
	if to, err = mail.ParseAddress(e.To); err != nil {
		return nil, nil, fmt.Errorf("%w: recipient %q: %v", ErrInvalidAddress, e.To, err)
	}
	return from, to, nil
}

// Message renders the email as an RFC 5322 message: headers (From, To, Subject encoded per RFC 2047
// when it is not plain ASCII, Date, Message-ID, MIME-Version) and a multipart/alternative body with the
// text and the HTML part, each UTF-8 in quoted-printable. Lines end in CRLF. The output depends only
// on the email, never on the clock or chance.
func (e Email) Message() ([]byte, error) {
	from, to, err := e.envelope()
	if err != nil {
		return nil, err
	}
	date := e.Date
	if date.IsZero() {
		date = time.Now()
	}
	// "=_" cannot occur in quoted-printable text (a literal "=" is always encoded), so a boundary
	// containing it never collides with the body; deriving the rest from the content keeps the output
	// deterministic.
	sum := sha256.Sum256([]byte(e.ID + "\x00" + e.Text + "\x00" + e.HTML))
	boundary := "=_vt_" + hex.EncodeToString(sum[:12])

	var b bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&b, "%s: %s\r\n", name, value) }
	header("From", from.String())
	header("To", to.String())
	header("Subject", encodeHeader("Subject", e.Subject))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", "<"+e.ID+"@"+domain(from.Address)+">")
	header("MIME-Version", "1.0")
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": boundary}))
	b.WriteString("\r\n")

	mp := multipart.NewWriter(&b)
	if err := mp.SetBoundary(boundary); err != nil {
		return nil, err
	}
	parts := []struct{ contentType, body string }{{"text/plain", e.Text}}
	if e.HTML != "" {
		// Least preferred first, as multipart/alternative requires: the HTML part is the richest.
		parts = append(parts, struct{ contentType, body string }{"text/html", e.HTML})
	}
	for _, p := range parts {
		w, err := mp.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {mime.FormatMediaType(p.contentType, map[string]string{"charset": "utf-8"})},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(p.body)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// encodeHeader encodes the value of header name as RFC 2047 encoded words ("Q" encoding, UTF-8) when
// it is not plain printable ASCII — which also turns a CR or LF into harmless text: no header
// injection — folding between the words so that no line exceeds 78 characters. Words are built here
// rather than with mime.QEncoding, which leaves ASCII chunks unencoded and would change the spacing
// between the chunks of a folded value.
func encodeHeader(name, value string) string {
	if !needsEncoding(value) {
		return value
	}
	const prefix, suffix = "=?utf-8?q?", "?="
	var lines []string
	var word strings.Builder
	limit := 78 - len(name) - len(": ")
	for _, r := range value {
		var enc strings.Builder
		for _, b := range []byte(string(r)) {
			switch {
			case b == ' ':
				enc.WriteByte('_')
			case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', strings.IndexByte("!*+-/", b) >= 0:
				enc.WriteByte(b)
			default:
				fmt.Fprintf(&enc, "=%02X", b)
			}
		}
		if word.Len() > 0 && len(prefix)+word.Len()+enc.Len()+len(suffix) > limit {
			lines = append(lines, prefix+word.String()+suffix)
			word.Reset()
			limit = 78 - len(" ") // continuation lines start with the folding space
		}
		word.WriteString(enc.String())
	}
	lines = append(lines, prefix+word.String()+suffix)
	return strings.Join(lines, "\r\n ")
}

// needsEncoding reports whether a header value must be encoded: it has bytes outside printable ASCII,
// or something a decoder would take for an encoded word.
func needsEncoding(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return true
		}
	}
	return strings.Contains(s, "=?")
}

func domain(address string) string {
	if i := strings.LastIndexByte(address, '@'); i >= 0 && i < len(address)-1 {
		return address[i+1:]
	}
	return "localhost"
}

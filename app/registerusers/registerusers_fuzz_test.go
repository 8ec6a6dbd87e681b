package registerusers

import (
	"net/mail"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"videotutorials/app"
	"videotutorials/viewdata"
)

// The fuzz tests of the registration form's parsing. Plain `go test` runs the seeds; fuzz with
// `go test ./app/registerusers -fuzz FuzzRegistrationForm`.

func FuzzRegistrationForm(f *testing.F) {
	for _, seed := range []struct{ userID, email, password string }{
		{"6f1c2a9e-1b2c-4d5e-8f90-123456789abc", "ada@example.com", "correct horse"},
		{"6F1C2A9E-1B2C-4D5E-8F90-123456789ABC", "  Ada@Example.COM ", "12345678"},
		{"{6f1c2a9e-1b2c-4d5e-8f90-123456789abc}", "Ada <ada@example.com>", "short"},
		{"urn:uuid:6f1c2a9e-1b2c-4d5e-8f90-123456789abc", "ada@example.com\r\nBcc: eve@example.com", strings.Repeat("p", 73)},
		{"6f1c2a9e1b2c4d5e8f90123456789abc", "'; DROP TABLE user_credentials; --@example.com", "' OR '1'='1"},
		{"", "<script>alert(1)</script>@example.com", ""},
		{"6f1c2a9e-1b2c-4d5e-8f90-123456789ab\x00", "a@b", "\x00\x00\x00\x00\x00\x00\x00\x00"},
		{"../../etc/passwd", strings.Repeat("a", 250) + "@example.com", "pässwörd-ünïcödé"},
		{"6f1c2a9e-1b2c-4d5e-8f90-123456789abc", "a\xffb@example.com", "password1"},
		{"6f1c2a9e-1b2c-4d5e-8f90-123456789abc", "Jörg@Exämple.com", "password1"},
		{"6f1c2a9e-1b2c-4d5e-8f90-123456789abc", "a@-example.com", "password1"},
		{"6f1c2a9e-1b2c-4d5e-8f90-123456789abc", "a@[192.0.2.1]", "password1"},
		{"6f1c2a9e-1b2c-4d5e-8f90-123456789abc", "a@" + strings.Repeat("x", 64) + ".com", "password1"},
	} {
		f.Add(seed.userID, seed.email, seed.password)
	}
	f.Fuzz(func(t *testing.T, userID, email, password string) {
		if id, ok := app.ParseID(userID); ok {
			// One user, one stream: the id is canonical, and canonical ids parse to themselves.
			if len(id) != 36 || id != strings.ToLower(id) || uuid.Validate(id) != nil {
				t.Fatalf("app.ParseID(%q) = %q", userID, id)
			}
			if again, ok := app.ParseID(id); !ok || again != id {
				t.Fatalf("app.ParseID is not stable on %q", id)
			}
		}
		normalized, msg := validateEmail(email)
		if normalized != viewdata.NormalizeEmail(email) || viewdata.NormalizeEmail(normalized) != normalized {
			t.Fatalf("validateEmail(%q) normalised to %q", email, normalized)
		}
		if msg == "" {
			// An accepted email is one bare address, short enough, with nothing around it, typed as
			// valid UTF-8 without control characters, at a domain of two or more sound labels.
			addr, err := mail.ParseAddress(normalized)
			if err != nil || addr.Address != normalized || len(normalized) > MaxEmailBytes ||
				strings.ContainsAny(normalized, "\r\n<>") || !utf8.ValidString(email) ||
				strings.IndexFunc(normalized, unicode.IsControl) >= 0 {
				t.Fatalf("validateEmail accepted %q", email)
			}
			labels := strings.Split(normalized[strings.LastIndexByte(normalized, '@')+1:], ".")
			for _, l := range labels {
				if len(labels) < 2 || l == "" || len(l) > MaxLabelBytes || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
					t.Fatalf("validateEmail accepted %q: domain labels %q", email, labels)
				}
			}
		}
		if msg := validatePassword(password); (msg == "") != (len(password) >= MinPasswordBytes && len(password) <= MaxPasswordBytes) {
			t.Fatalf("validatePassword(%d bytes) = %q", len(password), msg)
		}
	})
}

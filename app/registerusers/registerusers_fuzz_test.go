package registerusers

import (
	"net/mail"
	"strings"
	"testing"

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
		normalized := viewdata.NormalizeEmail(email)
		if viewdata.NormalizeEmail(normalized) != normalized {
			t.Fatalf("NormalizeEmail is not idempotent on %q", email)
		}
		if validateEmail(normalized) == "" {
			// An accepted email is one bare address, short enough, with nothing around it.
			addr, err := mail.ParseAddress(normalized)
			if err != nil || addr.Address != normalized || len(normalized) > MaxEmailBytes ||
				strings.ContainsAny(normalized, "\r\n<>") {
				t.Fatalf("validateEmail accepted %q", normalized)
			}
		}
		if msg := validatePassword(password); (msg == "") != (len(password) >= MinPasswordBytes && len(password) <= MaxPasswordBytes) {
			t.Fatalf("validatePassword(%d bytes) = %q", len(password), msg)
		}
	})
}

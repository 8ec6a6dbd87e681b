package registerusers_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"videotutorials/app/apptest"
	"videotutorials/components/identity/identitymsg"
	"videotutorials/internal/testdb"
)

// An email with an invisible character (a zero-width space, a byte-order mark, a direction override)
// or a space that is not ASCII's (no-break, ideographic, line separator) inside it looks like another
// address, or like one with a space in it, wherever it is shown — the admin's users list, the header,
// the welcome email — and nobody can type it back at the log-in form. It is not a valid address.
func TestRegisterRefusesInvisibleAndOddSpacesInTheEmail(t *testing.T) {
	f := setup(t)
	errorText := regexp.MustCompile(`<p id="email-error" class="field__error">([^<]*)</p>`)
	for name, email := range map[string]string{
		"zero-width space as the local part": "\u200b@example.com",
		"zero-width space inside":            "ad\u200bmin@example.com",
		"zero-width space in the domain":     "admin@exa\u200bmple.com",
		"byte-order mark":                    "ab\ufeff@example.com",
		"right-to-left override":             "\u202eab@example.com",
		"left-to-right mark":                 "ab\u200e@example.com",
		"word joiner":                        "a\u2060b@example.com",
		"soft hyphen":                        "a\u00adb@example.com",
		"no-break space":                     "a\u00a0b@example.com",
		"ideographic space":                  "a\u3000b@example.com",
		"line separator":                     "a\u2028b@example.com",
		"paragraph separator":                "a\u2029b@example.com",
		"trailing zero-width space":          "ab@example.com\u200b",
	} {
		t.Run(name, func(t *testing.T) {
			userID := f.form(t)
			rec := f.register(userID, email, "password1")
			apptest.WantStatus(t, rec, http.StatusBadRequest)
			m := errorText.FindStringSubmatch(rec.Body.String())
			if m == nil || !strings.Contains(m[1], "Enter a valid email address") {
				t.Errorf("email error %q, want “Enter a valid email address”", m)
			}
			if n := len(testdb.ReadStream(t, f.store, identitymsg.CommandStreamName(userID))); n != 0 {
				t.Errorf("%d Register commands written for %q", n, email)
			}
		})
	}
}

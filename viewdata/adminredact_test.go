package viewdata

import (
	"strings"
	"testing"
)

// The admin pages and the print tool show message data as written: a name with <, > or & reads as
// typed, not as \u003c, \u003e or \u0026 (the page escapes it for HTML itself). Secrets stay hidden.
func TestRedactMessageJSONKeepsTheTextAsWritten(t *testing.T) {
	got := string(RedactMessageJSON("VideoNamed", []byte(`{"name":"<b>Tom & Jerry</b>","passwordHash":"$2a$10$abcdefghijklmnopqrstuv"}`)))
	want := "{\n  \"name\": \"<b>Tom & Jerry</b>\",\n  \"passwordHash\": \"[redacted]\"\n}"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := string(RedactMessageJSON("Send", []byte(`{"to":"a@b.example","text":"secret","html":"<p>secret</p>"}`))); strings.Contains(got, "secret") {
		t.Fatalf("an email body is shown: %s", got)
	}
	if got := string(RedactMessageJSON("X", []byte(`not json <`))); got != `"[redacted]"` {
		t.Fatalf("input that is not JSON: %s", got)
	}
}

package authenticate

import (
	"testing"

	"videotutorials/app"
)

// Fuzz test of the log-in form's next parameter (an open redirect if it were trusted). Plain
// `go test` runs the seeds; fuzz with `go test ./app/authenticate -fuzz FuzzSafeNext`.

func FuzzSafeNext(f *testing.F) {
	for _, seed := range []string{"/", "/creators-portal/", "//evil.example", "/\\evil.example", "https://evil.example/",
		"javascript:alert(1)", "/%2F%2Fevil.example", "/\t/evil.example", "/admin?x=<script>", "", "/\x00", "http:/x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, next string) {
		if got := safeNext(next); got != "" && !app.IsLocalPath(got) {
			t.Fatalf("safeNext(%q) = %q", next, got)
		}
	})
}

// Regression (reliability scenario 6): logging in with an email holding a NUL byte or invalid UTF-8
// answered 500, because PostgreSQL refused the credentials lookup. Such an email is unknown now (401,
// same answer and cost as any unknown email).
func TestStorableEmail(t *testing.T) {
	for _, bad := range []string{"a\x00@example.com", "line\r\nbreak\x00nul@example.com", "\xff@example.com"} {
		if storable(bad) {
			t.Errorf("%q looked up", bad)
		}
	}
	for _, ok := range []string{"ada@example.com", "' or '1'='1@example.com", "ünï@example.com"} {
		if !storable(ok) {
			t.Errorf("%q not looked up", ok)
		}
	}
}

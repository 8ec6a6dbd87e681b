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

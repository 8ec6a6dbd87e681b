package app_test

import (
	"testing"

	"videotutorials/app"
)

func TestParseIDAcceptsOnlyTheCanonicalFormAndLowerCasesIt(t *testing.T) {
	const id = "6f1c5a4e-3c6b-4c1f-9a55-2b8f1e7d0c11"
	for _, in := range []string{id, "6F1C5A4E-3C6B-4C1F-9A55-2B8F1E7D0C11"} {
		if got, ok := app.ParseID(in); !ok || got != id {
			t.Errorf("ParseID(%q) = %q, %v; want %q, true", in, got, ok, id)
		}
	}
	for _, in := range []string{"", "12345", "not-a-uuid", "6f1c5a4e3c6b4c1f9a552b8f1e7d0c11", "{" + id + "}",
		"urn:uuid:" + id, "6f1c5a4e-3c6b-4c1f-9a55-2b8f1e7d0c1z", " " + id[1:]} {
		if got, ok := app.ParseID(in); ok {
			t.Errorf("ParseID(%q) = %q, true; want rejected", in, got)
		}
	}
}

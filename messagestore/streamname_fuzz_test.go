package messagestore_test

import (
	"encoding/json"
	"strings"
	"testing"

	"videotutorials/messagestore"
)

// Fuzz tests of stream names and message decoding. Plain `go test` runs the seeds; fuzz with
// `go test ./messagestore -run '^$' -fuzz FuzzStreamName` (or FuzzDecode).

func FuzzStreamName(f *testing.F) {
	for _, seed := range [][2]string{
		{"identity", "6f1c2a9e-1b2c-4d5e-8f90-123456789abc"}, {"identity:command", "x"}, {"account", "123+position"},
		{"sendEmail", ""}, {"", "x"}, {"a-b", "c"}, {"subscriberPosition", "aggregators:admin-streams"},
		{"video Publishing", "'; DROP TABLE message_store.messages; --"}, {"ünï", "\x00"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, category, id string) {
		name := messagestore.StreamName(category, id)
		got, ok := messagestore.ID(name)
		if !messagestore.IsCategory(category) {
			// A category never holds '-': the first '-' separates it from the id.
			if messagestore.Category(name) == category {
				t.Fatalf("Category(%q) = %q although %q is not a category", name, category, category)
			}
			return
		}
		if messagestore.Category(name) != category || !ok || got != id {
			t.Fatalf("StreamName(%q, %q) = %q splits into %q, %q, %v", category, id, name, messagestore.Category(name), got, ok)
		}
		if cardinal, ok := messagestore.CardinalID(name); !ok || !strings.HasPrefix(id, cardinal) || strings.Contains(cardinal, "+") {
			t.Fatalf("CardinalID(%q) = %q, %v", name, cardinal, ok)
		}
		if messagestore.IsCategory(name) {
			t.Fatalf("IsCategory(%q) for a stream name", name)
		}
	})
}

func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"userId":"6f1c2a9e-1b2c-4d5e-8f90-123456789abc","email":"a@b.example","passwordHash":"x"}`,
		`null`, ``, `{}`, `[]`, `"text"`, `{"userId":1}`, `{"email":"\u0000<script>"}`, `{"position":"9223372036854775808"}`,
		`{"position":1,"transactionId":"18446744073709551615"}`, `{"position":-1,"transactionId":"x"}`, `{`, `{"a":{"b":{"c":[[[[[]]]]]}}}`,
	} {
		f.Add(seed)
	}
	type registered struct {
		UserID       string `json:"userId"`
		Email        string `json:"email"`
		PasswordHash string `json:"passwordHash"`
	}
	f.Fuzz(func(t *testing.T, data string) {
		m := messagestore.Message{ID: "id", StreamName: "identity-x", Type: "Registered", Data: json.RawMessage(data)}
		var r registered
		if err := m.Decode(&r); err == nil {
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("decoded %q into a value that does not encode: %v", data, err)
			}
		}
		var read messagestore.Read
		_ = m.Decode(&read)
		var md messagestore.Metadata
		_ = json.Unmarshal([]byte(data), &md)
	})
}

package viewdata

import (
	"bytes"
	"encoding/json"
)

// Redacted replaces every secret value the admin portal and the tools must never show.
const Redacted = "[redacted]"

// emailBodyTypes are the message types whose text and html are email bodies (sendEmail's Send,
// Sent and Failed).
var emailBodyTypes = map[string]bool{"Send": true, "Sent": true, "Failed": true}

// RedactMessageJSON returns raw (a message's data or metadata, JSON) with every passwordHash, at any
// depth, replaced by Redacted, and for the email messages (Send, Sent, Failed) also text and html.
// Input that is not JSON is replaced as a whole: it cannot be checked, so it is not shown.
func RedactMessageJSON(typ string, raw []byte) []byte {
	if len(bytes.TrimSpace(raw)) == 0 {
		return raw
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		b, _ := json.Marshal(Redacted)
		return b
	}
	v = redact(v, emailBodyTypes[typ])
	// Shown as text (templ escapes it for the page; the print tool writes it to a terminal), so <, >
	// and & stay as they were written instead of json.Marshal's \u003c, \u003e and \u0026.
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		b, _ := json.Marshal(Redacted)
		return b
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n"))
}

func redact(v any, email bool) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if k == "passwordHash" || k == "password_hash" || k == "password" || (email && (k == "text" || k == "html")) {
				t[k] = Redacted
				continue
			}
			t[k] = redact(x, email)
		}
		return t
	case []any:
		for i, x := range t {
			t[i] = redact(x, email)
		}
		return t
	case string:
		if bcryptLike(t) {
			return Redacted
		}
	}
	return v
}

// bcryptLike catches a password hash stored under an unexpected key.
func bcryptLike(s string) bool {
	return len(s) > 4 && s[0] == '$' && s[1] == '2' && (s[2] == 'a' || s[2] == 'b' || s[2] == 'y') && s[3] == '$'
}

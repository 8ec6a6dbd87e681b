package messagestore

import "github.com/google/uuid"

// CanonicalUUID returns s as a UUID in its canonical form (lower case, hyphenated), and whether s is
// a UUID at all. Ids in stream names and message data come from any Message DB client, which may spell
// a UUID in any of the forms github.com/google/uuid accepts: upper case, in braces, without hyphens or
// as "urn:uuid:…". PostgreSQL's uuid type refuses the last, and a view keyed by a uuid column holds
// the other spellings in one row, so whoever keys a view or a map by an id from a message uses this
// form.
func CanonicalUUID(s string) (string, bool) {
	u, err := uuid.Parse(s)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

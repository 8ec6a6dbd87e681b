package messagestore

import "strings"

// The stream-name grammar of Message DB: the category is everything before the first '-', the id
// everything after it, and the cardinal id the id up to the first '+'. ':' has no special meaning, so
// "identity:command-1" belongs to the category "identity:command".

// StreamName joins a category and an id.
func StreamName(category, id string) string { return category + "-" + id }

// Category returns the category of a stream name.
func Category(streamName string) string {
	if i := strings.IndexByte(streamName, '-'); i >= 0 {
		return streamName[:i]
	}
	return streamName
}

// ID returns the id part of a stream name and whether there is one.
func ID(streamName string) (string, bool) {
	if i := strings.IndexByte(streamName, '-'); i >= 0 {
		return streamName[i+1:], true
	}
	return "", false
}

// CardinalID returns the id up to the first '+' and whether there is an id.
func CardinalID(streamName string) (string, bool) {
	id, ok := ID(streamName)
	if !ok {
		return "", false
	}
	if i := strings.IndexByte(id, '+'); i >= 0 {
		return id[:i], true
	}
	return id, true
}

// IsCategory reports whether name is a category (has no '-').
func IsCategory(name string) bool { return !strings.Contains(name, "-") }

// CommandCategory is the inbox of an entity: "<entity>:command".
func CommandCategory(entity string) string { return entity + ":command" }

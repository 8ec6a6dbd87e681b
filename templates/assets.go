package templates

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"path"
	"strings"
)

//go:embed static
var staticFiles embed.FS

// fingerprintLen is the number of hex digits of the content hash put into
// asset names: enough to make collisions between two versions of one file
// practically impossible, short enough to keep URLs readable.
const fingerprintLen = 12

// StaticAsset is one embedded static file.
type StaticAsset struct {
	// Name is the logical file name relative to static/, e.g. "app.css".
	Name string
	// Body is the file content.
	Body []byte
	// Hash is the content fingerprint (hex), also usable as an ETag.
	Hash string
}

// assets indexes the embedded files by logical name. It is computed once at
// start-up: the files are part of the binary, so their hashes never change
// while the process runs.
var assets = mustIndexAssets()

func mustIndexAssets() map[string]StaticAsset {
	index := map[string]StaticAsset{}
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		name := strings.TrimPrefix(p, "static/")
		index[name] = StaticAsset{Name: name, Body: body, Hash: hex.EncodeToString(sum[:])[:fingerprintLen]}
		return nil
	})
	if err != nil {
		// The files are embedded at compile time; failing to read them is a
		// build defect, not a runtime condition.
		panic("templates: indexing embedded static files: " + err.Error())
	}
	return index
}

// AssetPath returns the URL of a static file with its content fingerprint in
// the name ("app.css" → "/static/app.3f2a1c9d0b7e.css"), so the server can
// tell browsers to cache it forever. An unknown name is returned unversioned;
// it will 404, which the tests of the page using it will notice.
func AssetPath(name string) string {
	a, ok := assets[name]
	if !ok {
		return "/static/" + name
	}
	ext := path.Ext(name)
	return "/static/" + strings.TrimSuffix(name, ext) + "." + a.Hash + ext
}

// LookupAsset resolves a requested name (the part after /static/) to an
// embedded file. fingerprinted is true when the request named the current
// content hash, i.e. the response may be cached as immutable. A name without
// a fingerprint, or with a stale one, still resolves (a page cached by a
// browser across a deploy keeps working) but must be revalidated.
func LookupAsset(requested string) (asset StaticAsset, fingerprinted, ok bool) {
	if a, found := assets[requested]; found {
		return a, false, true
	}
	// "dir/name.<hash>.ext" → "dir/name.ext"
	ext := path.Ext(requested)
	stem := strings.TrimSuffix(requested, ext)
	dot := strings.LastIndexByte(stem, '.')
	if dot < 0 {
		return StaticAsset{}, false, false
	}
	hash := stem[dot+1:]
	if len(hash) != fingerprintLen || !isHex(hash) {
		return StaticAsset{}, false, false
	}
	a, found := assets[stem[:dot]+ext]
	if !found {
		return StaticAsset{}, false, false
	}
	return a, a.Hash == hash, true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

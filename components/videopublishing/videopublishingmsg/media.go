package videopublishingmsg

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// MediaURIScheme prefixes every media URI: "file:" and a slash-separated path relative to the media
// directory (see the video-publishing package doc).
const MediaURIScheme = "file:"

// Media sub-directories.
const (
	UploadsDir = "uploads"
	VideosDir  = "videos"
	PostersDir = "posters"
)

// MediaURI returns the URI of a file under the media directory, rel being slash-separated.
func MediaURI(rel string) string { return MediaURIScheme + rel }

// TranscodedURI and PosterURI are where the component puts a video's outputs.
func TranscodedURI(videoID string) string { return MediaURI(VideosDir + "/" + videoID + ".mp4") }

// PosterURI is the URI of a video's poster.
func PosterURI(videoID string) string { return MediaURI(PostersDir + "/" + videoID + ".jpg") }

// ErrBadMediaURI says a URI does not name a file inside the media directory.
var ErrBadMediaURI = errors.New("not a media URI inside the media directory")

// ResolveMediaURI returns the file path of uri under mediaDir. It refuses URIs of another scheme,
// absolute paths, paths with "..", backslashes or NUL bytes: whatever the URI says, the result is
// inside mediaDir.
func ResolveMediaURI(mediaDir, uri string) (string, error) {
	rel, ok := strings.CutPrefix(uri, MediaURIScheme)
	if !ok || rel == "" || strings.ContainsAny(rel, "\\\x00") || path.Clean(rel) != rel {
		return "", fmt.Errorf("%q: %w", uri, ErrBadMediaURI)
	}
	local := filepath.FromSlash(rel)
	if !filepath.IsLocal(local) {
		return "", fmt.Errorf("%q: %w", uri, ErrBadMediaURI)
	}
	return filepath.Join(mediaDir, local), nil
}

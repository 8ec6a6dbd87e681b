package creatorsportal

import (
	"os"
	"path/filepath"
	"testing"
)

// Fuzz test of the upload's type sniffing: any first bytes of a file give a known extension or a
// refusal, never a panic. Plain `go test` runs the seeds; fuzz with
// `go test ./app/creatorsportal -fuzz FuzzSniffVideo`.

func FuzzSniffVideo(f *testing.F) {
	if clip, err := os.ReadFile(filepath.Join("..", "..", "testdata", "clip.webm")); err == nil {
		f.Add(clip[:min(len(clip), 512)])
	}
	for _, seed := range [][]byte{
		nil, {0x1a, 0x45, 0xdf, 0xa3}, []byte("\x00\x00\x00\x18ftypqt  "), []byte("\x00\x00\x00\x18ftyp3gp5"),
		[]byte("\x00\x00\x00\x18ftypavif"), []byte("OggS\x00\x02\x80theora"), []byte("OggS vorbis"),
		[]byte("RIFF\x00\x00\x00\x00AVI "), []byte("RIFF\x00\x00\x00\x00WAVE"), []byte("<html><script>alert(1)</script>"),
		[]byte("\x00\x00\x00"), []byte("ftyp"),
	} {
		f.Add(seed)
	}
	known := map[string]bool{".mp4": true, ".mov": true, ".3gp": true, ".webm": true, ".mkv": true, ".ogv": true, ".avi": true}
	f.Fuzz(func(t *testing.T, head []byte) {
		ext, ok := sniffVideo(head)
		if ok != (ext != "") || (ok && !known[ext]) {
			t.Fatalf("sniffVideo = %q, %v", ext, ok)
		}
	})
}

// Regression (reliability scenario 6): a name or description with a NUL byte made the portal answer
// 500, because jsonb cannot hold \u0000 and writing the command failed. It is a 400 now.
func TestStorableTextRefusesNUL(t *testing.T) {
	if err := storableText("name", "line\x00break"); err == nil {
		t.Fatal("a NUL byte was accepted")
	}
	// Not UTF-8: JSON would carry it as U+FFFD (TestNameOrDescriptionThatIsNotUTF8IsRefused).
	if err := storableText("name", "\xff\xfe"); err == nil {
		t.Fatal("bytes that are not UTF-8 were accepted")
	}
	for _, ok := range []string{"", "Learning Go", "<script>alert(1)</script>", "line\r\nbreak", "\u00e9\U0001F600"} {
		if err := storableText("name", ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
}

package videopublishing

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/components/videopublishing/videopublishingmsg"
)

// A process killed while ffmpeg runs leaves that ffmpeg behind (nothing ends it), still writing its
// temporary output; the restarted process, or a peer that took the transcoder's lease over from a
// frozen one, transcodes the same upload again. The second transcode must publish its own complete
// output, never a file the first one is still writing into.
func TestATranscodeIsNotCorruptedByAnEarlierOneStillWriting(t *testing.T) {
	webm := clip(t)
	dir := t.TempDir()
	source, video, poster := filepath.Join(dir, "in.webm"), filepath.Join(dir, "v.mp4"), filepath.Join(dir, "p.jpg")
	if err := os.WriteFile(source, webm, 0o644); err != nil {
		t.Fatal(err)
	}
	marker := []byte("LEFTOVER-TRANSCODE!")
	// The earlier transcode: it writes where an earlier attempt at this video writes.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, tmp := range []string{video + ".part", poster + ".part"} {
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer f.Close()
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
					_, _ = f.Write(marker)
				}
			}
		}()
	}
	out, err := (&FFmpeg{Path: "ffmpeg"}).Transcode(ctx, source, video, poster)
	close(stop)
	wg.Wait()
	if err != nil || !out.Video {
		t.Fatalf("transcode: %+v, %v", out, err)
	}
	for _, p := range []string{video, poster} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Error(err)
			continue
		}
		if bytes.Contains(b, marker) {
			t.Errorf("%s holds what another transcode wrote", filepath.Base(p))
		}
	}
}

// What transcodes of a video left behind when their process was killed (their temporary files) is
// cleared when the video is transcoded again, so that the media directory does not fill up with them.
func TestATranscodeClearsWhatKilledTranscodesOfItsVideoLeft(t *testing.T) {
	f := newFixture(t, &fakeTranscoder{})
	owner, videoID := uuid.NewString(), uuid.NewString()
	uri := f.upload(t, videoID, ".webm", []byte("\x1a\x45\xdf\xa3 webm bytes"))
	var leftovers []string
	for _, u := range []string{videopublishingmsg.TranscodedURI(videoID), videopublishingmsg.PosterURI(videoID)} {
		p, err := videopublishingmsg.ResolveMediaURI(f.mediaDir, u)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		ext := filepath.Ext(p)
		leftovers = append(leftovers, p+".part", strings.TrimSuffix(p, ext)+".ABCDEFGHIJKL"+ext+".part")
	}
	other := filepath.Join(filepath.Dir(leftovers[0]), uuid.NewString()+".ABCDEFGHIJKL.mp4.part") // another video's
	for _, p := range append(leftovers, other) {
		if err := os.WriteFile(p, []byte("half a video"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.c.HandlePublishVideo(ctx, f.command(t, videoID, owner,
		videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: uri, VideoID: videoID})); err != nil {
		t.Fatal(err)
	}
	for _, p := range leftovers {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left behind", filepath.Base(p))
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another video's temporary file was removed: %v", err)
	}
}

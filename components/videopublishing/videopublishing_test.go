package videopublishing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

func TestContract(t *testing.T) {
	if err := Contract.Validate(); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, KeepAsUploaded{})
	subs := f.c.Subscriptions()
	if len(subs) != 2 || len(Contract.Subscribes) != 2 {
		t.Fatalf("%d subscriptions, contract lists %d", len(subs), len(Contract.Subscribes))
	}
	// The inbox keeps the book's subscriber id (persisted state) for the renames; PublishVideo has a
	// subscription of its own, so that no rename waits for a transcode.
	want := []struct {
		id    string
		types []string
	}{
		{"video-publishing", []string{"DescribeVideo", "NameVideo"}},
		{"video-publishing:transcoder", []string{"PublishVideo"}},
	}
	for i, w := range want {
		sc, cfg := Contract.Subscribes[i], subs[i]
		if sc.SubscriberID != w.id || cfg.SubscriberID != sc.SubscriberID ||
			sc.Category != "videoPublishing:command" || cfg.Category != sc.Category {
			t.Errorf("contract %+v, config %s on %s", sc, cfg.SubscriberID, cfg.Category)
		}
		var handled []string
		for typ := range cfg.Handlers {
			handled = append(handled, typ)
		}
		slices.Sort(handled)
		if !slices.Equal(handled, w.types) || !slices.Equal(slices.Sorted(slices.Values(sc.Types)), w.types) {
			t.Errorf("%s handles %v, contract %v", w.id, handled, sc.Types)
		}
	}
	if !Contract.MayWrite("videoPublishing-" + uuid.NewString()) {
		t.Errorf("may not write its own category")
	}
}

// subscription returns the component's subscription of id.
func (f *fixture) subscription(t testing.TB, id string) messagestore.SubscriptionConfig {
	t.Helper()
	for _, cfg := range f.c.Subscriptions() {
		if cfg.SubscriberID == id {
			return cfg
		}
	}
	t.Fatalf("no subscription %s", id)
	return messagestore.SubscriptionConfig{}
}

// published publishes a video of owner (without transcoding) and returns its id.
func (f *fixture) published(t *testing.T, owner string) string {
	t.Helper()
	videoID := uuid.NewString()
	uri := f.upload(t, videoID, ".webm", []byte("\x1a\x45\xdf\xa3 webm bytes"))
	if err := f.c.HandlePublishVideo(ctx, f.command(t, videoID, owner,
		videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: uri, VideoID: videoID})); err != nil {
		t.Fatal(err)
	}
	if got := testdb.Types(f.events(t, videoID)); !slices.Equal(got, []string{"VideoPublished"}) {
		t.Fatalf("video stream %v", got)
	}
	return videoID
}

func TestPublishVideoOnceWithoutTranscoding(t *testing.T) {
	f := newFixture(t, KeepAsUploaded{})
	owner, videoID := uuid.NewString(), uuid.NewString()
	uri := f.upload(t, videoID, ".webm", []byte("\x1a\x45\xdf\xa3 webm bytes"))
	cmd := f.command(t, videoID, owner, videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: uri, VideoID: videoID})
	for range 2 {
		if err := f.c.HandlePublishVideo(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	// A second PublishVideo for the same video (a resubmitted form, a replay) is ignored too.
	again := f.command(t, videoID, owner, videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: uri, VideoID: videoID})
	if err := f.c.HandlePublishVideo(ctx, again); err != nil {
		t.Fatal(err)
	}
	msgs := f.events(t, videoID)
	if !slices.Equal(testdb.Types(msgs), []string{"VideoPublished"}) {
		t.Fatalf("video stream %v", testdb.Types(msgs))
	}
	e := decode[videopublishingmsg.VideoPublished](t, msgs[0])
	want := videopublishingmsg.VideoPublished{OwnerID: owner, SourceURI: uri, TranscodedURI: uri, VideoID: videoID}
	if e != want {
		t.Errorf("VideoPublished %+v, want %+v", e, want)
	}
	md := msgs[0].Metadata
	if md.TraceID != cmd.Metadata.TraceID || md.UserID != owner || md.CausationMessageID != cmd.ID ||
		md.CausationMessageGlobalPosition == nil || *md.CausationMessageGlobalPosition != cmd.GlobalPosition {
		t.Errorf("metadata does not follow from the command: %+v", md)
	}
}

// fakeTranscoder returns the errors in fail, one per call, then succeeds writing small files.
type fakeTranscoder struct {
	calls atomic.Int32
	fail  []error
}

func (ft *fakeTranscoder) Transcode(_ context.Context, source, video, poster string) (Outputs, error) {
	n := int(ft.calls.Add(1))
	if n <= len(ft.fail) {
		return Outputs{}, ft.fail[n-1]
	}
	if err := os.WriteFile(video, []byte("mp4"), 0o644); err != nil {
		return Outputs{}, err
	}
	if err := os.WriteFile(poster, []byte("jpg"), 0o644); err != nil {
		return Outputs{}, err
	}
	return Outputs{Video: true, Poster: true}, nil
}

func TestPublishVideoUsesTheTranscodersOutputs(t *testing.T) {
	f := newFixture(t, &fakeTranscoder{})
	owner, videoID := uuid.NewString(), uuid.NewString()
	uri := f.upload(t, videoID, ".mov", []byte("....ftypqt  "))
	if err := f.c.HandlePublishVideo(ctx, f.command(t, videoID, owner,
		videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: uri, VideoID: videoID})); err != nil {
		t.Fatal(err)
	}
	msgs := f.events(t, videoID)
	if len(msgs) != 1 {
		t.Fatalf("video stream %v", testdb.Types(msgs))
	}
	e := decode[videopublishingmsg.VideoPublished](t, msgs[0])
	if e.TranscodedURI != "file:videos/"+videoID+".mp4" || e.PosterURI != "file:posters/"+videoID+".jpg" || e.SourceURI != uri {
		t.Errorf("VideoPublished %+v", e)
	}
	for _, u := range []string{e.TranscodedURI, e.PosterURI} {
		p, _ := videopublishingmsg.ResolveMediaURI(f.mediaDir, u)
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestPublishVideoFailures(t *testing.T) {
	f := newFixture(t, &fakeTranscoder{fail: []error{&RejectedError{Reason: "The file could not be transcoded: moov atom not found"}}})
	owner := uuid.NewString()
	rejected := uuid.NewString()
	cases := []struct {
		name, videoID, reason string
		cmd                   func(id string) any
	}{
		{"transcoder rejects the input", rejected, "The file could not be transcoded: moov atom not found", func(id string) any {
			return videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: f.upload(t, id, ".mp4", []byte("junk")), VideoID: id}
		}},
		{"missing upload", uuid.NewString(), ReasonSourceMissing, func(id string) any {
			return videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: "file:uploads/" + id + ".mp4", VideoID: id}
		}},
		{"source outside the media directory", uuid.NewString(), ReasonInvalidSource, func(id string) any {
			return videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: "file:../../etc/passwd", VideoID: id}
		}},
		{"another video's id", uuid.NewString(), ReasonWrongVideoID, func(id string) any {
			return videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: "file:uploads/x.mp4", VideoID: uuid.NewString()}
		}},
		{"no owner", uuid.NewString(), ReasonInvalidOwner, func(id string) any {
			return videopublishingmsg.PublishVideo{SourceURI: "file:uploads/x.mp4", VideoID: id}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := f.command(t, tc.videoID, owner, tc.cmd(tc.videoID))
			for range 2 {
				if err := f.c.HandlePublishVideo(ctx, cmd); err != nil {
					t.Fatal(err)
				}
			}
			msgs := f.events(t, tc.videoID)
			if !slices.Equal(testdb.Types(msgs), []string{"VideoPublishingFailed"}) {
				t.Fatalf("video stream %v", testdb.Types(msgs))
			}
			if e := decode[videopublishingmsg.VideoPublishingFailed](t, msgs[0]); e.Reason != tc.reason || e.VideoID != tc.videoID {
				t.Errorf("VideoPublishingFailed %+v, want reason %q", e, tc.reason)
			}
		})
	}
}

func TestTransientErrorsAreRetriedNotFailed(t *testing.T) {
	diskFull := &os.PathError{Op: "write", Path: "/media/videos/x.mp4.part", Err: syscall.ENOSPC}
	ft := &fakeTranscoder{fail: []error{diskFull, fmt.Errorf("ffmpeg: %w", syscall.EACCES)}}
	f := newFixture(t, ft)
	owner, videoID := uuid.NewString(), uuid.NewString()
	uri := f.upload(t, videoID, ".mp4", []byte("....ftypisom"))

	// Handled directly: a transient error, and nothing written.
	cmd := f.command(t, videoID, owner, videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: uri, VideoID: videoID})
	err := f.c.HandlePublishVideo(ctx, cmd)
	if err == nil || !messagestore.IsTransient(err) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("disk full: %v (transient %v)", err, messagestore.IsTransient(err))
	}
	if n := len(f.events(t, videoID)); n != 0 {
		t.Fatalf("%d events after a transient error", n)
	}

	// Through a subscription: retried until the disk has room, then published once. (A subscription
	// starts at the head, so the command is written again after it started.)
	sub := testdb.RunAtHead(t, f.s, f.subscription(t, TranscoderSubscriberID), func(m messagestore.Message) bool {
		return m.StreamName == videopublishingmsg.CommandStreamName(videoID)
	})
	again := f.command(t, videoID, owner, videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: uri, VideoID: videoID})
	testdb.Eventually(t, 10*time.Second, "the video published after the retries", func() bool {
		return len(f.events(t, videoID)) > 0
	})
	testdb.Eventually(t, 5*time.Second, "the subscription past the command", func() bool {
		return sub.Status().Position >= again.GlobalPosition
	})
	if got := testdb.Types(f.events(t, videoID)); !slices.Equal(got, []string{"VideoPublished"}) {
		t.Fatalf("video stream %v", got)
	}
	if st := sub.Status(); st.State == messagestore.StateParked || st.Failed != 1 {
		t.Errorf("subscription %+v: want one retried failure, not parked", st)
	}
}

func TestFFmpegFailuresAreClassified(t *testing.T) {
	// A stand-in ffmpeg that says what the real one says when the disk is full, or when the input is
	// not a video: the first is retried, the second is a verdict about the upload.
	dir := t.TempDir()
	script := func(name, stderr string, code int) string {
		p := filepath.Join(dir, name)
		body := fmt.Sprintf("#!/bin/sh\necho %q >&2\nexit %d\n", stderr, code)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	src, out := filepath.Join(dir, "in.mp4"), filepath.Join(dir, "out.mp4")
	full := &FFmpeg{Path: script("full", out+".part: No space left on device", 1)}
	_, err := full.Transcode(ctx, src, out, filepath.Join(dir, "p.jpg"))
	var rejected *RejectedError
	if err == nil || errors.As(err, &rejected) {
		t.Errorf("disk full: %v, want a transient error", err)
	}
	bad := &FFmpeg{Path: script("bad", src+": Invalid data found when processing input", 1)}
	_, err = bad.Transcode(ctx, src, out, filepath.Join(dir, "p.jpg"))
	if !errors.As(err, &rejected) || rejected.Reason != "The file could not be transcoded: input: Invalid data found when processing input" {
		t.Errorf("bad input: %v", err)
	}
	slow := &FFmpeg{Path: script("slow", "", 0), Timeout: 50 * time.Millisecond}
	if err := os.WriteFile(slow.Path, []byte("#!/bin/sh\nexec sleep 5\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = slow.Transcode(ctx, src, out, filepath.Join(dir, "p.jpg"))
	if !errors.As(err, &rejected) || !strings.Contains(rejected.Reason, "longer than") || time.Since(start) > 4*time.Second {
		t.Errorf("timeout: %v after %s", err, time.Since(start))
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err = slow.Transcode(cancelled, src, out, filepath.Join(dir, "p.jpg")); !errors.Is(err, context.Canceled) {
		t.Errorf("shutdown: %v", err)
	}
	missing := &FFmpeg{Path: filepath.Join(dir, "no-such-ffmpeg")}
	if _, err = missing.Transcode(ctx, src, out, filepath.Join(dir, "p.jpg")); err == nil || errors.As(err, &rejected) {
		t.Errorf("ffmpeg missing: %v, want a transient error", err)
	}
}

// TestFFmpegThatExitsZeroOnAFullDiskIsRetried: ffmpeg (checked with 5.1 and 6.1) answers a disk that
// fills up while it writes the MP4's trailer with exit status 0. What it leaves is a truncated file
// without its index (no moov atom), which no browser plays; only its error output tells. Published,
// that file would be the video for good (PublishVideo is handled at most once per video).
func TestFFmpegThatExitsZeroOnAFullDiskIsRetried(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "ffmpeg")
	// As the real one: the output so far, the two error lines, status 0.
	script := `#!/bin/sh
for a; do out=$a; done
head -c 4096 /dev/zero > "$out"
echo "Error writing trailer of $out: No space left on device" >&2
echo "Error closing file $out: No space left on device" >&2
exit 0
`
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	src, video, poster := filepath.Join(dir, "in.webm"), filepath.Join(dir, "out.mp4"), filepath.Join(dir, "p.jpg")
	out, err := (&FFmpeg{Path: fake}).Transcode(ctx, src, video, poster)
	var rejected *RejectedError
	if err == nil || errors.As(err, &rejected) {
		t.Fatalf("disk full, ffmpeg exit status 0: %+v, %v; want a transient error", out, err)
	}
	if _, statErr := os.Stat(video); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("the truncated video was kept under its final name (%v)", statErr)
	}

	// Through the component: nothing is published, and the error is retried, not a failed video.
	f := newFixture(t, &FFmpeg{Path: fake})
	owner, videoID := uuid.NewString(), uuid.NewString()
	uri := f.upload(t, videoID, ".webm", []byte("\x1a\x45\xdf\xa3webm"))
	cmd := f.command(t, videoID, owner, videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: uri, VideoID: videoID})
	if err := f.c.HandlePublishVideo(ctx, cmd); !messagestore.IsTransient(err) {
		t.Fatalf("HandlePublishVideo: %v, want a transient error", err)
	}
	if got := testdb.Types(f.events(t, videoID)); len(got) != 0 {
		t.Fatalf("video stream %v after a transcode that ran out of space", got)
	}
}

// clip makes a two-second test video with ffmpeg, or skips the test without it.
func clip(t *testing.T) []byte {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg is not installed")
	}
	out := filepath.Join(t.TempDir(), "clip.webm")
	cmd := exec.Command(ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc=duration=2:size=160x120:rate=10",
		"-f", "lavfi", "-i", "sine=duration=2", "-shortest", "-c:v", "libvpx", "-c:a", "libvorbis", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make a clip: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPublishVideoTranscodesWithFFmpeg(t *testing.T) {
	webm := clip(t)
	f := newFixture(t, nil) // the default: ffmpeg from PATH
	if _, ok := f.c.transcoder.(*FFmpeg); !ok {
		t.Fatalf("default transcoder %T with ffmpeg on PATH", f.c.transcoder)
	}
	owner, videoID := uuid.NewString(), uuid.NewString()
	uri := f.upload(t, videoID, ".webm", webm)
	if err := f.c.HandlePublishVideo(ctx, f.command(t, videoID, owner,
		videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: uri, VideoID: videoID})); err != nil {
		t.Fatal(err)
	}
	msgs := f.events(t, videoID)
	if !slices.Equal(testdb.Types(msgs), []string{"VideoPublished"}) {
		t.Fatalf("video stream %v", testdb.Types(msgs))
	}
	e := decode[videopublishingmsg.VideoPublished](t, msgs[0])
	if e.TranscodedURI != videopublishingmsg.TranscodedURI(videoID) || e.PosterURI != videopublishingmsg.PosterURI(videoID) {
		t.Fatalf("VideoPublished %+v", e)
	}
	mp4, _ := videopublishingmsg.ResolveMediaURI(f.mediaDir, e.TranscodedURI)
	b, err := os.ReadFile(mp4)
	if err != nil {
		t.Fatal(err)
	}
	// An MP4 whose index (moov) comes before the media data (mdat): +faststart.
	moov, mdat := bytes.Index(b, []byte("moov")), bytes.Index(b, []byte("mdat"))
	if string(b[4:8]) != "ftyp" || moov < 0 || mdat < 0 || moov > mdat {
		t.Errorf("not a faststart MP4: ftyp %q, moov at %d, mdat at %d", b[4:8], moov, mdat)
	}
	probe, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", mp4).Output()
	if err == nil && (!strings.Contains(string(probe), "h264") || !strings.Contains(string(probe), "aac")) {
		t.Errorf("codecs %q, want h264 and aac", probe)
	}
	poster, _ := videopublishingmsg.ResolveMediaURI(f.mediaDir, e.PosterURI)
	if p, err := os.ReadFile(poster); err != nil || !bytes.HasPrefix(p, []byte{0xff, 0xd8, 0xff}) {
		t.Errorf("poster is not a JPEG (%v)", err)
	}
	// Temporary files have names of their own (partName): none of them may be left behind.
	for _, dir := range []string{filepath.Dir(mp4), filepath.Dir(poster)} {
		if leftovers, _ := filepath.Glob(filepath.Join(dir, "*.part")); len(leftovers) > 0 {
			t.Errorf("left behind: %v", leftovers)
		}
	}
}

func TestPublishVideoFailsOnInputFFmpegCannotRead(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg is not installed")
	}
	f := newFixture(t, nil)
	owner, videoID := uuid.NewString(), uuid.NewString()
	// It starts like an MP4 (so it passed the portal's sniffing) but is not one.
	uri := f.upload(t, videoID, ".mp4", append([]byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"), bytes.Repeat([]byte("junk"), 500)...))
	if err := f.c.HandlePublishVideo(ctx, f.command(t, videoID, owner,
		videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: uri, VideoID: videoID})); err != nil {
		t.Fatal(err)
	}
	msgs := f.events(t, videoID)
	if !slices.Equal(testdb.Types(msgs), []string{"VideoPublishingFailed"}) {
		t.Fatalf("video stream %v", testdb.Types(msgs))
	}
	e := decode[videopublishingmsg.VideoPublishingFailed](t, msgs[0])
	if !strings.HasPrefix(e.Reason, "The file could not be transcoded") || strings.Contains(e.Reason, f.mediaDir) {
		t.Errorf("reason %q", e.Reason)
	}
}

func TestTwoQueuedRenamesAreBothAnswered(t *testing.T) {
	f := newFixture(t, KeepAsUploaded{})
	owner := uuid.NewString()
	videoID := f.published(t, owner)
	// Both commands are in the inbox before either is handled (the book dropped the second).
	first := f.command(t, videoID, owner, videopublishingmsg.NameVideo{Name: "  First name ", VideoID: videoID})
	second := f.command(t, videoID, owner, videopublishingmsg.NameVideo{Name: "Second name", VideoID: videoID})
	for range 2 { // and each handled twice
		for _, cmd := range []messagestore.Message{first, second} {
			if err := f.c.HandleNameVideo(ctx, cmd); err != nil {
				t.Fatal(err)
			}
		}
	}
	msgs := f.events(t, videoID)
	if !slices.Equal(testdb.Types(msgs), []string{"VideoPublished", "VideoNamed", "VideoNamed"}) {
		t.Fatalf("video stream %v", testdb.Types(msgs))
	}
	if e := decode[videopublishingmsg.VideoNamed](t, msgs[1]); e.Name != "First name" || e.VideoID != videoID {
		t.Errorf("first VideoNamed %+v", e)
	}
	if msgs[1].Metadata.TraceID != first.Metadata.TraceID || msgs[2].Metadata.TraceID != second.Metadata.TraceID {
		t.Errorf("outcomes do not carry their commands' traces")
	}
	v, _, err := f.c.fetchVideo(ctx, videoID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "Second name" || v.LastCommandPosition != second.GlobalPosition {
		t.Errorf("entity %+v: the later name must win", v)
	}
	// An older command delivered late (a replay from before) changes nothing.
	if err := f.c.HandleNameVideo(ctx, first); err != nil {
		t.Fatal(err)
	}
	if n := len(f.events(t, videoID)); n != 3 {
		t.Errorf("replay wrote: %d events", n)
	}
}

func TestNameVideoRejections(t *testing.T) {
	f := newFixture(t, KeepAsUploaded{})
	owner := uuid.NewString()
	videoID := f.published(t, owner)
	failedID := uuid.NewString()
	if err := f.c.HandlePublishVideo(ctx, f.command(t, failedID, owner, videopublishingmsg.PublishVideo{
		OwnerID: owner, SourceURI: "file:uploads/" + failedID + ".mp4", VideoID: failedID})); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", videopublishingmsg.MaxNameLength+1)
	cases := []struct {
		name, videoID, user, newName, reason string
	}{
		{"not the owner", videoID, uuid.NewString(), "Mine now", ReasonNotOwner},
		{"anonymous", videoID, "", "Mine now", ReasonNotOwner},
		{"blank", videoID, owner, " \t\n ", ReasonNameBlank},
		{"only zero-width and joining characters", videoID, owner, "\u200b \u200b\u2060\ufeff\u200d", ReasonNameBlank},
		{"only fillers and combining marks", videoID, owner, "\u3164\u0301\ufe0f", ReasonNameBlank},
		{"over the limit", videoID, owner, long, ReasonNameTooLong},
		{"two lines", videoID, owner, "one\ntwo", ReasonNameNotText},
		{"control characters", videoID, owner, "bell\a", ReasonNameNotText},
		{"a right-to-left override", videoID, owner, "Intro \u202eto Go", ReasonDirectionControls},
		{"a first-strong isolate", videoID, owner, "Intro \u2068to Go", ReasonDirectionControls},
		{"unknown video", uuid.NewString(), owner, "Name", ReasonNoSuchVideo},
		{"failed video", failedID, owner, "Name", ReasonVideoFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.events(t, tc.videoID))
			cmd := f.command(t, tc.videoID, tc.user, videopublishingmsg.NameVideo{Name: tc.newName, VideoID: tc.videoID})
			for range 2 {
				if err := f.c.HandleNameVideo(ctx, cmd); err != nil {
					t.Fatal(err)
				}
			}
			msgs := f.events(t, tc.videoID)[before:]
			if !slices.Equal(testdb.Types(msgs), []string{"VideoNameRejected"}) {
				t.Fatalf("new events %v", testdb.Types(msgs))
			}
			e := decode[videopublishingmsg.VideoNameRejected](t, msgs[0])
			if e.Reason != tc.reason || e.VideoID != tc.videoID {
				t.Errorf("VideoNameRejected %+v, want %q", e, tc.reason)
			}
		})
	}
	// A name with something that shows keeps its invisible characters (an emoji's joiner).
	coder := "Pair programming \U0001F469\u200d\U0001F4BB"
	if err := f.c.HandleNameVideo(ctx, f.command(t, videoID, owner, videopublishingmsg.NameVideo{Name: coder, VideoID: videoID})); err != nil {
		t.Fatal(err)
	}
	if msgs := f.events(t, videoID); msgs[len(msgs)-1].Type != "VideoNamed" || decode[videopublishingmsg.VideoNamed](t, msgs[len(msgs)-1]).Name != coder {
		t.Errorf("a name with a joined emoji: %s", msgs[len(msgs)-1].Type)
	}
	// Exactly at the limit (in characters, not bytes) is fine.
	exact := strings.Repeat("é", videopublishingmsg.MaxNameLength)
	if err := f.c.HandleNameVideo(ctx, f.command(t, videoID, owner, videopublishingmsg.NameVideo{Name: exact, VideoID: videoID})); err != nil {
		t.Fatal(err)
	}
	msgs := f.events(t, videoID)
	if last := msgs[len(msgs)-1]; last.Type != "VideoNamed" || decode[videopublishingmsg.VideoNamed](t, last).Name != exact {
		t.Errorf("a %d-character name: %s", videopublishingmsg.MaxNameLength, last.Type)
	}
}

func TestDescribeVideo(t *testing.T) {
	f := newFixture(t, KeepAsUploaded{})
	owner := uuid.NewString()
	videoID := f.published(t, owner)
	text := "Line one\n\tLine two"
	cmd := f.command(t, videoID, owner, videopublishingmsg.DescribeVideo{Description: "\n" + text + "  ", VideoID: videoID})
	tooLong := f.command(t, videoID, owner, videopublishingmsg.DescribeVideo{
		Description: strings.Repeat("x", videopublishingmsg.MaxDescriptionLength+1), VideoID: videoID})
	other := f.command(t, videoID, uuid.NewString(), videopublishingmsg.DescribeVideo{Description: "Hijacked", VideoID: videoID})
	override := f.command(t, videoID, owner, videopublishingmsg.DescribeVideo{Description: "Line one\n\u202dLine two", VideoID: videoID})
	for range 2 {
		for _, m := range []messagestore.Message{cmd, tooLong, other, override} {
			if err := f.c.HandleDescribeVideo(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	msgs := f.events(t, videoID)
	want := []string{"VideoPublished", "VideoDescribed", "VideoDescriptionRejected", "VideoDescriptionRejected", "VideoDescriptionRejected"}
	if !slices.Equal(testdb.Types(msgs), want) {
		t.Fatalf("video stream %v, want %v", testdb.Types(msgs), want)
	}
	if e := decode[videopublishingmsg.VideoDescribed](t, msgs[1]); e.Description != text {
		t.Errorf("VideoDescribed %+v", e)
	}
	if e := decode[videopublishingmsg.VideoDescriptionRejected](t, msgs[2]); e.Reason != ReasonDescriptionTooLong {
		t.Errorf("rejection %+v", e)
	}
	if e := decode[videopublishingmsg.VideoDescriptionRejected](t, msgs[3]); e.Reason != ReasonNotOwner {
		t.Errorf("rejection %+v", e)
	}
	if e := decode[videopublishingmsg.VideoDescriptionRejected](t, msgs[4]); e.Reason != ReasonDirectionControls {
		t.Errorf("rejection %+v", e)
	}
}

func TestCommandsWithoutAVideoStreamAreSkipped(t *testing.T) {
	f := newFixture(t, KeepAsUploaded{})
	stream := videopublishingmsg.CommandCategory + "-not-a-uuid"
	if _, err := f.s.Write(ctx, stream, messagestore.AnyVersion, messagestore.NewEvent(
		videopublishingmsg.NameVideo{Name: "x", VideoID: "not-a-uuid"}, messagestore.Metadata{})); err != nil {
		t.Fatal(err)
	}
	m, err := f.s.LastMessage(ctx, stream, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []messagestore.Handler{f.c.HandleNameVideo, f.c.HandleDescribeVideo, f.c.HandlePublishVideo} {
		if err := h(ctx, *m); err != nil {
			t.Errorf("%v", err)
		}
	}
}

func TestAMissingMediaDirectoryIsWaitedFor(t *testing.T) {
	f := newFixture(t, KeepAsUploaded{})
	f.c.mediaDir = filepath.Join(f.mediaDir, "not-mounted")
	owner, videoID := uuid.NewString(), uuid.NewString()
	cmd := f.command(t, videoID, owner, videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: "file:uploads/" + videoID + ".mp4", VideoID: videoID})
	if err := f.c.HandlePublishVideo(ctx, cmd); !messagestore.IsTransient(err) {
		t.Fatalf("%v, want a transient error", err)
	}
	if n := len(f.events(t, videoID)); n != 0 {
		t.Fatalf("%d events", n)
	}
}

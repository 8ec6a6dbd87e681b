package videopublishing

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

// gatedFFmpeg is a stand-in ffmpeg whose video transcodes wait until the gate is opened: a transcode
// as long as the test wants. Every run is logged (its output path, one line each); the first video
// run makes the started file.
type gatedFFmpeg struct {
	dir string
	*FFmpeg
}

func newGatedFFmpeg(t *testing.T) *gatedFFmpeg {
	t.Helper()
	dir := t.TempDir()
	g := &gatedFFmpeg{dir: dir, FFmpeg: &FFmpeg{Path: filepath.Join(dir, "ffmpeg"), Timeout: time.Minute}}
	script := fmt.Sprintf(`#!/bin/sh
for a; do out=$a; done
echo "$out" >> %[1]q
case "$out" in
*.mp4.part) touch %[2]q; while [ ! -e %[3]q ]; do sleep 0.02; done ;;
esac
printf 'fake output' > "$out"
`, g.path("log"), g.path("started"), g.path("gate"))
	if err := os.WriteFile(g.Path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return g
}

func (g *gatedFFmpeg) path(name string) string { return filepath.Join(g.dir, name) }

func (g *gatedFFmpeg) started() bool {
	_, err := os.Stat(g.path("started"))
	return err == nil
}

func (g *gatedFFmpeg) open(t testing.TB) {
	t.Helper()
	if err := os.WriteFile(g.path("gate"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// videoRuns is how many times ffmpeg was run to transcode a video.
func (g *gatedFFmpeg) videoRuns() int {
	b, _ := os.ReadFile(g.path("log"))
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasSuffix(line, ".mp4.part") {
			n++
		}
	}
	return n
}

// plain is a fixture on the same store and media directory that publishes without transcoding.
func (f *fixture) plain() *fixture {
	return &fixture{c: New(Deps{Store: f.s, Logger: testdb.Quiet, MediaDir: f.mediaDir, Transcoder: KeepAsUploaded{}}),
		s: f.s, mediaDir: f.mediaDir}
}

func TestAVideoBeingPublishedCanBeRenamed(t *testing.T) {
	f := newFixture(t, &fakeTranscoder{})
	owner, videoID := uuid.NewString(), uuid.NewString()
	uri := f.upload(t, videoID, ".mp4", []byte("....ftypisom"))
	// A rename sent before the upload's PublishVideo is about no video (yet).
	early := f.command(t, videoID, owner, videopublishingmsg.NameVideo{Name: "Too early", VideoID: videoID})
	publish := f.command(t, videoID, owner, videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: uri, VideoID: videoID})
	named := f.command(t, videoID, owner, videopublishingmsg.NameVideo{Name: " While processing ", VideoID: videoID})
	stranger := f.command(t, videoID, uuid.NewString(), videopublishingmsg.NameVideo{Name: "Mine", VideoID: videoID})
	described := f.command(t, videoID, owner, videopublishingmsg.DescribeVideo{Description: "About it", VideoID: videoID})
	// The renames are handled before the (slower) PublishVideo, each twice.
	for range 2 {
		for _, m := range []messagestore.Message{early, named, stranger} {
			if err := f.c.HandleNameVideo(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.c.HandleDescribeVideo(ctx, described); err != nil {
			t.Fatal(err)
		}
	}
	msgs := f.events(t, videoID)
	want := []string{"VideoNameRejected", "VideoNamed", "VideoNameRejected", "VideoDescribed"}
	if !slices.Equal(testdb.Types(msgs), want) {
		t.Fatalf("video stream %v, want %v", testdb.Types(msgs), want)
	}
	if e := decode[videopublishingmsg.VideoNameRejected](t, msgs[0]); e.Reason != ReasonNoSuchVideo {
		t.Errorf("rename before the upload: %+v", e)
	}
	if e := decode[videopublishingmsg.VideoNameRejected](t, msgs[2]); e.Reason != ReasonNotOwner {
		t.Errorf("rename by another user: %+v", e)
	}

	// The PublishVideo, at a lower position than the renames already answered, is still handled once.
	for range 2 {
		if err := f.c.HandlePublishVideo(ctx, publish); err != nil {
			t.Fatal(err)
		}
	}
	msgs = f.events(t, videoID)
	if !slices.Equal(testdb.Types(msgs), append(want, "VideoPublished")) {
		t.Fatalf("video stream %v", testdb.Types(msgs))
	}
	v, _, err := f.c.fetchVideo(ctx, videoID)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Published || v.Name != "While processing" || v.Description != "About it" || v.OwnerID != owner ||
		v.LastCommandPosition != described.GlobalPosition {
		t.Errorf("entity %+v", v)
	}
}

func TestAnInvalidPublishVideoMakesNoVideo(t *testing.T) {
	f := newFixture(t, KeepAsUploaded{})
	owner, videoID := uuid.NewString(), uuid.NewString()
	for _, cmd := range []any{
		videopublishingmsg.PublishVideo{SourceURI: "file:uploads/x.mp4", VideoID: videoID},                          // no owner
		videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: "file:uploads/x.mp4", VideoID: uuid.NewString()}, // another video
	} {
		f.command(t, videoID, owner, cmd)
	}
	name := f.command(t, videoID, owner, videopublishingmsg.NameVideo{Name: "Name", VideoID: videoID})
	if err := f.c.HandleNameVideo(ctx, name); err != nil {
		t.Fatal(err)
	}
	msgs := f.events(t, videoID)
	if !slices.Equal(testdb.Types(msgs), []string{"VideoNameRejected"}) ||
		decode[videopublishingmsg.VideoNameRejected](t, msgs[0]).Reason != ReasonNoSuchVideo {
		t.Fatalf("video stream %v", testdb.Types(msgs))
	}
}

func TestALongTranscodeHoldsBackNoRename(t *testing.T) {
	ff := newGatedFFmpeg(t)
	f := newFixture(t, ff.FFmpeg)
	owner := uuid.NewString()
	other := f.plain().published(t, owner)
	videoID := uuid.NewString()
	uri := f.upload(t, videoID, ".webm", []byte("\x1a\x45\xdf\xa3 webm bytes"))
	mine := func(m messagestore.Message) bool {
		return m.StreamName == videopublishingmsg.CommandStreamName(videoID) ||
			m.StreamName == videopublishingmsg.CommandStreamName(other)
	}
	inbox := testdb.RunAtHead(t, f.s, f.subscription(t, SubscriberID), mine)
	transcoder := testdb.RunAtHead(t, f.s, f.subscription(t, TranscoderSubscriberID), mine)

	f.command(t, videoID, owner, videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: uri, VideoID: videoID})
	testdb.Eventually(t, 10*time.Second, "the transcode started", ff.started)

	// While it runs: a rename of another video, and two renames and a description of this one.
	otherNamed := f.command(t, other, owner, videopublishingmsg.NameVideo{Name: "Other", VideoID: other})
	first := f.command(t, videoID, owner, videopublishingmsg.NameVideo{Name: "First", VideoID: videoID})
	second := f.command(t, videoID, owner, videopublishingmsg.NameVideo{Name: "Second", VideoID: videoID})
	described := f.command(t, videoID, owner, videopublishingmsg.DescribeVideo{Description: "About it", VideoID: videoID})
	testdb.Eventually(t, 5*time.Second, "the renames answered during the transcode", func() bool {
		return inbox.Status().Position >= described.GlobalPosition
	})
	if got := testdb.Types(f.events(t, other)); !slices.Equal(got, []string{"VideoPublished", "VideoNamed"}) {
		t.Errorf("other video %v", got)
	}
	msgs := f.events(t, videoID)
	if !slices.Equal(testdb.Types(msgs), []string{"VideoNamed", "VideoNamed", "VideoDescribed"}) {
		t.Fatalf("video stream during the transcode %v", testdb.Types(msgs))
	}
	for i, cmd := range []messagestore.Message{first, second, described} {
		if msgs[i].Metadata.TraceID != cmd.Metadata.TraceID {
			t.Errorf("event %d does not answer its command", i)
		}
	}
	if !ff.started() || ff.videoRuns() != 1 || transcoder.Status().Position >= otherNamed.GlobalPosition {
		t.Fatalf("the transcode is not running: %d runs, transcoder %+v", ff.videoRuns(), transcoder.Status())
	}

	// The transcode ends: VideoPublished after the renames, which it leaves as they are.
	ff.open(t)
	testdb.Eventually(t, 10*time.Second, "the video published", func() bool {
		return len(f.events(t, videoID)) == 4
	})
	msgs = f.events(t, videoID)
	if !slices.Equal(testdb.Types(msgs), []string{"VideoNamed", "VideoNamed", "VideoDescribed", "VideoPublished"}) {
		t.Fatalf("video stream %v", testdb.Types(msgs))
	}
	if e := decode[videopublishingmsg.VideoPublished](t, msgs[3]); e.TranscodedURI != videopublishingmsg.TranscodedURI(videoID) || e.OwnerID != owner {
		t.Errorf("VideoPublished %+v", e)
	}
	v, _, err := f.c.fetchVideo(ctx, videoID)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Published || v.Name != "Second" || v.Description != "About it" {
		t.Errorf("entity %+v: the later name must survive the publishing", v)
	}
	testdb.Eventually(t, 5*time.Second, "the transcoder past the renames", func() bool {
		return transcoder.Status().Position >= described.GlobalPosition
	})
	// Transcoded once: the renames written meanwhile did not make it fail and start over.
	if n, st := ff.videoRuns(), transcoder.Status(); n != 1 || st.Failed != 0 {
		t.Errorf("%d transcodes, transcoder %+v", n, st)
	}
	if st := inbox.Status(); st.Failed != 0 {
		t.Errorf("inbox %+v", st)
	}
}

func TestATranscodeInterruptedIsDoneAgain(t *testing.T) {
	ff := newGatedFFmpeg(t)
	f := newFixture(t, ff.FFmpeg)
	owner, videoID := uuid.NewString(), uuid.NewString()
	uri := f.upload(t, videoID, ".webm", []byte("\x1a\x45\xdf\xa3 webm bytes"))
	cfg := f.subscription(t, TranscoderSubscriberID)
	testdb.StartAtHead(t, f.s, &cfg)
	h := cfg.Handlers[typePublishVideo]
	cfg.Handlers = map[string]messagestore.Handler{typePublishVideo: func(ctx context.Context, m messagestore.Message) error {
		if m.StreamName != videopublishingmsg.CommandStreamName(videoID) {
			return nil
		}
		return h(ctx, m)
	}}
	cfg.Logger = testdb.Quiet
	cfg.MinPollInterval, cfg.MaxPollInterval, cfg.RetryBackoff = 10*time.Millisecond, 50*time.Millisecond, 5*time.Millisecond
	run := func() (*messagestore.Subscription, func()) {
		sub, err := f.s.Subscribe(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); sub.Run(runCtx) }()
		stop := func() { cancel(); wg.Wait() }
		t.Cleanup(stop)
		return sub, stop
	}

	_, stop := run()
	cmd := f.command(t, videoID, owner, videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: uri, VideoID: videoID})
	testdb.Eventually(t, 10*time.Second, "the transcode started", ff.started)
	stop() // the process stops (or its lease is lost) in the middle of the transcode
	if n := len(f.events(t, videoID)); n != 0 {
		t.Fatalf("%d events after an interrupted transcode", n)
	}

	ff.open(t)
	sub, _ := run() // the same subscriber: it takes the PublishVideo up again
	testdb.Eventually(t, 10*time.Second, "the video published", func() bool {
		return sub.Status().Position >= cmd.GlobalPosition
	})
	if got := testdb.Types(f.events(t, videoID)); !slices.Equal(got, []string{"VideoPublished"}) {
		t.Fatalf("video stream %v", got)
	}
	if n := ff.videoRuns(); n != 2 {
		t.Errorf("%d transcodes, want the interrupted one and its retry", n)
	}
}

package videopublishing

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
	"videotutorials/migrations"
)

// The tests run against a real PostgreSQL: a throw-away server for this test binary, or
// TEST_DATABASE_URL (see testdb.Main).
func TestMain(m *testing.M) {
	testdb.Main(m, migrations.MessageStore)
}

var ctx = context.Background()

// fixture is a component on a media directory of its own.
type fixture struct {
	c        *Component
	s        *messagestore.Store
	mediaDir string
}

func newFixture(t testing.TB, tr Transcoder) *fixture {
	t.Helper()
	s := testdb.NewStore(t)
	dir := t.TempDir()
	return &fixture{c: New(Deps{Store: s, Logger: testdb.Quiet, MediaDir: dir, Transcoder: tr}), s: s, mediaDir: dir}
}

// upload stores content as the creators portal does and returns its source URI.
func (f *fixture) upload(t testing.TB, videoID, ext string, content []byte) string {
	t.Helper()
	uri := videopublishingmsg.MediaURI(videopublishingmsg.UploadsDir + "/" + videoID + ext)
	path, err := videopublishingmsg.ResolveMediaURI(f.mediaDir, uri)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return uri
}

// command writes a command to a video's inbox, as the creators portal does, and returns it as stored.
func (f *fixture) command(t testing.TB, videoID, userID string, data any) messagestore.Message {
	t.Helper()
	md := messagestore.Metadata{TraceID: uuid.NewString(), UserID: userID}
	return testdb.Write(t, f.s, videopublishingmsg.CommandStreamName(videoID), data, md)
}

// events returns the video's stream.
func (f *fixture) events(t testing.TB, videoID string) []messagestore.Message {
	t.Helper()
	return testdb.ReadStream(t, f.s, videopublishingmsg.StreamName(videoID))
}

func decode[T any](t testing.TB, m messagestore.Message) T {
	t.Helper()
	var v T
	if err := m.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

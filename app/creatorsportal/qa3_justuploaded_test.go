package creatorsportal_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"videotutorials/app/apptest"
	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/messagestore"
)

// The dashboard's ?uploaded=<id> shows a "Processing" row for an upload the view has not recorded yet.
// An id that no upload of this creator used — mistyped, made up, or another creator's upload the view
// has not recorded either — showed that row too, "Processing" forever, linking to a 404.
func TestJustUploadedRowIsOnlyForTheCreatorsOwnUpload(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	publish := func(owner string) string {
		t.Helper()
		id := uuid.NewString()
		cmd := videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: "file:uploads/" + id + ".mp4", VideoID: id}
		if _, err := f.store.Write(ctx, videopublishingmsg.CommandStreamName(id), messagestore.NoStream,
			messagestore.NewEvent(cmd, messagestore.Metadata{TraceID: uuid.NewString(), UserID: owner})); err != nil {
			t.Fatal(err)
		}
		return id
	}
	mine, theirs, unknown := publish(f.user), publish(uuid.NewString()), uuid.NewString()
	for _, tc := range []struct {
		name, id string
		shown    bool
	}{
		{"the creator's upload", mine, true},
		{"another creator's upload", theirs, false},
		{"no upload at all", unknown, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.b.Get("/creators-portal/?uploaded=" + tc.id)
			apptest.WantStatus(t, rec, http.StatusOK)
			if shown := strings.Contains(rec.Body.String(), `id="video-`+tc.id+`"`); shown != tc.shown {
				t.Errorf("row of %s shown: %v, want %v", tc.id, shown, tc.shown)
			}
		})
	}
}

package creatorsportal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"videotutorials/app/apptest"
	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/internal/testdb"
)

// A name or description that is not UTF-8 (a hand-made request; browsers send the page's UTF-8) is
// refused with a 400, as a NUL is. It was passed on, and the JSON of the command turned each invalid
// byte into U+FFFD: the component, which refuses text that is not UTF-8, only ever saw valid text, and
// the video was named "x�y" instead of the request being refused.
func TestNameOrDescriptionThatIsNotUTF8IsRefused(t *testing.T) {
	f := setup(t)
	pool := testdb.NewPool(t)
	videoID := uuid.NewString()
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: videoID, Owner: f.user, Status: "published", Transcoded: "file:videos/" + videoID + ".mp4"})
	page := "/creators-portal/videos/" + videoID
	for _, tc := range []struct{ path, field, value string }{
		{page + "/name", "name", "x\xffy"},
		{page + "/name", "name", "caf\xe9"}, // Latin-1
		{page + "/describe", "description", "A description\xc3"},
	} {
		rec := f.b.Submit(page, tc.path, url.Values{tc.field: {tc.value}})
		apptest.WantStatus(t, rec, http.StatusBadRequest)
		if body := rec.Body.String(); !strings.Contains(body, "contains a character that is not allowed") {
			t.Errorf("%s %q: the page does not say what is wrong:\n%s", tc.path, tc.value, body)
		}
	}
	if msgs := testdb.ReadStream(t, f.store, videopublishingmsg.CommandStreamName(videoID)); len(msgs) != 0 {
		t.Errorf("%d commands written for text that is not UTF-8", len(msgs))
	}
}

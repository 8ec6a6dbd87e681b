package creatorsportal_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/google/uuid"

	"videotutorials/app/apptest"
	"videotutorials/internal/testdb"
)

// The owner's page of a video said "1 views". The count is a live field (the dashboard events replace
// the number only), so the words around it must read right for any count.
func TestVideoPageViewCountReadsRightForOne(t *testing.T) {
	f := setup(t)
	id := uuid.NewString()
	testdb.InsertVideo(t, testdb.NewPool(t), testdb.VideoRow{ID: id, Owner: f.user, Name: "Once watched", Status: "published", Views: 1})
	rec := f.b.Get("/creators-portal/videos/" + id)
	apptest.WantStatus(t, rec, http.StatusOK)
	if m := regexp.MustCompile(`>1</span>\s*views`).FindString(rec.Body.String()); m != "" {
		t.Errorf("the page says %q", m)
	}
	if !regexp.MustCompile(`data-live-field="` + id + `.views">1<`).MatchString(rec.Body.String()) {
		t.Error("the page does not show the count as a live field")
	}
}

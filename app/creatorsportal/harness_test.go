package creatorsportal_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/app/apptest"
	"videotutorials/internal/testdb"
	"videotutorials/migrations"
)

// The tests run the portal in the real web shell (sessions, CSRF, body limits, error pages) against a
// real PostgreSQL: a throw-away server for this test binary, or TEST_DATABASE_URL (see apptest and
// testdb). View rows are written with SQL as the aggregators would leave them (testdb.InsertVideo).
func TestMain(m *testing.M) {
	testdb.Main(m, migrations.MessageStore, migrations.ViewData)
}

var ctx = context.Background()

// upload posts the upload form as a browser does: the token first, then the file.
func upload(b *apptest.Browser, filename string, content []byte) *httptest.ResponseRecorder {
	b.T.Helper()
	token := b.CSRF("/creators-portal/")
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("_csrf", token)
	if filename != "" {
		fw, err := w.CreateFormFile("video", filename)
		if err != nil {
			b.T.Fatal(err)
		}
		fw.Write(content)
	}
	w.Close()
	req := httptest.NewRequest(http.MethodPost, "/creators-portal/publish-video", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return b.Do(req)
}

func insertOperation(t testing.TB, pool *pgxpool.Pool, traceID, videoID, kind string, succeeded bool, reason string) {
	t.Helper()
	if _, err := pool.Exec(ctx, `INSERT INTO video_operations (trace_id, video_id, kind, succeeded, failure_reason, position)
		VALUES ($1, $2, $3, $4, nullif($5, ''), 1)`, traceID, videoID, kind, succeeded, reason); err != nil {
		t.Fatal(err)
	}
}

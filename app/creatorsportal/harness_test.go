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
	body, contentType := uploadBody(b.T, b.CSRF("/creators-portal/"), "video", filename, content)
	return postUpload(b, body, contentType, "")
}

// uploadBody is the upload form's multipart body: the token, then content as the file field (none
// when filename is empty).
func uploadBody(t testing.TB, token, field, filename string, content []byte) (body []byte, contentType string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("_csrf", token)
	if filename != "" {
		fw, err := w.CreateFormFile(field, filename)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(content)
	}
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// postUpload posts body to the upload route with contentType, accepting accept (a page when empty).
func postUpload(b *apptest.Browser, body []byte, contentType, accept string) *httptest.ResponseRecorder {
	b.T.Helper()
	req := httptest.NewRequest(http.MethodPost, "/creators-portal/publish-video", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return b.Do(req)
}

func insertOperation(t testing.TB, pool *pgxpool.Pool, traceID, videoID, kind string, succeeded bool, reason string) {
	t.Helper()
	if _, err := pool.Exec(ctx, `INSERT INTO video_operations (trace_id, video_id, kind, succeeded, failure_reason, position)
		VALUES ($1, $2, $3, $4, nullif($5, ''), 1)`, traceID, videoID, kind, succeeded, reason); err != nil {
		t.Fatal(err)
	}
}

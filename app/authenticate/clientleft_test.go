package authenticate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"videotutorials/app"
	"videotutorials/app/apptest"
	"videotutorials/app/authenticate"
	"videotutorials/internal/testdb"
)

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// requestStatus is the status of the request log line for method and path.
func (b *logBuffer) requestStatus(t *testing.T, method, path string) any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for line := range strings.SplitSeq(strings.TrimSpace(b.buf.String()), "\n") {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) == nil && r["msg"] == "request" && r["method"] == method && r["path"] == path {
			return r["status"]
		}
	}
	t.Fatalf("no request log line for %s %s in %s", method, path, b.buf.String())
	return nil
}

// find returns the first log record with message msg, or nil.
func (b *logBuffer) find(msg string) map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	for line := range strings.SplitSeq(strings.TrimSpace(b.buf.String()), "\n") {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) == nil && r["msg"] == msg {
			return r
		}
	}
	return nil
}

// A client that leaves while its log-in waits for the database (here the credentials view is locked,
// as by a migration) is what it is: 499 in the log, not a 500 logged as a failure (the bug
// page's status). The pools cancel the statement on the server when the context ends
// (CancelStatementsOnServer), so what the query returns is PostgreSQL's "canceling statement due to
// user request" (57014), not the context's error.
func TestLogInOfAClientThatLeftIsNotABug(t *testing.T) {
	ctx := context.Background()
	logs := &logBuffer{}
	views := testdb.NewTx(t)
	srv := apptest.NewServer(t, app.Deps{Logger: slog.New(slog.NewJSONHandler(logs, nil))}, authenticate.New(authenticate.Deps{
		Store: testdb.NewStore(t), Views: views, Logger: testdb.Quiet, Throttle: authenticate.Throttle{},
	}))
	b := apptest.NewBrowser(t, srv)
	token := b.CSRF(authenticate.LogInPath)

	lock := testdb.NewTx(t)
	if _, err := lock.Exec(ctx, `LOCK TABLE user_credentials IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	client, leave := context.WithCancel(ctx)
	defer leave()
	go func() {
		for client.Err() == nil {
			var waiting int
			err := testdb.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE NOT granted
				AND relation = 'user_credentials'::regclass`).Scan(&waiting)
			if err == nil && waiting > 0 {
				leave() // the log-in waits for the lock: the client gives up
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	form := url.Values{"_csrf": {token}, "email": {"someone@example.com"}, "password": {"secret"}}
	req := httptest.NewRequest(http.MethodPost, authenticate.LogInPath, strings.NewReader(form.Encode())).WithContext(client)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	b.Do(req)
	if client.Err() == nil {
		t.Fatal("the log-in was answered before the client left")
	}
	if got := logs.requestStatus(t, http.MethodPost, authenticate.LogInPath); got != float64(499) {
		t.Fatalf("logged status %v, want 499", got)
	}
	if line := logs.find("request failed"); line != nil {
		t.Fatalf("a client that left is logged as a failure: %v", line)
	}
}

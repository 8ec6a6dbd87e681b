package reliability

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/migrations"
)

// TestConcurrentFirstMigrations is the regression test of a failure the parallel scenarios found:
// programs starting at the same moment on different databases of one fresh PostgreSQL server all
// create the cluster-wide message_store role; the losers of that race got unique_violation on
// pg_authid (not duplicate_object), and the program exited with "partial migration error".
func TestConcurrentFirstMigrations(t *testing.T) {
	t.Parallel()
	srv, err := startDBServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.close)
	const n = 8
	urls := make([]string, n)
	for i := range urls {
		urls[i] = srv.newDatabase(t)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			pool, err := pgxpool.New(ctx, u)
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			if errs[i] = pool.Ping(ctx); errs[i] != nil {
				return
			}
			<-start
			errs[i] = migrations.MessageStore.Up(ctx, pool, quiet())
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("database %d: %v", i, err)
		}
	}
}

package devdb

import (
	"context"
	"fmt"
	"os"
)

// ForTests returns the URL of a database for a test binary and a function that releases it.
//
// With TEST_DATABASE_URL set, that database is used as it is (tests isolate themselves with fresh UUID
// stream names, so sharing it is safe). Otherwise a throw-away server is started in a temporary
// directory and stopped (and removed) by the returned function; if the test binary dies, the kernel
// stops the server.
func ForTests() (string, func(), error) {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "videotutorials-testdb-")
	if err != nil {
		return "", nil, fmt.Errorf("devdb: temp dir: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", nil, err
	}
	s, err := Start(context.Background(), Options{Dir: dir, Throwaway: true, Logger: quietLogger()})
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return s.URL, func() {
		_ = s.Stop(context.Background())
		os.RemoveAll(dir)
	}, nil
}

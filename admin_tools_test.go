package main

import (
	"os"
	"testing"

	"videotutorials/devdb"
)

// The tools run end to end against a throwaway database: populate writes, print reads, rebuild builds
// admin-streams and home-page into shadow tables and swaps them in.
func TestAdminTools(t *testing.T) {
	url, stop, err := devdb.ForTests()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	t.Setenv("DATABASE_URL", url)
	t.Setenv("MESSAGE_STORE_URL", "")
	for _, c := range [][]string{
		{"populate"}, {"print", "-n", "5", "viewing"}, {"print", "identity:command"},
		{"rebuild", "admin-streams"}, {"rebuild", "-dry-run", "home-page"}, {"rebuild", "home-page"},
		{"rebuild", "user-credentials"}, {"rebuild", "admin-users"}, {"rebuild", "admin-subscriber-positions"},
	} {
		if code := runTool(c[0], c[1:]); code != 0 {
			t.Fatalf("%v: exit %d", c, code)
		}
	}
	if code := runTool("rebuild", []string{"nope"}); code != 2 {
		t.Errorf("rebuild of an unknown aggregator: exit %d, want 2", code)
	}
	_ = os.Stdout
}

package main

import (
	"os/exec"
	"testing"
)

// The load driver (loadtest/) is a module of its own, so `go test ./...` at the root does not reach
// its tests; this runs them, and vets it, so that the driver every benchmark figure depends on is
// checked with the program.
func TestLoadDriverModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests the loadtest module")
	}
	for _, args := range [][]string{{"vet", "./..."}, {"test", "-count=1", "./..."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = "loadtest"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %v in loadtest: %v\n%s", args, err, out)
		}
	}
}

package main

import (
	"fmt"
	"os"
)

// runTool runs a subcommand of the binary (videotutorials <tool> …) and returns the exit code.
func runTool(name string, args []string) int {
	switch name {
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n\nUsage:\n  videotutorials [flags]      run the system (-h lists the flags)\n", name)
		return 2
	}
}

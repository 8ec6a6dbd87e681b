package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

// runTool runs a subcommand of the binary (videotutorials <tool> …) and returns the exit code.
func runTool(name string, args []string) int {
	switch name {
	case "print", "rebuild", "populate": // admin_tools.go
		return runAdminTool(name, args)
	case "contracts": // contracts_doc.go
		return runContractsTool(args)
	case "healthcheck":
		return healthcheck()
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n\nUsage:\n"+
			"  videotutorials [flags]      run the system (-h lists the flags)\n"+
			"  videotutorials healthcheck  exit 0 when the local web server answers /healthz (for container health checks)\n"+
			"  videotutorials print | rebuild | populate   admin tools (see README.md)\n"+
			"  videotutorials contracts    the contracts document (docs/CONTRACTS.md) on standard output\n", name)
		return 2
	}
}

// healthcheck lets a container image without a shell or curl check itself.
func healthcheck() int {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	client := http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://127.0.0.1:" + port + "/healthz")
	if err != nil {
		fmt.Fprintln(os.Stderr, "unhealthy:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "unhealthy: status", resp.StatusCode)
		return 1
	}
	return 0
}

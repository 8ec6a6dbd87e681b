package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// runTool runs a subcommand of the binary (videotutorials <tool> …) and returns the exit code.
func runTool(name string, args []string) int {
	switch name {
	case "print", "rebuild", "populate", "retry": // admin_tools.go
		return runAdminTool(name, args)
	case "contracts": // contracts_doc.go
		return runContractsTool(args)
	case "healthcheck":
		return healthcheck()
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n\nUsage:\n"+
			"  videotutorials [flags]      run the system (-h lists the flags)\n"+
			"  videotutorials healthcheck  exit 0 when the local web server answers /healthz (for container health checks)\n"+
			"  videotutorials print | rebuild | populate | retry   admin tools (see README.md)\n"+
			"  videotutorials contracts    the contracts document (docs/CONTRACTS.md) on standard output\n", name)
		return 2
	}
}

// healthcheck lets a container image without a shell or curl check itself, at the address the
// program listens on (HOST and PORT, as in Config).
func healthcheck() int {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	client := http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort(healthcheckHost(os.Getenv("HOST")), port) + "/healthz")
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

// healthcheckHost is where to reach a server listening on HOST: itself, or the loopback address of
// its family when it listens on every interface (or HOST is unset: the default 127.0.0.1).
func healthcheckHost(host string) string {
	switch ip := net.ParseIP(host); {
	case host == "":
		return "127.0.0.1"
	case ip != nil && ip.IsUnspecified() && ip.To4() == nil:
		return "::1"
	case ip != nil && ip.IsUnspecified():
		return "127.0.0.1"
	}
	return host
}

package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestPackageBoundaries enforces the project's "who may import whom" rules (projectRule and
// externalRule, below): the package boundaries stand in for the service boundaries of the book, so
// crossing one must fail the build's tests.
func TestPackageBoundaries(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "videotutorials"
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range p.Imports {
			if imp != mod && !strings.HasPrefix(imp, mod+"/") {
				if reason := externalRule(p.ImportPath, imp); reason != "" {
					t.Errorf("%s imports %s: %s", p.ImportPath, imp, reason)
				}
				continue
			}
			if reason := projectRule(p.ImportPath, imp); reason != "" {
				t.Errorf("%s imports %s: %s", p.ImportPath, imp, reason)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("only %d packages listed", checked)
	}
}

// testSupport are the packages that only _test.go files import: the throw-away database and the
// message helpers every database test shares (internal/testdb), and the web harness of the
// applications' tests (app/apptest). They stand outside that table because they are
// no part of the program: the rule below keeps them out of every package's build (Imports lists a
// package's non-test imports, so a test's use of them is not seen and need not be), and they are the
// one place besides main where devdb and migrations meet the message store and the shell.
var testSupport = map[string]bool{
	"videotutorials/internal/testdb": true,
	"videotutorials/app/apptest":     true,
}

// kind classifies a project package by its place in the layout.
func kind(path string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(path, "videotutorials"), "/")
	first, rest, _ := strings.Cut(rel, "/")
	switch {
	case testSupport[path]:
		return "testsupport"
	case rel == "":
		return "main"
	case strings.HasSuffix(rel, "msg"):
		return "contract"
	case first == "components" && rest != "":
		return "component"
	case first == "aggregators" && rest != "":
		return "aggregator"
	case first == "app":
		return "app"
	default:
		return first // messagestore, viewdata, templates, migrations, devdb, components, aggregators, deploy, …
	}
}

// owner is the service a package belongs to: components/identity/x → components/identity.
func owner(path string) string {
	parts := strings.Split(strings.TrimPrefix(path, "videotutorials/"), "/")
	if len(parts) >= 2 && (parts[0] == "components" || parts[0] == "aggregators" || parts[0] == "app") {
		return parts[0] + "/" + parts[1]
	}
	return strings.Join(parts, "/")
}

func projectRule(from, to string) string {
	fk, tk := kind(from), kind(to)
	if tk == "main" {
		return "nobody imports main"
	}
	if tk == "testsupport" && fk != "testsupport" {
		return "test support is for _test.go files only, never in the build of a package"
	}
	switch fk {
	case "main":
		return ""
	case "testsupport":
		// It starts and migrates the test database and drives the shell: devdb, migrations, the
		// message store, viewdata and the shell (app), never a component, aggregator or application.
		switch {
		case tk == "devdb", tk == "migrations", tk == "messagestore", tk == "viewdata", tk == "testsupport",
			to == "videotutorials/app":
			return ""
		}
		return "test support imports only devdb, migrations, the message store, viewdata and the shell"
	case "messagestore":
		return "messagestore imports nothing of the project"
	case "viewdata":
		return "viewdata imports nothing of the project"
	case "contract":
		if tk == "messagestore" {
			return ""
		}
		return "a contract package imports only the message store"
	case "templates":
		if tk == "viewdata" || tk == "templates" {
			return ""
		}
		return "templates import only viewdata"
	case "component":
		if tk == "messagestore" || tk == "contract" || owner(to) == owner(from) {
			return ""
		}
		return "a component imports only the message store, contracts and its own subpackages"
	case "aggregator":
		if tk == "messagestore" || tk == "contract" || tk == "viewdata" || owner(to) == owner(from) {
			return ""
		}
		return "an aggregator imports only the message store, contracts, viewdata and its own subpackages"
	case "app":
		switch {
		case tk == "messagestore", tk == "contract", tk == "viewdata", tk == "templates":
			return ""
		case tk == "app" && (owner(to) == owner(from) || to == "videotutorials/app" || strings.HasPrefix(to, "videotutorials/app/live")):
			// An application uses the shell (app) and the live-update hub, never another application.
			return ""
		}
		return "an application imports only the shell, the message store, contracts, viewdata and templates"
	case "migrations", "devdb", "deploy":
		if fk == "deploy" || tk == fk {
			return ""
		}
		return fk + " stands alone"
	}
	return ""
}

// externalRule keeps SQL where it belongs: only the message store, view data, aggregators, migrations,
// devdb and main talk to Postgres directly.
func externalRule(from, imp string) string {
	if !strings.HasPrefix(imp, "github.com/jackc/pgx") {
		return ""
	}
	switch kind(from) {
	case "messagestore", "viewdata", "aggregator", "migrations", "devdb", "main", "testsupport":
		return "" // test support opens the pools the tests' database is migrated and read with
	}
	if kind(from) == "app" && (imp == "github.com/jackc/pgx/v5/pgxpool") {
		return "" // an application may hold a (read-only) pool to pass to viewdata
	}
	return "only the message store, viewdata, aggregators, migrations and main use pgx"
}

func TestBoundaryRulesCatchViolations(t *testing.T) {
	bad := [][2]string{
		{"videotutorials/components/identity", "videotutorials/components/sendemail"},
		{"videotutorials/components/identity", "videotutorials/viewdata"},
		{"videotutorials/aggregators/homepage", "videotutorials/components/identity"},
		{"videotutorials/app/home", "videotutorials/aggregators/homepage"},
		{"videotutorials/app/home", "videotutorials/app/registerusers"},
		{"videotutorials/messagestore", "videotutorials/viewdata"},
		{"videotutorials/templates", "videotutorials/messagestore"},
		{"videotutorials/viewdata", "videotutorials/messagestore"},
		{"videotutorials/components/identity/identitymsg", "videotutorials/viewdata"},
		{"videotutorials/app/home", "videotutorials/app/apptest"},
		{"videotutorials/components/identity", "videotutorials/internal/testdb"},
		{"videotutorials", "videotutorials/internal/testdb"},
		{"videotutorials/internal/testdb", "videotutorials/components/identity"},
		{"videotutorials/app/apptest", "videotutorials/app/home"},
	}
	for _, b := range bad {
		if projectRule(b[0], b[1]) == "" {
			t.Errorf("%s → %s should be refused", b[0], b[1])
		}
	}
	good := [][2]string{
		{"videotutorials/components/identity", "videotutorials/components/sendemail/sendemailmsg"},
		{"videotutorials/aggregators/homepage", "videotutorials/app/recordviewings/viewingmsg"},
		{"videotutorials/app/registerusers", "videotutorials/components/identity/identitymsg"},
		{"videotutorials/app/home", "videotutorials/app"},
		{"videotutorials/templates", "videotutorials/viewdata"},
		{"videotutorials/internal/testdb", "videotutorials/devdb"},
		{"videotutorials/internal/testdb", "videotutorials/migrations"},
		{"videotutorials/internal/testdb", "videotutorials/messagestore"},
		{"videotutorials/app/apptest", "videotutorials/app"},
		{"videotutorials/app/apptest", "videotutorials/internal/testdb"},
	}
	for _, g := range good {
		if r := projectRule(g[0], g[1]); r != "" {
			t.Errorf("%s → %s should be allowed: %s", g[0], g[1], r)
		}
	}
	if externalRule("videotutorials/components/identity", "github.com/jackc/pgx/v5") == "" {
		t.Error("components must not use pgx directly")
	}
}

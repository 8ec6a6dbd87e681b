// Package apptest is test support for the web applications: an application mounted in the real web
// shell (sessions, CSRF, body limits, error pages) with probe routes, and a Browser that keeps its
// session cookie and submits forms with their CSRF tokens as a visitor's browser would.
//
// The database side (a throw-away PostgreSQL, pools, message stores, reading streams) is
// internal/testdb's; an application's TestMain is testdb.Main.
//
// Rules: only _test.go files import it (the boundary test refuses it in any package's build). It
// imports the shell (app) and nothing of any application.
package apptest

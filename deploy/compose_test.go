package deploy

import (
	"context"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"videotutorials/devdb"
)

// devDatabaseURL is the URL that `docker compose up -d db` serves on the host; the program's error
// message for a machine without PostgreSQL names it too.
const devDatabaseURL = "postgres://postgres:postgres@127.0.0.1:5432/videotutorials?sslmode=disable"

const testSecret = "0123456789abcdef0123456789abcdef-test"

// loadCompose loads compose.yaml as `docker compose` would, with env as the only environment (no
// process environment, no .env file) and, like `docker compose up SERVICE…`, only the given services.
func loadCompose(t *testing.T, env map[string]string, services ...string) (*types.Project, error) {
	t.Helper()
	root := moduleRoot(t)
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "compose.yaml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(list),
		cli.WithSelectedServices(services...),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return opts.LoadProject(ctx)
}

func mustLoadCompose(t *testing.T, env map[string]string, services ...string) *types.Project {
	t.Helper()
	p, err := loadCompose(t, env, services...)
	if err != nil {
		t.Fatalf("load compose.yaml (env %v, services %v): %v", env, services, err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("compose.yaml has no service %q (has %v)", name, p.ServiceNames())
	}
	return s
}

func env(s types.ServiceConfig, key string) (string, bool) {
	v, ok := s.Environment[key]
	if !ok || v == nil {
		return "", false
	}
	return *v, true
}

// namedVolumeAt returns the named volume mounted at target, failing when there is none.
func namedVolumeAt(t *testing.T, p *types.Project, s types.ServiceConfig, target string) string {
	t.Helper()
	for _, v := range s.Volumes {
		if v.Target != target {
			continue
		}
		if v.Type != types.VolumeTypeVolume {
			t.Fatalf("%s: %s is a %s mount, want a named volume", s.Name, target, v.Type)
		}
		if _, ok := p.Volumes[v.Source]; !ok {
			t.Fatalf("%s: volume %q at %s is not declared under top-level volumes", s.Name, v.Source, target)
		}
		return v.Source
	}
	t.Fatalf("%s: no volume mounted at %s", s.Name, target)
	return ""
}

func publishes(s types.ServiceConfig, port uint32) (types.ServicePortConfig, bool) {
	for _, p := range s.Ports {
		if p.Target == port && p.Published == strconv.FormatUint(uint64(port), 10) {
			return p, true
		}
	}
	return types.ServicePortConfig{}, false
}

// `docker compose up -d db` with nothing set in the environment: compose interpolates the whole
// file for every command, so no variable of the app service may be required.
func TestComposeDatabaseAlone(t *testing.T) {
	p := mustLoadCompose(t, nil, "db")
	db := service(t, p, "db")

	if db.Image != "postgres:15" {
		t.Errorf("db image %q, want postgres:15", db.Image)
	}
	if db.HealthCheck == nil || db.HealthCheck.Disable || len(db.HealthCheck.Test) < 2 {
		t.Fatalf("db has no healthcheck: %+v", db.HealthCheck)
	}
	if test := db.HealthCheck.Test; !slices.Contains(test, "pg_isready") && !strings.Contains(strings.Join(test, " "), "pg_isready") {
		t.Errorf("db healthcheck %q does not use pg_isready", test)
	}
	namedVolumeAt(t, p, db, "/var/lib/postgresql/data")

	// The host URL of the dev database matches the service's settings and published port.
	u, err := url.Parse(devDatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	pass, _ := u.User.Password()
	for key, want := range map[string]string{
		"POSTGRES_USER":     u.User.Username(),
		"POSTGRES_PASSWORD": pass,
		"POSTGRES_DB":       strings.TrimPrefix(u.Path, "/"),
	} {
		if got, _ := env(db, key); got != want {
			t.Errorf("db %s = %q, want %q (for %s)", key, got, want, devDatabaseURL)
		}
	}
	port, ok := publishes(db, 5432)
	if !ok {
		t.Fatalf("db does not publish 5432:5432 (ports %+v)", db.Ports)
	}
	if port.HostIP != "" && port.HostIP != u.Hostname() {
		t.Errorf("db port published on %s, unreachable at %s", port.HostIP, u.Host)
	}

	// The program's advice names the same command and URL.
	if msg := devdb.ErrNoBinaries.Error(); !strings.Contains(msg, "docker compose up -d db") || !strings.Contains(msg, devDatabaseURL) {
		t.Errorf("devdb.ErrNoBinaries no longer names `docker compose up -d db` and %s:\n%s", devDatabaseURL, msg)
	}
}

func TestComposeApp(t *testing.T) {
	p := mustLoadCompose(t, map[string]string{"SESSION_SECRET": testSecret, "ADMIN_EMAILS": "admin@example.com"})
	db, app := service(t, p, "db"), service(t, p, "app")

	if app.Build == nil {
		t.Fatal("app is not built from the Dockerfile")
	}
	if app.Build.Context != moduleRoot(t) {
		t.Errorf("app build context %q, want the module root", app.Build.Context)
	}
	if df := app.Build.Dockerfile; df != "" && df != "Dockerfile" {
		t.Errorf("app build dockerfile %q, want Dockerfile", df)
	}
	if app.Build.Target != "runtime" {
		t.Errorf("app build target %q, want runtime by default", app.Build.Target)
	}

	dep, ok := app.DependsOn["db"]
	if !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("app depends_on db %+v, want condition service_healthy", app.DependsOn)
	}

	if _, ok := publishes(app, 8080); !ok {
		t.Errorf("app does not publish 8080:8080 (ports %+v)", app.Ports)
	}

	raw, ok := env(app, "DATABASE_URL")
	if !ok {
		t.Fatal("app environment has no DATABASE_URL")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("app DATABASE_URL %q is not a postgres:// URL", raw)
	}
	if u.Hostname() != "db" {
		t.Errorf("app DATABASE_URL host %q, want db", u.Hostname())
	}
	if port := u.Port(); port != "" && port != "5432" {
		t.Errorf("app DATABASE_URL port %q, want 5432", port)
	}
	pass, _ := u.User.Password()
	dbUser, _ := env(db, "POSTGRES_USER")
	dbPass, _ := env(db, "POSTGRES_PASSWORD")
	dbName, _ := env(db, "POSTGRES_DB")
	if u.User.Username() != dbUser || pass != dbPass || strings.TrimPrefix(u.Path, "/") != dbName {
		t.Errorf("app DATABASE_URL %q does not match db's user/password/database %s/%s/%s", raw, dbUser, dbPass, dbName)
	}

	for key, want := range map[string]string{
		"HOST":           "0.0.0.0",
		"PORT":           "8080",
		"SESSION_SECRET": testSecret,
		"ADMIN_EMAILS":   "admin@example.com",
	} {
		if got, _ := env(app, key); got != want {
			t.Errorf("app %s = %q, want %q", key, got, want)
		}
	}

	namedVolumeAt(t, p, app, "/data")

	// Longer than the program's default SHUTDOWN_TIMEOUT, so a stop is graceful.
	if app.StopGracePeriod == nil || time.Duration(*app.StopGracePeriod) <= 15*time.Second {
		t.Errorf("app stop_grace_period %v, want more than 15s", app.StopGracePeriod)
	}
}

// No secret is written in compose.yaml: unset, SESSION_SECRET reaches the app empty (the program
// then uses a random one of its own), never as a default value anyone can read.
func TestComposeBakesNoSessionSecret(t *testing.T) {
	p := mustLoadCompose(t, nil)
	if v, _ := env(service(t, p, "app"), "SESSION_SECRET"); v != "" {
		t.Errorf("compose.yaml gives SESSION_SECRET a default %q", v)
	}
}

// APP_TARGET picks a stage of the Dockerfile; both documented targets must exist there.
func TestComposeTargetsExistInDockerfile(t *testing.T) {
	stages := parseDockerfile(t, readFile(t, "Dockerfile")).stages
	for _, target := range []string{"", "runtime", "with-ffmpeg"} {
		envs := map[string]string{}
		if target != "" {
			envs["APP_TARGET"] = target
		}
		got := service(t, mustLoadCompose(t, envs), "app").Build.Target
		if !slices.ContainsFunc(stages, func(s stage) bool { return s.name == got }) {
			t.Errorf("APP_TARGET=%q: build target %q is no stage of the Dockerfile", target, got)
		}
	}
}

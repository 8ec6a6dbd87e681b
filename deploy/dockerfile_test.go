package deploy

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// A small reader of Dockerfiles: enough of the format (comments, line continuations, stages, shell
// words) to check this project's Dockerfile, not a general parser.

type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY, …
	args string // the rest, continuation lines joined
	line int
}

type stage struct {
	image string // after substitution of the global ARGs
	name  string // the AS name, lower case ("" when none)
	insts []instruction
}

type dockerfile struct {
	args   map[string]string // ARGs before the first FROM, with their defaults
	all    []instruction
	stages []stage
}

func parseDockerfile(t *testing.T, text string) dockerfile {
	t.Helper()
	df := dockerfile{args: map[string]string{}}
	var cur strings.Builder
	start := 0
	emit := func() {
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		df.all = append(df.all, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start})
		cur.Reset()
	}
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue // comments and blank lines, also inside a continued instruction
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if body, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(trimmed)
		emit()
	}
	if cur.Len() > 0 {
		t.Fatalf("Dockerfile:%d: instruction continued past the end of the file", start)
	}
	for _, in := range df.all {
		switch {
		case in.cmd == "FROM":
			f := shellFields(t, in.args)
			s := stage{image: os.Expand(f[0], func(k string) string { return df.args[k] })}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = strings.ToLower(f[2])
			} else if len(f) != 1 {
				t.Fatalf("Dockerfile:%d: FROM %s", in.line, in.args)
			}
			df.stages = append(df.stages, s)
		case len(df.stages) == 0:
			if in.cmd != "ARG" {
				t.Fatalf("Dockerfile:%d: %s before the first FROM", in.line, in.cmd)
			}
			k, v, _ := strings.Cut(in.args, "=")
			df.args[k] = v
		default:
			last := &df.stages[len(df.stages)-1]
			last.insts = append(last.insts, in)
		}
	}
	return df
}

func (df dockerfile) stage(t *testing.T, name string) stage {
	t.Helper()
	for _, s := range df.stages {
		if s.name == name {
			return s
		}
	}
	t.Fatalf("Dockerfile has no stage %q", name)
	return stage{}
}

func (s stage) find(cmd string) []instruction {
	var out []instruction
	for _, in := range s.insts {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// index is the position of the first instruction cmd of s whose arguments match re, or -1.
func (s stage) index(cmd string, re *regexp.Regexp) int {
	return slices.IndexFunc(s.insts, func(in instruction) bool { return in.cmd == cmd && re.MatchString(in.args) })
}

// env is what the stage's ENV instructions set.
func (s stage) env(t *testing.T) map[string]string {
	out := map[string]string{}
	for _, in := range s.find("ENV") {
		setEnv(t, out, in)
	}
	return out
}

// setEnv adds what an ENV instruction sets to m (both the k=v and the legacy "k v" forms).
func setEnv(t *testing.T, m map[string]string, in instruction) {
	f := shellFields(t, in.args)
	if len(f) == 0 {
		t.Fatalf("Dockerfile:%d: empty ENV", in.line)
	}
	if !strings.Contains(f[0], "=") {
		m[f[0]] = strings.Join(f[1:], " ")
		return
	}
	for _, kv := range f {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
}

// list reads the JSON-array or the space-separated form of VOLUME, EXPOSE, ENTRYPOINT.
func list(t *testing.T, in instruction) []string {
	if strings.HasPrefix(in.args, "[") {
		var out []string
		if err := json.Unmarshal([]byte(in.args), &out); err != nil {
			t.Fatalf("Dockerfile:%d: %s %s: %v", in.line, in.cmd, in.args, err)
		}
		return out
	}
	return shellFields(t, in.args)
}

// flags splits leading --name=value options (of COPY, RUN) from the rest of the words.
func flags(words []string) (map[string]string, []string) {
	opts := map[string]string{}
	for len(words) > 0 && strings.HasPrefix(words[0], "--") {
		k, v, _ := strings.Cut(strings.TrimPrefix(words[0], "--"), "=")
		opts[k], words = v, words[1:]
	}
	return opts, words
}

// shellFields splits s into words as a POSIX shell would for simple commands: whitespace separates,
// single and double quotes group, backslash escapes.
func shellFields(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				out, inWord = append(out, w.String()), false
				w.Reset()
			}
			continue
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				t.Fatalf("unterminated ' in %q", s)
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				w.WriteByte(s[i])
			}
			if i >= len(s) {
				t.Fatalf("unterminated \" in %q", s)
			}
		case c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
		default:
			w.WriteByte(c)
		}
		inWord = true
	}
	if inWord {
		out = append(out, w.String())
	}
	return out
}

// buildCommand is the builder stage's `go build`: its environment assignments and the arguments of go.
func buildCommand(t *testing.T, df dockerfile) (env, args []string) {
	t.Helper()
	b := df.stage(t, "builder")
	i := b.index("RUN", regexp.MustCompile(`\bgo build\b`))
	if i < 0 {
		t.Fatal("the builder stage runs no go build")
	}
	_, words := flags(shellFields(t, b.insts[i].args))
	for len(words) > 0 && regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`).MatchString(words[0]) {
		env, words = append(env, words[0]), words[1:]
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" || slices.Contains(words, "&&") || slices.Contains(words, ";") {
		t.Fatalf("Dockerfile:%d: want one plain `go build` command, got %q", b.insts[i].line, b.insts[i].args)
	}
	return env, words[1:]
}

// output is the -o of a go build's arguments.
func output(t *testing.T, args []string) int {
	t.Helper()
	i := slices.Index(args, "-o")
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("go build %q has no -o", args)
	}
	return i + 1
}

func goVersion(t *testing.T) string {
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+(?:\.\d+)?)\s*$`).FindStringSubmatch(readFile(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return m[1]
}

// The image stages: the default (last) one and the with-ffmpeg target.
var runtimeStages = []string{"runtime", "with-ffmpeg"}

func TestDockerfileStages(t *testing.T) {
	df := parseDockerfile(t, readFile(t, "Dockerfile"))
	if len(df.stages) < 2 {
		t.Fatalf("Dockerfile has %d stage(s), want a multi-stage build", len(df.stages))
	}

	// Builder: the official golang image of go.mod's Go version, modules downloaded in their own layer.
	b := df.stage(t, "builder")
	tag, ok := strings.CutPrefix(b.image, "golang:")
	if !ok {
		t.Fatalf("builder image %q, want golang:…", b.image)
	}
	tag, _, _ = strings.Cut(tag, "-")
	want := goVersion(t)
	minor := strings.Join(strings.SplitN(want, ".", 3)[:2], ".")
	if tag != want && tag != minor {
		t.Errorf("builder image golang:%s, want go.mod's Go %s (golang:%s)", tag, want, minor)
	}
	steps := []int{
		b.index("COPY", regexp.MustCompile(`^go\.mod go\.sum \./?$`)),
		b.index("RUN", regexp.MustCompile(`\bgo mod download\b`)),
		b.index("COPY", regexp.MustCompile(`^\. \.$`)),
		b.index("RUN", regexp.MustCompile(`\bgo build\b`)),
	}
	if slices.Contains(steps, -1) || !slices.IsSorted(steps) {
		t.Errorf("builder stage: want COPY go.mod go.sum, RUN go mod download, COPY . ., RUN go build in that order (at %v)", steps)
	}

	// The default image is the last stage: distroless static, non-root.
	last := df.stages[len(df.stages)-1]
	if last.name != "runtime" || !strings.HasPrefix(last.image, "gcr.io/distroless/static") || !strings.HasSuffix(last.image, ":nonroot") {
		t.Errorf("last (default) stage %q from %q, want runtime from gcr.io/distroless/static…:nonroot", last.name, last.image)
	}
	ff := df.stage(t, "with-ffmpeg")
	if !strings.HasPrefix(ff.image, "alpine:") || ff.index("RUN", regexp.MustCompile(`apk add .*\bffmpeg\b`)) < 0 {
		t.Errorf("with-ffmpeg: from %q, want alpine with `apk add … ffmpeg`", ff.image)
	}

	_, args := buildCommand(t, df)
	binary := args[output(t, args)]
	for _, name := range runtimeStages {
		t.Run(name, func(t *testing.T) { checkRuntimeStage(t, df.stage(t, name), binary) })
	}
}

func checkRuntimeStage(t *testing.T, s stage, binary string) {
	users := s.find("USER")
	if len(users) == 0 {
		t.Fatal("no USER: the image would run as root")
	}
	user := users[len(users)-1].args
	uid, _, _ := strings.Cut(user, ":")
	// Numeric, so that runtimes can verify it is not root (Kubernetes' runAsNonRoot needs that).
	if !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(uid) {
		t.Errorf("USER %q, want a numeric non-root uid", user)
	}

	env := s.env(t)
	for k, want := range map[string]string{
		"HOST":            "0.0.0.0",
		"PORT":            "8080",
		"MEDIA_DIRECTORY": "/data/media",
		"EMAIL_DIRECTORY": "/data/email",
		"LOG_FORMAT":      "json",
	} {
		if env[k] != want {
			t.Errorf("ENV %s=%q, want %q", k, env[k], want)
		}
	}
	if _, ok := env["DATABASE_URL"]; ok {
		t.Error("ENV DATABASE_URL: the database must be given when the container runs")
	}

	var volumes, exposed []string
	for _, in := range s.find("VOLUME") {
		volumes = append(volumes, list(t, in)...)
	}
	for _, in := range s.find("EXPOSE") {
		exposed = append(exposed, list(t, in)...)
	}
	if !slices.Contains(volumes, "/data") {
		t.Errorf("VOLUME %q, want /data", volumes)
	}
	if !slices.Contains(exposed, "8080") && !slices.Contains(exposed, "8080/tcp") {
		t.Errorf("EXPOSE %q, want 8080", exposed)
	}

	// /data is the non-root user's, so the named volume initialised from it is writable.
	var dataOwner, binaryDest string
	for _, in := range s.find("COPY") {
		opts, words := flags(shellFields(t, in.args))
		dest := strings.TrimSuffix(words[len(words)-1], "/")
		if dest == "/data" {
			dataOwner, _, _ = strings.Cut(opts["chown"], ":")
		}
		if opts["from"] == "builder" && slices.Contains(words[:len(words)-1], binary) {
			binaryDest = dest
		}
	}
	if dataOwner != uid {
		t.Errorf("/data is copied with owner %q, want the USER %q", dataOwner, uid)
	}
	if binaryDest == "" {
		t.Fatalf("no COPY --from=builder of %s", binary)
	}
	entry := s.find("ENTRYPOINT")
	if len(entry) == 0 {
		t.Fatal("no ENTRYPOINT")
	}
	if in := entry[len(entry)-1]; !strings.HasPrefix(in.args, "[") || list(t, in)[0] != binaryDest {
		t.Errorf("ENTRYPOINT %s, want the exec form running %s", in.args, binaryDest)
	}
}

// No secret, password or credential-bearing URL is baked into any stage.
func TestDockerfileBakesNoSecrets(t *testing.T) {
	df := parseDockerfile(t, readFile(t, "Dockerfile"))
	bad := regexp.MustCompile(`(?i)secret|passw|token|api_?key|credential|^(DATABASE_URL|MESSAGE_STORE_URL|SMTP_URL)$`)
	for _, in := range df.all {
		var keys []string
		switch in.cmd {
		case "ENV":
			m := map[string]string{}
			setEnv(t, m, in)
			for k := range m {
				keys = append(keys, k)
			}
		case "ARG":
			k, _, _ := strings.Cut(in.args, "=")
			keys = append(keys, k)
		}
		for _, k := range keys {
			if bad.MatchString(k) {
				t.Errorf("Dockerfile:%d: %s %s bakes a secret or credential into the image", in.line, in.cmd, k)
			}
		}
	}
	if regexp.MustCompile(`[a-z]+://[^/\s:@]+:[^/\s@]+@`).MatchString(readFile(t, "Dockerfile")) {
		t.Error("Dockerfile contains a URL with a password")
	}
}

// The Dockerfile's build command, run here as is (into a temporary file), gives a static binary.
func TestDockerfileBuildCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole program")
	}
	df := parseDockerfile(t, readFile(t, "Dockerfile"))
	env, args := buildCommand(t, df)
	if !slices.Contains(env, "CGO_ENABLED=0") {
		t.Errorf("go build runs with %q, want CGO_ENABLED=0", env)
	}
	for _, want := range []string{"-trimpath", "-ldflags=-s -w"} {
		if !slices.Contains(args, want) {
			t.Errorf("go build %q lacks %s", args, want)
		}
	}
	if args[len(args)-1] != "." {
		t.Errorf("go build %q does not build the module root", args)
	}

	bin := filepath.Join(t.TempDir(), "videotutorials")
	args = slices.Clone(args)
	args[output(t, args)] = bin
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = moduleRoot(t)
	// As in the golang image: a Linux target, no GOFLAGS of the caller's.
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOFLAGS=")
	cmd.Env = append(cmd.Env, env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has a PT_INTERP program header: it is dynamically linked")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %q", libs)
	}
	if f.Section(".symtab") != nil {
		t.Error("the binary has a symbol table: -ldflags=-s did not apply")
	}
	if f.Section(".debug_info") != nil || f.Section(".zdebug_info") != nil {
		t.Error("the binary has DWARF: -ldflags=-w did not apply")
	}

	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	// (With -trimpath, go does not record -ldflags: the sections above show them.)
	for k, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true"} {
		if settings[k] != want {
			t.Errorf("build setting %s=%q, want %q", k, settings[k], want)
		}
	}
}

// Everything `go build` reads is in the build context, and the junk is not.
func TestDockerignoreKeepsBuildInputs(t *testing.T) {
	root := moduleRoot(t)
	patterns, err := ignorefile.ReadAll(strings.NewReader(readFile(t, ".dockerignore")))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	ignored := func(rel string) bool {
		m, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		if err != nil {
			t.Fatalf(".dockerignore on %s: %v", rel, err)
		}
		return m
	}

	keep := []string{"go.mod", "go.sum", "main.go"}
	files, err := buildInputs(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("go list found no source file of the main package")
	}
	files = append(files, keep...)
	slices.Sort(files)
	for _, f := range slices.Compact(files) {
		if ignored(f) {
			t.Errorf(".dockerignore excludes %s, which go build needs", f)
		}
	}

	for _, junk := range []string{".git/HEAD", ".devdata/postgres/data/PG_VERSION", "videotutorials", "deploy/deploy.test", "cover.out"} {
		if !ignored(junk) {
			t.Errorf(".dockerignore lets %s into the build context", junk)
		}
	}
}

// buildInputs lists, relative to root, the files of the main module that building the main package
// reads: Go, assembly and embedded files of every package of the module it imports.
func buildInputs(root string) ([]string, error) {
	cmd := exec.Command("go", "list", "-e", "-deps", "-json=Dir,Module,GoFiles,CgoFiles,SFiles,HFiles,EmbedFiles", ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0", "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v\n%s", err, stderr.String())
	}
	var files []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			Dir                                           string
			Module                                        *struct{ Main bool }
			GoFiles, CgoFiles, SFiles, HFiles, EmbedFiles []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		if p.Module == nil || !p.Module.Main {
			continue
		}
		for _, f := range slices.Concat(p.GoFiles, p.CgoFiles, p.SFiles, p.HFiles, p.EmbedFiles) {
			rel, err := filepath.Rel(root, filepath.Join(p.Dir, f))
			if err != nil {
				return nil, err
			}
			files = append(files, rel)
		}
	}
	return files, nil
}

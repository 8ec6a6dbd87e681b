package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"videotutorials/messagestore"
)

// docs/CONTRACTS.md is what `go run . contracts` prints, byte for byte.
func TestContractsDocumentIsCurrent(t *testing.T) {
	contracts, err := systemContracts()
	if err != nil {
		t.Fatal(err)
	}
	want := renderContracts(contracts)
	got, err := os.ReadFile(filepath.Join("docs", "CONTRACTS.md"))
	if err != nil {
		t.Fatalf("%v\nGenerate it: go run . contracts > docs/CONTRACTS.md", err)
	}
	if string(got) == want {
		return
	}
	g, w := strings.Split(string(got), "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Fatalf("docs/CONTRACTS.md is out of date (line %d):\n  file: %q\n  code: %q\n"+
				"Regenerate it: go run . contracts > docs/CONTRACTS.md", i+1, gl, wl)
		}
	}
}

// Every message a contract subscribes to is in the registry, in the category it is read from; every
// category a contract owns or accepts has its messages registered.
func TestMessageRegistryCoversContracts(t *testing.T) {
	contracts, err := systemContracts()
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string]string{} // type → category
	for _, m := range messageRegistry {
		name := messagestore.TypeName(m.value)
		if _, dup := registered[name]; dup {
			t.Errorf("%s is registered twice", name)
		}
		if reflect.TypeOf(m.value).Kind() != reflect.Struct {
			t.Errorf("%s: register a struct value", name)
		}
		registered[name] = m.category
	}
	for _, c := range contracts {
		for _, s := range c.Subscribes {
			for _, typ := range s.Types {
				cat, ok := registered[typ]
				if !ok {
					t.Errorf("%s (%s) handles %s, which messageRegistry (contracts_doc.go) lacks", c.Name, s.SubscriberID, typ)
				} else if s.Category != messagestore.AllCategories && cat != s.Category {
					t.Errorf("%s (%s) reads %s from %s; messageRegistry puts it in %s", c.Name, s.SubscriberID, typ, s.Category, cat)
				}
			}
		}
		for _, cat := range slices.Concat(c.Owns, c.Accepts) {
			if !slices.ContainsFunc(messageRegistry, func(m messageDoc) bool { return m.category == cat }) {
				t.Errorf("%s owns or accepts %s, but messageRegistry has no message in it", c.Name, cat)
			}
		}
	}
}

// Every exported struct type of a …msg contract package is a registered message, so a new message
// cannot be left out of docs/CONTRACTS.md.
func TestMessageRegistryCoversMsgPackages(t *testing.T) {
	registered := map[string]bool{}
	for _, m := range messageRegistry {
		registered[reflect.TypeOf(m.value).PkgPath()+"."+messagestore.TypeName(m.value)] = true
	}
	packages := 0
	for _, root := range []string{"components", "app"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() || !strings.HasSuffix(d.Name(), "msg") {
				return err
			}
			packages++
			files, _ := filepath.Glob(filepath.Join(path, "*.go"))
			for _, file := range files {
				if strings.HasSuffix(file, "_test.go") {
					continue
				}
				f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
				if err != nil {
					return err
				}
				for _, decl := range f.Decls {
					gd, ok := decl.(*ast.GenDecl)
					if !ok || gd.Tok != token.TYPE {
						continue
					}
					for _, spec := range gd.Specs {
						ts := spec.(*ast.TypeSpec)
						if _, isStruct := ts.Type.(*ast.StructType); !isStruct || !ts.Name.IsExported() {
							continue
						}
						if key := "videotutorials/" + filepath.ToSlash(path) + "." + ts.Name.Name; !registered[key] {
							t.Errorf("%s is not in messageRegistry (contracts_doc.go)", key)
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if packages < 5 {
		t.Fatalf("found %d …msg packages, want at least 5", packages)
	}
}

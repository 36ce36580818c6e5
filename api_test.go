package agenttrust_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"sort"
	"strings"
	"testing"
)

// maxRootAPI is issue 12's bar for the root package: a newcomer can hold
// it in their head.
const maxRootAPI = 140

// TestRootAPISize counts the root package's exported identifiers as the
// issue does (funcs, types, consts and vars, and the methods of exported
// types; test files excluded), so the API cannot grow past its bar
// unnoticed. Move what serves one caller next to it instead.
func TestRootAPISize(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range pkgs["agenttrust"].Files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv == nil {
					names = append(names, d.Name.Name)
					continue
				}
				recv := d.Recv.List[0].Type
				if s, ok := recv.(*ast.StarExpr); ok {
					recv = s.X
				}
				if id, ok := recv.(*ast.Ident); ok && id.IsExported() {
					names = append(names, id.Name+"."+d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							names = append(names, s.Name.Name)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								names = append(names, n.Name)
							}
						}
					}
				}
			}
		}
	}
	if len(names) < 50 {
		t.Fatalf("counted only %d exported identifiers: the count is broken", len(names))
	}
	t.Logf("the root package exports %d identifiers (bar: at most %d)", len(names), maxRootAPI)
	if len(names) > maxRootAPI {
		sort.Strings(names)
		t.Errorf("the root package exports %d identifiers, more than %d:\n%s", len(names), maxRootAPI, strings.Join(names, "\n"))
	}
}

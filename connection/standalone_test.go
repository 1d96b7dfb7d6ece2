package connection

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Issue 23: the resolver stands alone — no file of package connection imports the runtime
// (extension/...); %setting% expansion lives in internal/settingexpr, shared with extension/expr.
func TestResolverStandsAlone(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "github.com/azbind/azbind/") && !strings.HasPrefix(p, "github.com/azbind/azbind/internal/") {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
}

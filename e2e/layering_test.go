package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// layers lists, for each top-level area, the Strata packages it may import
// (by path prefix below the module). Data flows one way, as
// docs/ARCHITECTURE.md draws it:
//
//	client → ingest → tiering → object store → cache → readers (compute)
//	meta (etcd) is used by all and imports none of them.
//
// ingest/batch is a leaf codec of Kafka record batches that tiering and
// compute may share; nothing else of ingest is visible to them.
var layers = map[string][]string{
	"meta":    {"meta"},
	"ingest":  {"ingest", "meta"},
	"tiering": {"tiering", "ingest/batch", "meta"},
	"cache":   {"cache", "tiering", "meta"},
	"compute": {"compute", "cache", "tiering", "ingest/batch", "meta"},
	"cmd":     {""}, // binaries wire everything together
	"e2e":     {""},
}

const module = "github.com/strata-log/strata/"

func TestImportLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		area := strings.SplitN(pkg, "/", 2)[0]
		allowed, ok := layers[area]
		if !ok {
			t.Errorf("package %s is outside the known top-level areas; add it to layers and docs/ARCHITECTURE.md", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			if !allowedImport(allowed, dep) {
				t.Errorf("%s imports %s: %s may import only %v", pkg, dep, area, allowed)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no internal imports found: is go list looking at the module?")
	}
}

func allowedImport(allowed []string, dep string) bool {
	for _, a := range allowed {
		if a == "" || dep == a || strings.HasPrefix(dep, a+"/") {
			return true
		}
	}
	return false
}

package emulator

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const modulePath = "github.com/azbind/azbind"

// InstallDir returns the directory holding the emulators' node_modules: $AZBIND_EMULATORS_DIR if
// set, else <module root>/emulators, where the module root is the nearest directory at or above the
// working directory whose go.mod declares module github.com/azbind/azbind.
func InstallDir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		abs, err := filepath.Abs(d)
		if err != nil {
			return "", fmt.Errorf("%w: %s=%q: %w", ErrNotInstalled, EnvDir, d, err)
		}
		return abs, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("%w: cannot get the working directory: %w", ErrNotInstalled, err)
	}
	for dir := wd; ; {
		if isModuleRoot(dir) {
			return filepath.Join(dir, "emulators"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", fmt.Errorf("%w: no go.mod of module %s at or above %s; run from the azbind repository or set %s to a directory containing node_modules",
		ErrNotInstalled, modulePath, wd, EnvDir)
}

func isModuleRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`) == modulePath
		}
	}
	return false
}

// notInstalled builds the error for a missing npm package file.
func notInstalled(what, path string) error {
	return fmt.Errorf("%w: %s not found at %s; install it with `%s` at the repository root (scripts/test does this), or set %s",
		ErrNotInstalled, what, path, InstallCommand, EnvDir)
}

// azuriteScript returns node and the path of Azurite's entry point.
func azuriteScript() (node, script string, err error) {
	dir, err := InstallDir()
	if err != nil {
		return "", "", err
	}
	script = filepath.Join(dir, "node_modules", "azurite", "dist", "src", "azurite.js")
	if _, err := os.Stat(script); err != nil {
		return "", "", notInstalled("azurite", script)
	}
	node, err = findNode()
	return node, script, err
}

// cosmosScript returns node and the path of cosmosdb-server's CLI, read from the "bin" field of
// its package.json.
func cosmosScript() (node, script string, err error) {
	dir, err := InstallDir()
	if err != nil {
		return "", "", err
	}
	pkgDir := filepath.Join(dir, "node_modules", "@vercel", "cosmosdb-server")
	pkgFile := filepath.Join(pkgDir, "package.json")
	raw, err := os.ReadFile(pkgFile)
	if err != nil {
		return "", "", notInstalled("@vercel/cosmosdb-server", pkgFile)
	}
	var pkg struct {
		Bin json.RawMessage `json:"bin"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		return "", "", fmt.Errorf("%w: %s: %w; reinstall with `%s`", ErrNotInstalled, pkgFile, err, InstallCommand)
	}
	var rel string
	var bins map[string]string
	if err := json.Unmarshal(pkg.Bin, &bins); err == nil {
		rel = bins["cosmosdb-server"]
	} else {
		_ = json.Unmarshal(pkg.Bin, &rel)
	}
	if rel == "" {
		return "", "", fmt.Errorf("%w: %s has no bin entry for cosmosdb-server; reinstall with `%s`", ErrNotInstalled, pkgFile, InstallCommand)
	}
	script = filepath.Join(pkgDir, filepath.FromSlash(rel))
	if _, err := os.Stat(script); err != nil {
		return "", "", notInstalled("cosmosdb-server", script)
	}
	node, err = findNode()
	return node, script, err
}

func findNode() (string, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("%w: node is not on PATH (Node 22 or later: Azurite 3.37 declares node >=22): %w", ErrNotInstalled, err)
	}
	return node, nil
}

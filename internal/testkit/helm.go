package testkit

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Helm returns a runner of the helm binary that the HELM_BIN environment
// variable names, for end-to-end tests against the real Helm CLI; it
// skips the test when HELM_BIN is unset (.ci/run builds helm and sets it).
// helm runs with a HOME, Helm and docker configuration of its own in a
// temporary directory and TZ=UTC; the runner fails the test when helm
// fails, and returns its combined output.
//
// Build helm with: GOBIN=/tmp/helm-bin go install helm.sh/helm/v3/cmd/helm@v3.22.0
// then run the tests with HELM_BIN=/tmp/helm-bin/helm.
func Helm(t testing.TB) func(t testing.TB, args ...string) string {
	t.Helper()
	helm := os.Getenv("HELM_BIN")
	if helm == "" {
		t.Skip("HELM_BIN is not set; set it to a helm v3 binary to run this test")
	}
	home := t.TempDir()
	env := append(os.Environ(),
		"HOME="+home,
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"DOCKER_CONFIG="+filepath.Join(home, "docker"),
		"TZ=UTC",
	)
	return func(t testing.TB, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(context.Background(), helm, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
}

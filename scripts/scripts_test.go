package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/teredorelay/teredorelay/internal/testenv"
)

// fakeApt writes an apt-get stand-in that logs whether the policy-rc.d is
// in force while it runs, then does what mode says: "ok", "fail" (exit 100)
// or "term" (SIGTERM to install-deps.sh).
func fakeApt(t *testing.T, dir, policy, mode string) (apt, log string) {
	t.Helper()
	apt, log = filepath.Join(dir, "apt-get"), filepath.Join(dir, "apt.log")
	script := `#!/bin/sh
if [ -x "` + policy + `" ]; then "` + policy + `"; echo "$1 policy-rc.d exits $?" >>"` + log + `"; else echo "$1 no policy-rc.d" >>"` + log + `"; fi
[ "$1" = install ] || exit 0
case ` + mode + ` in
fail) exit 100 ;;
term) kill -TERM $PPID; sleep 1 ;;
esac
exit 0
`
	if err := os.WriteFile(apt, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return apt, log
}

func runInstallDeps(t *testing.T, policy, apt string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", "install-deps.sh")
	cmd.Env = append(os.Environ(), "INSTALL_DEPS_POLICY_RC_D="+policy, "INSTALL_DEPS_APT_GET="+apt,
		"INSTALL_DEPS_PACKAGES=teredo-relayd-no-such-package-for-a-test")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestInstallDepsRemovesItsPolicyRcD: when there was no policy-rc.d, the
// script installs with one that forbids service starts (exit 101) and
// removes it afterwards, also when apt-get fails or the script is
// terminated; a policy-rc.d that was there is left as it was.
func TestInstallDepsRemovesItsPolicyRcD(t *testing.T) {
	testenv.RequireRoot(t) // the script installs only as root
	for _, mode := range []string{"ok", "fail", "term"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			policy := filepath.Join(dir, "policy-rc.d")
			apt, log := fakeApt(t, dir, policy, mode)
			out, err := runInstallDeps(t, policy, apt)
			if (err == nil) != (mode == "ok") {
				t.Errorf("exit: %v, want success only for ok\n%s", err, out)
			}
			seen, _ := os.ReadFile(log)
			if string(seen) != "update policy-rc.d exits 101\ninstall policy-rc.d exits 101\n" {
				t.Errorf("apt-get saw %q, want the policy-rc.d forbidding starts in force", seen)
			}
			if _, err := os.Lstat(policy); !os.IsNotExist(err) {
				t.Errorf("policy-rc.d left behind (%v)\n%s", err, out)
			}
		})
	}
	t.Run("existing policy-rc.d stays", func(t *testing.T) {
		dir := t.TempDir()
		policy := filepath.Join(dir, "policy-rc.d")
		own := "#!/bin/sh\n# the administrator's\nexit 0\n"
		if err := os.WriteFile(policy, []byte(own), 0o755); err != nil {
			t.Fatal(err)
		}
		apt, _ := fakeApt(t, dir, policy, "ok")
		if out, err := runInstallDeps(t, policy, apt); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if b, err := os.ReadFile(policy); err != nil || string(b) != own {
			t.Errorf("the existing policy-rc.d changed: %q %v", b, err)
		}
	})
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// TestVersionForms runs version.sh in a scratch copy: before the first tag,
// on the tag, past it, with uncommitted changes, and without git.
func TestVersionForms(t *testing.T) {
	testenv.RequireBinary(t, "git")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("version.sh")
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"scripts/version.sh": string(script), "VERSION": "0.1.0\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	version := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("sh", append([]string{filepath.Join(dir, "scripts/version.sh")}, args...)...).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	if got := version(); got != "0.1.0" {
		t.Errorf("without git: %q, want the VERSION file", got)
	}
	if got := version("revision"); got != "unknown" {
		t.Errorf("revision without git: %q", got)
	}
	git(t, dir, "init", "-q")
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-qm", "one")
	if got := version(); !regexp.MustCompile(`^0\.1\.0~dev\.g[0-9a-f]{7}$`).MatchString(got) {
		t.Errorf("before the first tag: %q", got)
	}
	git(t, dir, "tag", "-a", "v0.1.0", "-m", "teredo-relayd 0.1.0")
	if got := version(); got != "0.1.0" {
		t.Errorf("on v0.1.0: %q", got)
	}
	git(t, dir, "commit", "-q", "--allow-empty", "-m", "two")
	git(t, dir, "commit", "-q", "--allow-empty", "-m", "three")
	if got := version(); !regexp.MustCompile(`^0\.1\.0\+2\.g[0-9a-f]{7}$`).MatchString(got) {
		t.Errorf("two commits past v0.1.0: %q", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "VERSION"), []byte("0.2.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := version(); !strings.HasSuffix(got, ".dirty") {
		t.Errorf("with uncommitted changes: %q", got)
	}
	if got := version("revision"); !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(got) {
		t.Errorf("revision: %q", got)
	}
	// Debian orders them as releases go.
	if testenv.InCI() || lookPath("dpkg") {
		for _, pair := range [][2]string{{"0.1.0~dev.gabc1234", "0.1.0"}, {"0.1.0", "0.1.0+2.gabc1234"}, {"0.1.0+2.gabc1234", "0.1.0+2.gabc1234.dirty"}, {"0.1.0+10.g0000000", "0.2.0~dev.g0000000"}} {
			if err := exec.Command("dpkg", "--compare-versions", pair[0], "lt", pair[1]).Run(); err != nil {
				t.Errorf("dpkg: %s is not before %s", pair[0], pair[1])
			}
		}
	}
}

func lookPath(name string) bool { _, err := exec.LookPath(name); return err == nil }

// The VERSION file and the newest entry of the Debian changelog name the
// same release; a development build gets its own entry on top.
func TestChangelogAndVersion(t *testing.T) {
	v, err := os.ReadFile("../VERSION")
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(v))
	cl, err := os.ReadFile("../deploy/debian/changelog")
	if err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(string(cl), "\n"); first != "teredo-relayd ("+version+") unstable; urgency=medium" {
		t.Errorf("changelog starts %q, want the release %s of VERSION", first, version)
	}
	out, err := exec.Command("sh", "deb-changelog.sh", version).Output()
	if err != nil || string(out) != string(cl) {
		t.Errorf("release build: the changelog changed (%v)", err)
	}
	out, err = exec.Command("sh", "deb-changelog.sh", version+"+3.gabc1234").Output()
	if err != nil || !strings.HasPrefix(string(out), "teredo-relayd ("+version+"+3.gabc1234) UNRELEASED; urgency=medium\n") ||
		!strings.HasSuffix(string(out), string(cl)) {
		t.Errorf("development build: %v\n%s", err, out)
	}
	if testenv.InCI() || lookPath("dpkg-parsechangelog") {
		cmd := exec.Command("dpkg-parsechangelog", "-l-", "-SVersion")
		cmd.Stdin = strings.NewReader(string(out))
		if got, err := cmd.Output(); err != nil || strings.TrimSpace(string(got)) != version+"+3.gabc1234" {
			t.Errorf("dpkg-parsechangelog: %q %v", got, err)
		}
	}
}

// debCommands reads DEB_COMMANDS from the Makefile: the packaged commands.
func debCommands(t *testing.T) []string {
	t.Helper()
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)DEB_COMMANDS := \\\n(.*?)\n[A-Z]`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("no DEB_COMMANDS in the Makefile")
	}
	var cmds []string
	for _, f := range strings.Fields(strings.ReplaceAll(string(m[1]), "\\", "")) {
		name, _, _ := strings.Cut(f, ":")
		cmds = append(cmds, "./cmd/"+name)
	}
	return cmds
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if p := filepath.Join(os.Getenv("GOROOT"), "bin", "go"); os.Getenv("GOROOT") != "" {
		return p
	}
	return "/usr/local/go/bin/go"
}

// The package's copyright file names every Go module its commands link.
func TestCopyrightNamesLinkedModules(t *testing.T) {
	cmds := debCommands(t)
	if len(cmds) < 3 {
		t.Fatalf("DEB_COMMANDS: %v", cmds)
	}
	cmd := exec.Command(goTool(), append([]string{"list", "-deps", "-f", "{{with .Module}}{{if not .Main}}{{.Path}}{{end}}{{end}}"}, cmds...)...)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	cr, err := os.ReadFile("../deploy/debian/copyright")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range strings.Fields(string(out)) {
		if seen[m] {
			continue
		}
		seen[m] = true
		if !regexp.MustCompile(`(?m)^(Files:)? ` + regexp.QuoteMeta(m) + `/\*$`).Match(cr) {
			t.Errorf("deploy/debian/copyright has no stanza for the Go module %s, which the packaged commands link", m)
		}
	}
	if len(seen) < 10 {
		t.Fatalf("only %d modules: %v", len(seen), seen)
	}
}

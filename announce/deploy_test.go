package announce

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/teredorelay/teredorelay/config"
	"github.com/teredorelay/teredorelay/internal/testenv"
)

// The deployment files in deploy/bird (see deploy/README.md).
const (
	deployDir         = "../deploy/bird/"
	relayBirdConfPath = deployDir + "bird.conf"
	ixBirdConfPath    = deployDir + "ix-peer.conf"
	tmpfilesPath      = deployDir + "teredo-relayd-bird.tmpfiles.conf"
	withdrawScript    = deployDir + "teredo-announce-withdraw"
	announceUnitPath  = deployDir + "teredo-announce.service"
	dropInPath        = deployDir + "teredo-relayd.service.d/announce.conf"
	relaydUnitPath    = "../deploy/teredo-relayd.service"
)

func readDeploy(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The example files agree with the daemon's defaults: one include path,
// one set name, one birdc socket everywhere.
func TestDeployFilesAgreeWithDefaults(t *testing.T) {
	inc := config.DefaultAnnounceInclude
	for _, f := range []string{relayBirdConfPath, tmpfilesPath, withdrawScript} {
		if !strings.Contains(readDeploy(t, f), inc) {
			t.Errorf("%s does not use the default include file %s", f, inc)
		}
	}
	relay := readDeploy(t, relayBirdConfPath)
	if !strings.Contains(relay, `include "`+inc+`";`) || !strings.Contains(relay, "net ~ "+config.DefaultAnnounceSetName) ||
		!strings.Contains(relay, "route 2001::/32 blackhole;") || !strings.Contains(relay, "bfd on;") {
		t.Errorf("%s lacks the include, the export filter on %s, the static route or BFD", relayBirdConfPath, config.DefaultAnnounceSetName)
	}
	script := readDeploy(t, withdrawScript)
	for _, want := range []string{config.DefaultBirdc, config.DefaultBirdSocket, config.DefaultAnnounceSetName} {
		if !strings.Contains(script, want) {
			t.Errorf("%s lacks the default %s", withdrawScript, want)
		}
	}
	dir := filepath.Dir(inc)
	for _, f := range []string{dropInPath, announceUnitPath} {
		if !strings.Contains(readDeploy(t, f), "ReadWritePaths="+dir) {
			t.Errorf("%s does not make %s writable", f, dir)
		}
	}
	unit := readDeploy(t, announceUnitPath)
	for _, want := range []string{"BindsTo=teredo-relayd.service", "ExecStop=/usr/libexec/teredo-relayd/teredo-announce-withdraw"} {
		if !strings.Contains(unit, want) {
			t.Errorf("%s lacks %s", announceUnitPath, want)
		}
	}
}

// The tmpfiles entry creates, at boot, exactly the withdrawn definition the
// driver writes.
func TestDeployTmpfilesWritesWithdrawn(t *testing.T) {
	var content string
	for _, line := range strings.Split(readDeploy(t, tmpfilesPath), "\n") {
		f := strings.Fields(line)
		if len(f) >= 7 && f[0] == "f" && f[1] == config.DefaultAnnounceInclude {
			content = strings.Join(f[6:], " ")
		}
	}
	rendered := strings.Split(strings.TrimSpace(string(Render(DefaultSetName, DefaultPrefixes, false))), "\n")
	if want := rendered[len(rendered)-1]; content != want {
		t.Fatalf("tmpfiles content %q, want the driver's withdrawn definition %q", content, want)
	}
}

// Both example BIRD configurations pass BIRD's own parser, the relay side
// with the include file in each of its two states.
func TestDeployBirdConfigsParse(t *testing.T) {
	testenv.RequireBinary(t, "bird")
	dir := t.TempDir()
	inc := filepath.Join(dir, "announce.conf")
	relay := strings.Replace(readDeploy(t, relayBirdConfPath), config.DefaultAnnounceInclude, inc, 1)
	conf := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(conf, []byte(relay), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, announce := range []bool{true, false} {
		if err := writeAtomic(inc, Render(DefaultSetName, DefaultPrefixes, announce)); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("bird", "-p", "-c", conf).CombinedOutput(); err != nil {
			t.Errorf("bird -p %s (%s): %v\n%s", relayBirdConfPath, stateName(announce), err, out)
		}
	}
	if out, err := exec.Command("bird", "-p", "-c", ixBirdConfPath).CombinedOutput(); err != nil {
		t.Errorf("bird -p %s: %v\n%s", ixBirdConfPath, err, out)
	}
	// The parser does catch mistakes: the include file missing.
	os.Remove(inc)
	if out, err := exec.Command("bird", "-p", "-c", conf).CombinedOutput(); err == nil || !bytes.Contains(out, []byte("Unable to open included file")) {
		t.Errorf("bird -p accepted a missing include file: %v %s", err, out)
	}
}

// teredo-announce-withdraw writes the withdrawn include and succeeds only
// when BIRD confirms; the include is written even when birdc fails.
func TestDeployWithdrawScript(t *testing.T) {
	testenv.RequireBinary(t, "sh")
	tests := []struct {
		name, birdc string
		wantOK      bool
		wantStderr  string
	}{
		{"confirmed", `printf '0001 BIRD 2.0.12 ready.\n0002-Reading configuration from x\n0003 Reconfigured\n'`, true, ""},
		{"queued", `printf '0001 BIRD 2.0.12 ready.\n0005 Reconfiguration already in progress, queueing new config\n'`, true, ""},
		{"birdc fails", `echo "Unable to connect to server control socket (x): No such file or directory"; exit 1`, false,
			"teredo-announce-withdraw: birdc configure failed: Unable to connect"},
		{"bird error", `printf '0001 BIRD 2.0.12 ready.\n8002 a.conf:2:10 syntax error\n'`, false, "BIRD did not confirm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			birdc := filepath.Join(dir, "birdc")
			if err := os.WriteFile(birdc, []byte("#!/bin/sh\necho \"$@\" > "+dir+"/args\n"+tt.birdc+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			inc := filepath.Join(dir, "run", "announce.conf")
			if err := writeAtomic(inc, Render("ACAST6", DefaultPrefixes, true)); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(withdrawScript)
			cmd.Env = []string{"PATH=/usr/bin:/bin", "INCLUDE_FILE=" + inc, "SET_NAME=ACAST6", "BIRDC=" + birdc, "BIRD_SOCKET=" + dir + "/bird.ctl"}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if (err == nil) != tt.wantOK || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Fatalf("exit %v, stderr %q; want ok=%v and %q", err, stderr.String(), tt.wantOK, tt.wantStderr)
			}
			got := readDeploy(t, inc)
			if !strings.HasSuffix(got, "define ACAST6 = [ ::/128 ];\n") {
				t.Errorf("include after withdraw:\n%s", got)
			}
			if fi, err := os.Stat(inc); err != nil || fi.Mode().Perm() != IncludeMode {
				t.Errorf("include mode %v %v", fi.Mode().Perm(), err)
			}
			if args := readDeploy(t, dir+"/args"); args != "-v -s "+dir+"/bird.ctl configure\n" {
				t.Errorf("birdc args %q", args)
			}
			if ents, _ := os.ReadDir(filepath.Dir(inc)); len(ents) != 1 {
				t.Errorf("temporary files left: %v", ents)
			}
		})
	}
}

// systemd accepts the announce unit and the drop-in together with the
// daemon's unit (executables replaced by ones that exist here).
func TestDeploySystemdUnitsVerify(t *testing.T) {
	testenv.RequireBinary(t, "systemd-analyze")
	abs, err := filepath.Abs(withdrawScript)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("teredo-announce.service", strings.ReplaceAll(readDeploy(t, announceUnitPath), "/usr/libexec/teredo-relayd/teredo-announce-withdraw", abs))
	write("teredo-relayd.service", strings.NewReplacer("/usr/sbin/teredo-relayd", "/bin/true", "/bin/kill", "/bin/true").Replace(readDeploy(t, relaydUnitPath)))
	write("teredo-relayd.service.d/announce.conf", readDeploy(t, dropInPath))
	cmd := exec.Command("systemd-analyze", "verify", "--man=no", "teredo-announce.service", "teredo-relayd.service")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

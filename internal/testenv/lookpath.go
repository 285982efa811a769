package testenv

import "os/exec"

var lookPath = exec.LookPath

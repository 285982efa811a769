package bench

import "os"

var readFile = os.ReadFile

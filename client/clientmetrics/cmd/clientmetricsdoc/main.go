// Command clientmetricsdoc prints docs/client-metrics.md.
package main

import (
	"fmt"

	"github.com/teredorelay/teredorelay/client/clientmetrics"
)

func main() { fmt.Print(clientmetrics.Markdown()) }

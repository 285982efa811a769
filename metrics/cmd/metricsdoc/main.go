// Command metricsdoc prints docs/metrics.md, the table of every metric
// teredo-relayd exports, from the metrics package's descriptors.
//
//	go run ./metrics/cmd/metricsdoc > docs/metrics.md
package main

import (
	"fmt"

	"github.com/teredorelay/teredorelay/metrics"
)

func main() { fmt.Print(metrics.Markdown()) }

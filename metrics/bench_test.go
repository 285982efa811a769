package metrics_test

import (
	"testing"

	"github.com/teredorelay/teredorelay/metrics"
	"github.com/teredorelay/teredorelay/metrics/metricstest"
)

// BenchmarkScrape measures one gather of the collector over the sample
// source (59 series); scrapes happen every 15 s, never on the packet path.
func BenchmarkScrape(b *testing.B) {
	reg := metrics.NewRegistry(metricstest.Sample(), testBuild)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

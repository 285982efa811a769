package metrics

import "time"

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

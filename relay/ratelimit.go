package relay

// tokenBucket limits events to rate per second with bursts of up to burst.
// Time comes from the caller (nanoseconds, monotonic). Not safe for
// concurrent use: the slow path owns it.
type tokenBucket struct {
	rate   float64 // tokens per nanosecond; <= 0 denies everything
	burst  float64
	tokens float64
	last   int64
	init   bool
}

func newTokenBucket(perSecond float64, burst int) tokenBucket {
	return tokenBucket{rate: perSecond / 1e9, burst: float64(burst), tokens: float64(burst)}
}

// allow takes one token if available at time now.
func (b *tokenBucket) allow(now int64) bool {
	if b.rate <= 0 {
		return false
	}
	if !b.init {
		b.init, b.last = true, now
	}
	if now > b.last {
		b.tokens += float64(now-b.last) * b.rate
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

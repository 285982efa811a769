package xsk

// frameStack is the LIFO of free chunk addresses: O(1) push and pop, and the
// most recently freed (cache-warm) chunk is reused first. Its capacity is the
// number of frames in the UMEM, so a push onto a full stack is a double free.
type frameStack struct {
	addrs []uint64
	n     int
}

func newFrameStack(numFrames int) frameStack {
	return frameStack{addrs: make([]uint64, numFrames)}
}

// reset marks every frame free: chunk i at i*frameSize, chunk 0 on top.
func (s *frameStack) reset(frameSize uint64) {
	last := len(s.addrs) - 1
	for i := range s.addrs {
		s.addrs[i] = uint64(last-i) * frameSize
	}
	s.n = len(s.addrs)
}

func (s *frameStack) len() int { return s.n }

func (s *frameStack) push(addr uint64) bool {
	if s.n == len(s.addrs) {
		return false
	}
	s.addrs[s.n] = addr
	s.n++
	return true
}

func (s *frameStack) pop() (uint64, bool) {
	if s.n == 0 {
		return 0, false
	}
	s.n--
	return s.addrs[s.n], true
}

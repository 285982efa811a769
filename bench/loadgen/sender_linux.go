//go:build linux

package loadgen

import (
	"errors"
	"fmt"
)

// probeLiveFrames is ProbeLiveFrames; tests replace it to play a kernel that
// refuses live frames.
var probeLiveFrames = ProbeLiveFrames

// Sender is what the generators of one topology share: the method, the
// devices, and for the AF_XDP method the sockets on those devices. Open it,
// and call its generators' Send, on threads inside the generator namespace;
// one generator sends at a time.
type Sender struct {
	method  Method
	devs    Devices
	refused error       // why Auto did not use live frames
	ports   [2]*xskPort // AF_XDP: by slot egress
}

// Devices are the generator's interfaces (ifindexes in its namespace).
type Devices struct {
	// TX sends the slots marked egressTX (the Teredo side).
	TX int
	// Redirect sends the slots marked egressRedirect (the native side);
	// 0 when no traffic needs it.
	Redirect int
}

// Open chooses the method and prepares it. Auto probes live frames with a
// one-frame run out of devs.TX (ProbeLiveFrames) and falls back to AF_XDP
// when the kernel refuses them (LiveFramesRefused says why); LiveFrames
// fails when they are refused; AFXDP opens the sockets.
func Open(m Method, devs Devices) (*Sender, error) {
	if devs.TX <= 0 {
		return nil, errors.New("loadgen: no transmit device")
	}
	s := &Sender{method: m, devs: devs}
	switch m {
	case Auto:
		if err := probeLiveFrames(devs.TX); err != nil {
			s.refused = err
			s.method = AFXDP
		} else {
			s.method = LiveFrames
		}
	case LiveFrames:
		if err := probeLiveFrames(devs.TX); err != nil {
			return nil, fmt.Errorf("loadgen: live frames requested: %w", err)
		}
	case AFXDP:
	default:
		return nil, fmt.Errorf("loadgen: unknown method %q", m)
	}
	if s.method == AFXDP {
		var err error
		if s.ports[egressTX], err = openXskPort(devs.TX); err != nil {
			return nil, s.withRefusal(err)
		}
		if devs.Redirect > 0 {
			if s.ports[egressRedirect], err = openXskPort(devs.Redirect); err != nil {
				s.Close()
				return nil, s.withRefusal(err)
			}
		}
	}
	return s, nil
}

// withRefusal adds the live-frames refusal to an AF_XDP error: with Auto,
// both generators failed.
func (s *Sender) withRefusal(err error) error {
	if s.refused != nil {
		return fmt.Errorf("loadgen: no generator works here: %w; and %w", s.refused, err)
	}
	return fmt.Errorf("loadgen: %w", err)
}

// Method returns the method in use (never Auto).
func (s *Sender) Method() Method { return s.method }

// LiveFramesRefused returns the probe's error when Auto fell back to AF_XDP
// (nil otherwise).
func (s *Sender) LiveFramesRefused() error { return s.refused }

// New returns a generator of t with a send timestamp on one frame in
// probeEvery (a power of two; 0 means DefaultProbeEvery).
func (s *Sender) New(t Traffic, probeEvery uint64) (Generator, error) {
	if err := t.check(); err != nil {
		return nil, fmt.Errorf("new generator: %w", err)
	}
	probeEvery, err := checkProbeEvery(probeEvery)
	if err != nil {
		return nil, fmt.Errorf("new generator: %w", err)
	}
	if t.Redirect() && s.devs.Redirect <= 0 {
		return nil, fmt.Errorf("new generator: %s traffic needs a redirect device", t.Name)
	}
	var g Generator
	switch s.method {
	case LiveFrames:
		g, err = newLiveGen(t, s.devs.TX, s.devs.Redirect, probeEvery)
	default:
		g, err = newXskGen(t, s.ports, probeEvery)
	}
	if err != nil {
		return nil, fmt.Errorf("new %s generator: %w", s.method, err)
	}
	return g, nil
}

// Close closes the AF_XDP sockets (the generators of s are void afterwards).
func (s *Sender) Close() error {
	var errs []error
	for i, p := range s.ports {
		if p != nil {
			errs = append(errs, p.close())
			s.ports[i] = nil
		}
	}
	return errors.Join(errs...)
}

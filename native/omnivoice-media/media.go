package main

// Audio both ways: the caller's PCM16 -> a published track (PCMU at 8 kHz, no transcoding
// beyond G.711; Opus at other rates), and the agent's Opus track -> PCM16 frames.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"gopkg.in/hraban/opus.v2"
)

// callerTrack publishes the caller's audio in 20 ms packets.
type callerTrack struct {
	track *lksdk.LocalTrack
	rate  int           // Hz of the PCM16 pushed in
	enc   *opus.Encoder // nil: PCMU
	mu    sync.Mutex
	buf   []int16 // samples waiting for a whole packet
	out   []byte
}

func newCallerTrack(rateHz, opusComplexity int) (*callerTrack, error) {
	t := &callerTrack{rate: rateHz}
	capability := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}
	if rateHz != 8000 {
		enc, err := opus.NewEncoder(rateHz, 1, opus.AppVoIP)
		if err != nil {
			return nil, fmt.Errorf("opus encoder at %d Hz: %w", rateHz, err)
		}
		if err := enc.SetComplexity(opusComplexity); err != nil {
			return nil, fmt.Errorf("opus complexity %d: %w", opusComplexity, err)
		}
		t.enc = enc
		capability = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}
	}
	track, err := lksdk.NewLocalTrack(capability)
	if err != nil {
		return nil, fmt.Errorf("caller track: %w", err)
	}
	t.track = track
	return t, nil
}

func (t *callerTrack) codec() string {
	if t.enc == nil {
		return "pcmu"
	}
	return "opus"
}

func (t *callerTrack) packetSamples() int { return t.rate / 50 }

// push takes PCM16 LE mono; whole 20 ms packets are sent at once, the rest waits.
func (t *callerTrack) push(pcm []byte) error {
	if len(pcm)%2 != 0 {
		return fmt.Errorf("caller audio of %d bytes is not whole 16-bit samples", len(pcm))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := 0; i < len(pcm); i += 2 {
		t.buf = append(t.buf, int16(binary.LittleEndian.Uint16(pcm[i:])))
	}
	n := t.packetSamples()
	for len(t.buf) >= n {
		if err := t.send(t.buf[:n]); err != nil {
			return err
		}
		t.buf = append(t.buf[:0], t.buf[n:]...)
	}
	return nil
}

func (t *callerTrack) send(samples []int16) error {
	if t.enc == nil {
		t.out = ulawEncode(t.out[:0], samples)
	} else {
		if cap(t.out) < 1500 {
			t.out = make([]byte, 1500)
		}
		n, err := t.enc.Encode(samples, t.out[:1500])
		if err != nil {
			return fmt.Errorf("opus encode: %w", err)
		}
		t.out = t.out[:n]
	}
	// WriteSample copies into RTP packets; a track not yet bound drops the sample.
	return t.track.WriteSample(media.Sample{Data: t.out, Duration: sampleDuration}, nil)
}

func (t *callerTrack) clear() {
	t.mu.Lock()
	t.buf = t.buf[:0]
	t.mu.Unlock()
}

func (t *callerTrack) close() { _ = t.track.Close() }

// agentAudioPump decodes the agent's track to PCM16 frames of frameMs at rateHz.
type agentAudioPump struct {
	track       *webrtc.TrackRemote
	dec         *opus.Decoder
	pcmu        bool
	frameBytes  int
	pcm         []int16
	pending     []byte
	lastSeq     uint16
	havePackets bool
}

// maxConcealedPackets bounds loss concealment after a gap in sequence numbers.
const maxConcealedPackets = 5

func newAgentAudioPump(track *webrtc.TrackRemote, rateHz, frameMs int) (*agentAudioPump, error) {
	p := &agentAudioPump{track: track, frameBytes: rateHz * frameMs / 1000 * 2, pcm: make([]int16, rateHz*120/1000)}
	mime := strings.ToLower(track.Codec().MimeType)
	switch mime {
	case strings.ToLower(webrtc.MimeTypeOpus):
		dec, err := opus.NewDecoder(rateHz, 1)
		if err != nil {
			return nil, fmt.Errorf("opus decoder at %d Hz: %w", rateHz, err)
		}
		p.dec = dec
	case strings.ToLower(webrtc.MimeTypePCMU):
		if rateHz != 8000 {
			return nil, fmt.Errorf("a PCMU agent track needs subscribe_rate_hz 8000, not %d", rateHz)
		}
		p.pcmu = true
	default:
		return nil, fmt.Errorf("agent track codec %s is not supported", mime)
	}
	return p, nil
}

func (p *agentAudioPump) run(emit func([]byte) error) {
	for {
		packet, _, err := p.track.ReadRTP()
		if err != nil {
			return // track ended or the room closed
		}
		if err := p.decode(packet, emit); err != nil {
			if errors.Is(err, errEmit) {
				return
			}
			continue // one undecodable packet is skipped, not fatal
		}
	}
}

var errEmit = errors.New("agent audio not delivered")

func (p *agentAudioPump) decode(packet *rtp.Packet, emit func([]byte) error) error {
	if len(packet.Payload) == 0 {
		return nil
	}
	if p.havePackets {
		gap := packet.SequenceNumber - p.lastSeq
		if gap == 0 || gap > 0x8000 {
			return nil // duplicate or reordered late packet
		}
		for missing := min(int(gap)-1, maxConcealedPackets); missing > 0 && p.dec != nil; missing-- {
			if n, err := p.dec.LastPacketDuration(); err == nil && n > 0 && n <= len(p.pcm) {
				// DecodePLC conceals cap(pcm) samples: cap it at one packet
				if err := p.dec.DecodePLC(p.pcm[:n:n]); err == nil {
					if err := p.append(p.pcm[:n], emit); err != nil {
						return err
					}
				}
			}
		}
	}
	p.lastSeq, p.havePackets = packet.SequenceNumber, true
	if p.pcmu {
		samples := p.pcm[:0]
		for _, b := range packet.Payload {
			samples = append(samples, ulawDecodeSample(b))
		}
		return p.append(samples, emit)
	}
	n, err := p.dec.Decode(packet.Payload, p.pcm)
	if err != nil {
		return err
	}
	return p.append(p.pcm[:n], emit)
}

func (p *agentAudioPump) append(samples []int16, emit func([]byte) error) error {
	for _, s := range samples {
		p.pending = binary.LittleEndian.AppendUint16(p.pending, uint16(s))
	}
	for len(p.pending) >= p.frameBytes {
		frame := make([]byte, p.frameBytes)
		copy(frame, p.pending)
		p.pending = append(p.pending[:0], p.pending[p.frameBytes:]...)
		if err := emit(frame); err != nil {
			return errEmit
		}
	}
	return nil
}

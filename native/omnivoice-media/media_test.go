package main

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/pion/rtp"
	"gopkg.in/hraban/opus.v2"
)

func tonePCM(rate, ms int) []int16 {
	out := make([]int16, rate*ms/1000)
	for i := range out {
		out[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/float64(rate)))
	}
	return out
}

func pcmBytes(samples []int16) []byte {
	out := make([]byte, 0, 2*len(samples))
	for _, s := range samples {
		out = binary.LittleEndian.AppendUint16(out, uint16(s))
	}
	return out
}

func TestCallerTrackSendsWholePacketsAndKeepsTheRest(t *testing.T) {
	caller, err := newCallerTrack(8000, 5)
	if err != nil {
		t.Fatal(err)
	}
	if caller.codec() != "pcmu" {
		t.Fatalf("codec %s at 8 kHz, want pcmu", caller.codec())
	}
	if err := caller.push(pcmBytes(tonePCM(8000, 30))); err != nil { // unbound track: dropped, no error
		t.Fatal(err)
	}
	if len(caller.buf) != 80 || len(caller.out) != 160 {
		t.Fatalf("after 30 ms: %d samples wait (want 80), last packet %d bytes (want 160)", len(caller.buf), len(caller.out))
	}
	caller.clear()
	if len(caller.buf) != 0 {
		t.Fatal("clear kept samples")
	}
	if err := caller.push([]byte{1, 2, 3}); err == nil || err.Error() != "caller audio of 3 bytes is not whole 16-bit samples" {
		t.Fatalf("err = %v", err)
	}
}

func TestCallerTrackEncodesOpusAtOtherRates(t *testing.T) {
	caller, err := newCallerTrack(16000, 0)
	if err != nil {
		t.Fatal(err)
	}
	if caller.codec() != "opus" || caller.track.Codec().ClockRate != 48000 {
		t.Fatalf("codec %s clock %d", caller.codec(), caller.track.Codec().ClockRate)
	}
	if err := caller.push(pcmBytes(tonePCM(16000, 20))); err != nil {
		t.Fatal(err)
	}
	if len(caller.out) == 0 || len(caller.buf) != 0 {
		t.Fatalf("opus packet %d bytes, %d samples left", len(caller.out), len(caller.buf))
	}
}

func TestAgentAudioPumpDecodesOpusIntoFramesAndConcealsLoss(t *testing.T) {
	enc, err := opus.NewEncoder(48000, 1, opus.AppVoIP)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := opus.NewDecoder(8000, 1)
	if err != nil {
		t.Fatal(err)
	}
	pump := &agentAudioPump{dec: dec, frameBytes: 8000 * 20 / 1000 * 2, pcm: make([]int16, 8000*120/1000)}
	var frames [][]byte
	emit := func(frame []byte) error { frames = append(frames, frame); return nil }
	tone := tonePCM(48000, 20)
	packet := make([]byte, 1500)
	for _, seq := range []uint16{100, 101, 104, 104, 90, 105} { // 102-103 lost, a duplicate, a late one
		n, err := enc.Encode(tone, packet)
		if err != nil {
			t.Fatal(err)
		}
		p := &rtp.Packet{Header: rtp.Header{SequenceNumber: seq}, Payload: append([]byte(nil), packet[:n]...)}
		if err := pump.decode(p, emit); err != nil {
			t.Fatal(err)
		}
	}
	// 100, 101, (102, 103 concealed), 104, 105: six 20 ms frames of 320 bytes
	if len(frames) != 6 {
		t.Fatalf("%d frames, want 6", len(frames))
	}
	for i, f := range frames {
		if len(f) != 320 {
			t.Fatalf("frame %d is %d bytes", i, len(f))
		}
	}
}

func TestAgentAudioPumpRechunksPCMU(t *testing.T) {
	pump := &agentAudioPump{pcmu: true, frameBytes: 8000 * 40 / 1000 * 2, pcm: make([]int16, 960)}
	var frames [][]byte
	emit := func(frame []byte) error { frames = append(frames, frame); return nil }
	payload := ulawEncode(nil, tonePCM(8000, 20))
	for seq := uint16(1); seq <= 3; seq++ {
		if err := pump.decode(&rtp.Packet{Header: rtp.Header{SequenceNumber: seq}, Payload: payload}, emit); err != nil {
			t.Fatal(err)
		}
	}
	if len(frames) != 1 || len(frames[0]) != 640 || len(pump.pending) != 320 {
		t.Fatalf("%d frames, pending %d bytes", len(frames), len(pump.pending))
	}
}

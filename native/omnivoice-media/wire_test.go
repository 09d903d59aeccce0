package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testdata/messages.bin is what omnivoice_rtc/native/wire.py encodes for these messages
// (tests/unit/native/test_wire.py checks the Python side against the same bytes).
func TestGoldenMessagesFromPython(t *testing.T) {
	raw, err := os.ReadFile("testdata/messages.bin")
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(bytes.NewReader(raw))
	var kinds []byte
	var payloads [][]byte
	for {
		kind, payload, err := readMessage(r)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, kind)
		payloads = append(payloads, payload)
	}
	if string(kinds) != "JACDM" {
		t.Fatalf("kinds %q, want %q", kinds, "JACDM")
	}
	var join joinRequest
	if err := json.Unmarshal(payloads[0], &join); err != nil {
		t.Fatal(err)
	}
	if err := join.validate(); err != nil {
		t.Fatalf("golden join does not validate: %v", err)
	}
	if join.PublishRateHz != 8000 || join.SubscribeRateHz != 16000 || join.FrameMs != 20 || join.OpusComplexity != 5 {
		t.Fatalf("join decoded as %+v", join)
	}
	if !bytes.Equal(payloads[1], []byte{0, 1, 2, 3, 4, 5, 6, 7}) || len(payloads[2]) != 0 {
		t.Fatalf("audio %v clear %v", payloads[1], payloads[2])
	}
	header, body, err := splitHeader(payloads[4])
	if err != nil {
		t.Fatal(err)
	}
	if string(header) != `{"topic":"omnivoice.events","destinations":["agent-1"]}` || string(body) != `{"type":"x"}` {
		t.Fatalf("data header %s body %s", header, body)
	}
	// symmetric: encoding what was read gives the same bytes back
	var again []byte
	for i, kind := range kinds {
		again = append(again, encodeMessage(kind, payloads[i])...)
	}
	if !bytes.Equal(again, raw) {
		t.Fatal("re-encoded messages differ from the golden bytes")
	}
}

func TestReadMessageRejectsOversizedPayload(t *testing.T) {
	raw := []byte{'A', 0x00, 0x10, 0x00, 0x01} // 1 MiB + 1
	_, _, err := readMessage(bufio.NewReader(bytes.NewReader(raw)))
	if err == nil || err.Error() != "message of 1048577 bytes exceeds the 1048576 byte cap" {
		t.Fatalf("err = %v", err)
	}
}

func TestReadMessageTruncated(t *testing.T) {
	raw := []byte{'A', 0, 0, 0, 4, 1, 2}
	if _, _, err := readMessage(bufio.NewReader(bytes.NewReader(raw))); err != io.ErrUnexpectedEOF {
		t.Fatalf("err = %v, want unexpected EOF", err)
	}
}

func TestSplitHeaderErrors(t *testing.T) {
	if _, _, err := splitHeader([]byte{1}); err == nil || err.Error() != "message of 1 bytes has no header length" {
		t.Fatalf("err = %v", err)
	}
	if _, _, err := splitHeader([]byte{0, 5, '{', '}'}); err == nil || err.Error() != "header of 5 bytes overruns the 4 byte message" {
		t.Fatalf("err = %v", err)
	}
	header, body, err := splitHeader(joinHeader([]byte(`{}`), []byte("xyz")))
	if err != nil || string(header) != "{}" || string(body) != "xyz" {
		t.Fatalf("round trip: %s %s %v", header, body, err)
	}
}

func TestJoinValidation(t *testing.T) {
	good := joinRequest{URL: "ws://x", Token: "t", PublishRateHz: 8000, SubscribeRateHz: 8000, FrameMs: 20, OpusComplexity: 5}
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(j *joinRequest){
		"join needs url and token": func(j *joinRequest) { j.Token = "" },
		"publish_rate_hz 44100 is not one of 8000, 12000, 16000, 24000, 48000": func(j *joinRequest) { j.PublishRateHz = 44100 },
		"subscribe_rate_hz 0 is not one of 8000, 12000, 16000, 24000, 48000":   func(j *joinRequest) { j.SubscribeRateHz = 0 },
		"frame_ms 25 is not a multiple of 10 between 10 and 60":                func(j *joinRequest) { j.FrameMs = 25 },
		"opus_complexity 11 is not between 0 and 10":                           func(j *joinRequest) { j.OpusComplexity = 11 },
	}
	for want, mutate := range cases {
		j := good
		mutate(&j)
		if err := j.validate(); err == nil || !strings.EqualFold(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}

// A connection refused with unread bytes in its socket still ends in EOF for the peer
// (tests/integration/native/test_media_process.py saw ECONNRESET with a plain Close).
func TestCloseGracefullyGivesThePeerEOFNotAReset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	listener, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		conn, err := listener.Accept()
		if err != nil {
			return
		}
		header := make([]byte, 5)
		if _, err := io.ReadFull(conn, header); err != nil { // reads one header, refuses it
			return
		}
		_, _ = conn.Write(encodeMessage(kindError, []byte(`{"error":"unknown message kind 'Z'"}`)))
		closeGracefully(conn, 5*time.Second) // the second header is still unread
	}()
	client, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("Z\x00\x00\x00\x00A\xff\xff\xff\xff")); err != nil {
		t.Fatal(err)
	}
	kind, payload, err := readMessage(bufio.NewReader(client))
	if err != nil || kind != kindError || !strings.Contains(string(payload), "unknown message kind") {
		t.Fatalf("first message %q %s %v", kind, payload, err)
	}
	rest, err := io.ReadAll(client) // EOF (nil error), not "connection reset by peer"
	if err != nil || len(rest) != 0 {
		t.Fatalf("after the error message: %q, %v (want EOF)", rest, err)
	}
	_ = client.Close()
	<-closed
}

func TestMessageWriterWritesNothingAfterStop(t *testing.T) {
	ours, theirs := net.Pipe()
	defer theirs.Close()
	w := &messageWriter{conn: ours}
	go func() { _, _ = io.Copy(io.Discard, theirs) }()
	if err := w.write(kindParticipantLeft, []byte(`{"identity":"a"}`)); err != nil {
		t.Fatal(err)
	}
	w.stop()
	if err := w.write(kindDisconnected, []byte(`{"reason":"x"}`)); err != io.ErrClosedPipe {
		t.Fatalf("write after stop: %v, want io.ErrClosedPipe", err)
	}
}

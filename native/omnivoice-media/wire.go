package main

// The framing between the Python shim and this process: one Unix socket connection per
// call, each message `kind (1 byte) | length (4 bytes, big endian) | payload`. The Python
// side of the same format is omnivoice_rtc/native/wire.py; both are tested against the
// golden bytes in testdata/.

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// maxPayload caps one message (bytes): a second of 48 kHz PCM16 is 96 000.
const maxPayload = 1 << 20

// Messages from Python.
const (
	kindJoin        byte = 'J' // JSON joinRequest; first message, exactly once
	kindCallerAudio byte = 'A' // PCM16 LE mono at publish_rate_hz
	kindClearAudio  byte = 'C' // drop caller audio not yet sent (empty payload)
	kindSendDTMF    byte = 'D' // JSON {"code": int, "digit": str}
	kindSendData    byte = 'M' // JSON header length (2 bytes BE) | JSON {"topic","destinations"} | payload
)

// Messages to Python.
const (
	kindJoined          byte = 'j' // JSON {"identity", "participants": [participantInfo]}
	kindError           byte = 'e' // JSON {"error": str}; the connection closes after it
	kindAgentAudio      byte = 'a' // PCM16 LE mono at subscribe_rate_hz, frame_ms long
	kindParticipant     byte = 'p' // JSON participantInfo: joined (or first seen)
	kindParticipantLeft byte = 'l' // JSON {"identity"}
	kindAttributes      byte = 's' // JSON {"identity", "changed": {k: v}}
	kindDTMF            byte = 'd' // JSON {"identity", "code", "digit"}
	kindData            byte = 'm' // JSON header length (2 bytes BE) | JSON {"identity","topic"} | payload
	kindDisconnected    byte = 'x' // JSON {"reason": str}
)

func readMessage(r *bufio.Reader) (byte, []byte, error) {
	var header [5]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return 0, nil, err
	}
	size := binary.BigEndian.Uint32(header[1:])
	if size > maxPayload {
		return 0, nil, fmt.Errorf("message of %d bytes exceeds the %d byte cap", size, maxPayload)
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	return header[0], payload, nil
}

func encodeMessage(kind byte, payload []byte) []byte {
	out := make([]byte, 5+len(payload))
	out[0] = kind
	binary.BigEndian.PutUint32(out[1:5], uint32(len(payload)))
	copy(out[5:], payload)
	return out
}

// splitHeader reads `header length (2 bytes BE) | header | body`.
func splitHeader(payload []byte) ([]byte, []byte, error) {
	if len(payload) < 2 {
		return nil, nil, fmt.Errorf("message of %d bytes has no header length", len(payload))
	}
	n := int(binary.BigEndian.Uint16(payload[:2]))
	if 2+n > len(payload) {
		return nil, nil, fmt.Errorf("header of %d bytes overruns the %d byte message", n, len(payload))
	}
	return payload[2 : 2+n], payload[2+n:], nil
}

func joinHeader(header, body []byte) []byte {
	out := make([]byte, 2+len(header)+len(body))
	binary.BigEndian.PutUint16(out[:2], uint16(len(header)))
	copy(out[2:], header)
	copy(out[2+len(header):], body)
	return out
}

// messageWriter serialises writes from the SDK's callback goroutines and the audio pump.
type messageWriter struct {
	mu     sync.Mutex
	conn   net.Conn
	failed bool
}

// writeTimeout bounds how long a stuck reader on the Python side can block a call (ms).
const writeTimeout = 5 * time.Second

// stop ends writing: later writes fail with io.ErrClosedPipe (the call is over for Python).
func (w *messageWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failed = true
}

func (w *messageWriter) write(kind byte, payload []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed {
		return io.ErrClosedPipe
	}
	_ = w.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := w.conn.Write(encodeMessage(kind, payload)); err != nil {
		w.failed = true
		_ = w.conn.Close() // the read loop sees the close and leaves the room
		return err
	}
	return nil
}

// drainTimeout bounds how long a closing connection keeps reading what the peer still sends.
const drainTimeout = 2 * time.Second

// closeGracefully ends a connection so that the peer reads EOF, not ECONNRESET. Closing a
// Unix (or TCP) socket that still has unread bytes makes the kernel reset it, and the
// peer's next read fails even after it received everything we wrote (a hostile or broken
// caller that sent more after the message we refused). So: shut down our write side (the
// peer reads EOF), read and discard what is still arriving until the peer closes too or
// `linger` passes, then close.
func closeGracefully(conn net.Conn, linger time.Duration) {
	if half, ok := conn.(interface{ CloseWrite() error }); ok && half.CloseWrite() == nil {
		_ = conn.SetReadDeadline(time.Now().Add(linger))
		_, _ = io.Copy(io.Discard, conn) // until EOF, the deadline, or an error
	}
	_ = conn.Close()
}

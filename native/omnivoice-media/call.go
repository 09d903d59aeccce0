package main

// One call: a Unix socket connection from the Python shim <-> one LiveKit room participant.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
)

// joinRequest is the first message of a connection (kindJoin).
type joinRequest struct {
	URL             string `json:"url"`
	Token           string `json:"token"`
	PublishRateHz   int    `json:"publish_rate_hz"`
	SubscribeRateHz int    `json:"subscribe_rate_hz"`
	FrameMs         int    `json:"frame_ms"`
	OpusComplexity  int    `json:"opus_complexity"`
}

var opusRates = map[int]bool{8000: true, 12000: true, 16000: true, 24000: true, 48000: true}

func (j *joinRequest) validate() error {
	switch {
	case j.URL == "" || j.Token == "":
		return errors.New("join needs url and token")
	case !opusRates[j.PublishRateHz]:
		return fmt.Errorf("publish_rate_hz %d is not one of 8000, 12000, 16000, 24000, 48000", j.PublishRateHz)
	case !opusRates[j.SubscribeRateHz]:
		return fmt.Errorf("subscribe_rate_hz %d is not one of 8000, 12000, 16000, 24000, 48000", j.SubscribeRateHz)
	case j.FrameMs < 10 || j.FrameMs > 60 || j.FrameMs%10 != 0:
		return fmt.Errorf("frame_ms %d is not a multiple of 10 between 10 and 60", j.FrameMs)
	case j.OpusComplexity < 0 || j.OpusComplexity > 10:
		return fmt.Errorf("opus_complexity %d is not between 0 and 10", j.OpusComplexity)
	}
	return nil
}

type participantInfo struct {
	Identity   string            `json:"identity"`
	Kind       string            `json:"kind"`
	Attributes map[string]string `json:"attributes"`
}

func describe(p lksdk.Participant) participantInfo {
	kind := strings.ToLower(livekit.ParticipantInfo_Kind(p.Kind()).String())
	return participantInfo{Identity: p.Identity(), Kind: kind, Attributes: p.Attributes()}
}

func isAgent(p lksdk.Participant) bool {
	return livekit.ParticipantInfo_Kind(p.Kind()) == livekit.ParticipantInfo_AGENT
}

// call owns one room connection for the lifetime of its socket connection.
type call struct {
	conn   net.Conn
	out    *messageWriter
	log    *slog.Logger
	join   joinRequest
	room   *lksdk.Room
	caller *callerTrack

	mu          sync.Mutex
	agentStream string // identity of the agent whose audio track is being relayed ("" = none)
	pumps       sync.WaitGroup
	leaving     atomic.Bool // we are leaving the room ourselves: no kindDisconnected
}

func serveCall(conn net.Conn, log *slog.Logger) {
	c := &call{conn: conn, out: &messageWriter{conn: conn}, log: log}
	defer closeGracefully(conn, drainTimeout)
	reader := bufio.NewReaderSize(conn, 64*1024)
	if err := c.start(reader); err != nil {
		c.log.Warn("call did not join", "error", err.Error())
		c.sendJSON(kindError, map[string]string{"error": err.Error()})
		c.out.stop() // the error is the last message
		return
	}
	err := c.relayCallerMessages(reader)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		c.log.Warn("call connection failed", "error", err.Error())
	}
	c.out.stop() // the call is over for Python: nothing more is written to it
	c.leave()
	c.caller.close()
	c.pumps.Wait()
}

// leave disconnects from the room on our own initiative (the call ended or failed to start).
func (c *call) leave() {
	c.leaving.Store(true)
	c.room.Disconnect()
}

func (c *call) start(reader *bufio.Reader) error {
	kind, payload, err := readMessage(reader)
	if err != nil {
		return fmt.Errorf("reading join: %w", err)
	}
	if kind != kindJoin {
		return fmt.Errorf("first message is %q, expected %q", kind, kindJoin)
	}
	if err := json.Unmarshal(payload, &c.join); err != nil {
		return fmt.Errorf("join is not valid JSON: %w", err)
	}
	if err := c.join.validate(); err != nil {
		return err
	}
	room, err := lksdk.ConnectToRoomWithToken(c.join.URL, c.join.Token, c.callbacks(), lksdk.WithAutoSubscribe(true))
	if err != nil {
		return fmt.Errorf("connecting to the room: %w", err)
	}
	c.room = room
	c.log = c.log.With("room", room.Name())
	c.caller, err = newCallerTrack(c.join.PublishRateHz, c.join.OpusComplexity)
	if err != nil {
		c.leave()
		return err
	}
	if err := preferCallerCodec(room, c.caller); err != nil {
		c.leave()
		return err
	}
	if _, err := room.LocalParticipant.PublishTrack(c.caller.track, &lksdk.TrackPublicationOptions{
		Name: "caller", Source: livekit.TrackSource_MICROPHONE,
	}); err != nil {
		c.leave()
		return fmt.Errorf("publishing the caller track: %w", err)
	}
	joined := struct {
		Identity     string            `json:"identity"`
		Codec        string            `json:"codec"`
		Participants []participantInfo `json:"participants"`
	}{Identity: room.LocalParticipant.Identity(), Codec: c.caller.codec(), Participants: []participantInfo{}}
	for _, p := range room.GetRemoteParticipants() {
		joined.Participants = append(joined.Participants, describe(p))
	}
	c.sendJSON(kindJoined, joined)
	for _, p := range room.GetRemoteParticipants() {
		for _, pub := range p.TrackPublications() {
			if remote, ok := pub.(*lksdk.RemoteTrackPublication); ok && remote.TrackRemote() != nil {
				c.onTrackSubscribed(remote.TrackRemote(), remote, p)
			}
		}
	}
	return nil
}

func (c *call) callbacks() *lksdk.RoomCallback {
	cb := lksdk.NewRoomCallback()
	cb.OnParticipantConnected = func(p *lksdk.RemoteParticipant) { c.sendJSON(kindParticipant, describe(p)) }
	cb.OnParticipantDisconnected = func(p *lksdk.RemoteParticipant) {
		c.sendJSON(kindParticipantLeft, map[string]string{"identity": p.Identity()})
		c.agentLeft(p.Identity())
	}
	cb.OnDisconnectedWithReason = func(reason lksdk.DisconnectionReason) {
		if !c.leaving.Load() { // the room dropped us; our own leave is no news to Python
			c.sendJSON(kindDisconnected, map[string]string{"reason": string(reason)})
		}
	}
	cb.ParticipantCallback.OnAttributesChanged = func(changed map[string]string, p lksdk.Participant) {
		if _, remote := p.(*lksdk.RemoteParticipant); remote {
			c.sendJSON(kindAttributes, map[string]any{"identity": p.Identity(), "changed": changed})
		}
	}
	cb.ParticipantCallback.OnTrackSubscribed = c.onTrackSubscribed
	cb.ParticipantCallback.OnDataPacket = c.onDataPacket
	return cb
}

func (c *call) onDataPacket(packet lksdk.DataPacket, params lksdk.DataReceiveParams) {
	switch msg := packet.(type) {
	case *livekit.SipDTMF:
		c.sendJSON(kindDTMF, map[string]any{"identity": params.SenderIdentity, "code": msg.Code, "digit": msg.Digit})
	case *lksdk.UserDataPacket:
		header, _ := json.Marshal(map[string]string{"identity": params.SenderIdentity, "topic": msg.Topic})
		_ = c.out.write(kindData, joinHeader(header, msg.Payload))
	}
}

// onTrackSubscribed relays the first audio track of the first agent to Python (one agent
// at a time: another agent's track is relayed once the relayed agent has left).
func (c *call) onTrackSubscribed(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	if track.Kind() != webrtc.RTPCodecTypeAudio || !isAgent(rp) {
		return
	}
	c.mu.Lock()
	if c.agentStream != "" {
		c.mu.Unlock()
		return
	}
	c.agentStream = rp.Identity()
	c.mu.Unlock()
	pump, err := newAgentAudioPump(track, c.join.SubscribeRateHz, c.join.FrameMs)
	if err != nil {
		c.log.Warn("agent audio not relayed", "error", err.Error())
		return
	}
	c.pumps.Add(1)
	go func() {
		defer c.pumps.Done()
		pump.run(func(frame []byte) error { return c.out.write(kindAgentAudio, frame) })
	}()
}

// agentLeft ends the relay of a departed agent's audio and relays the next agent's track
// already subscribed, if any (a fresh agent dispatched into the call).
func (c *call) agentLeft(identity string) {
	c.mu.Lock()
	if c.agentStream != identity {
		c.mu.Unlock()
		return
	}
	c.agentStream = ""
	room := c.room
	c.mu.Unlock()
	if room == nil {
		return
	}
	for _, p := range room.GetRemoteParticipants() {
		if p.Identity() == identity || !isAgent(p) {
			continue
		}
		for _, pub := range p.TrackPublications() {
			if remote, ok := pub.(*lksdk.RemoteTrackPublication); ok && remote.TrackRemote() != nil {
				c.onTrackSubscribed(remote.TrackRemote(), remote, p)
			}
		}
	}
}

func (c *call) sendJSON(kind byte, value any) {
	payload, err := json.Marshal(value)
	if err != nil {
		c.log.Error("message not encodable", "kind", string(kind), "error", err.Error())
		return
	}
	_ = c.out.write(kind, payload) // a failed write closes the connection; the read loop ends the call
}

// relayCallerMessages handles messages from Python until the connection closes.
func (c *call) relayCallerMessages(reader *bufio.Reader) error {
	for {
		kind, payload, err := readMessage(reader)
		if err != nil {
			return err
		}
		switch kind {
		case kindCallerAudio:
			if err := c.caller.push(payload); err != nil {
				return err
			}
		case kindClearAudio:
			c.caller.clear()
		case kindSendDTMF:
			var dtmf struct {
				Code  uint32 `json:"code"`
				Digit string `json:"digit"`
			}
			if err := json.Unmarshal(payload, &dtmf); err != nil {
				return fmt.Errorf("dtmf is not valid JSON: %w", err)
			}
			if err := c.room.LocalParticipant.PublishDataPacket(
				&livekit.SipDTMF{Code: dtmf.Code, Digit: dtmf.Digit}, lksdk.WithDataPublishReliable(true),
			); err != nil {
				c.log.Warn("dtmf not sent", "error", err.Error())
			}
		case kindSendData:
			if err := c.sendData(payload); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown message kind %q", kind)
		}
	}
}

func (c *call) sendData(payload []byte) error {
	rawHeader, body, err := splitHeader(payload)
	if err != nil {
		return err
	}
	var header struct {
		Topic        string   `json:"topic"`
		Destinations []string `json:"destinations"`
	}
	if err := json.Unmarshal(rawHeader, &header); err != nil {
		return fmt.Errorf("data header is not valid JSON: %w", err)
	}
	opts := []lksdk.DataPublishOption{lksdk.WithDataPublishReliable(true)}
	if len(header.Destinations) > 0 {
		opts = append(opts, lksdk.WithDataPublishDestination(header.Destinations))
	}
	packet := &lksdk.UserDataPacket{Payload: body, Topic: header.Topic}
	if err := c.room.LocalParticipant.PublishDataPacket(packet, opts...); err != nil {
		c.log.Warn("data not sent", "error", err.Error())
	}
	return nil
}

// sampleDuration is the length of one published packet.
const sampleDuration = 20 * time.Millisecond

// preferCallerCodec offers only the caller track's codec on the m-line it will use.
// LiveKit names a published track's codec after the first codec of its m-line in the
// offer, and the SDK offers Opus first: a PCMU track would be announced (and forwarded to
// subscribers) as Opus. PublishTrack reuses this unsent transceiver (pion's AddTrack
// takes the first audio transceiver without a sender).
func preferCallerCodec(room *lksdk.Room, caller *callerTrack) error {
	pc := room.LocalParticipant.GetPublisherPeerConnection()
	if pc == nil {
		return errors.New("no publisher peer connection")
	}
	transceiver, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}) // no sender yet: AddTrack reuses it
	if err != nil {
		return fmt.Errorf("caller transceiver: %w", err)
	}
	// PayloadType 0 = the publisher's own payload type for this codec (PCMU's is 0 too).
	return transceiver.SetCodecPreferences([]webrtc.RTPCodecParameters{{RTPCodecCapability: caller.track.Codec()}})
}

// omnivoice-rtc browser page: join a LiveKit room with the agent, talk, see both sides' transcript.
//
// Token: POST /api/token (the server picks identity and, unless ?room= is given, the room).
// Agent state: the agent participant's `lk.agent.state` attribute (livekit-agents).
// Transcripts: text streams on topic `lk.transcription` (livekit-agents); one segment per
// `lk.segment_id`; the stream's accumulated text is the segment's current text.
// Session events: JSON on the data topic `omnivoice.events` (omnivoice session relay).
// Mouth-to-ear latency: per agent reply, the end of your speech at this microphone -> the
// first agent audio this page plays (+ the audio output latency), on this page's clock,
// sent to the agent on the data topic `omnivoice.latency` (see "mouth-to-ear" below).
//
// For tests and debugging, `window.omnivoice` exposes the page state (see bottom).
(() => {
  'use strict';

  const LK = window.LivekitClient;
  const TOPIC_TRANSCRIPTION = 'lk.transcription';
  const TOPIC_EVENTS = 'omnivoice.events';
  const TOPIC_LATENCY = 'omnivoice.latency';
  const ATTR_AGENT_STATE = 'lk.agent.state';
  const ATTR_SEGMENT_ID = 'lk.segment_id';
  const ATTR_FINAL = 'lk.transcription_final';
  const ATTR_TRACK_ID = 'lk.transcribed_track_id';
  const MAX_EVENTS_SHOWN = 200;
  const LEVEL_POLL_MS = 100;
  const AGENT_WAIT_HINT_MS = 20000;

  const $ = (id) => document.getElementById(id);
  const ui = {
    form: $('join-form'), join: $('join'), leave: $('leave'), mute: $('mute'),
    room: $('room'), name: $('display-name'), key: $('key'),
    connection: $('connection'), agentState: $('agent-state'),
    error: $('error'), notice: $('notice'), roomInfo: $('room-info'),
    transcript: $('transcript'), transcriptEmpty: $('transcript-empty'),
    events: $('events'), micLevel: $('mic-level'), agentLevel: $('agent-level'),
    audioSink: $('audio-sink'),
  };

  const page = {
    room: null,
    details: null, // {room, identity, url} of the current join
    connection: 'idle',
    agentIdentity: null,
    agentState: 'absent',
    agentStatesSeen: [],
    agentAudioTrack: null,
    segments: new Map(), // segment id -> {role, identity, text, final, element}
    events: [],
    errors: [],
    levelTimer: null,
    agentWaitTimer: null,
  };

  // ---------------------------------------------------------------- UI helpers
  function setStatus(element, state, label) {
    element.dataset.state = state;
    element.querySelector('.label').textContent = label;
  }

  function setConnection(state) {
    page.connection = state;
    setStatus(ui.connection, state, state === 'idle' ? 'not connected' : state);
    const connected = state === 'connected' || state === 'reconnecting';
    ui.join.disabled = state !== 'idle';
    ui.leave.disabled = !connected && state !== 'connecting';
    ui.mute.disabled = !connected;
    ui.room.disabled = state !== 'idle';
    ui.name.disabled = state !== 'idle';
  }

  function setAgentState(state) {
    page.agentState = state;
    if (page.agentStatesSeen[page.agentStatesSeen.length - 1] !== state) {
      page.agentStatesSeen.push(state);
    }
    const label = state === 'absent' ? 'agent: not here' : `agent: ${state}`;
    setStatus(ui.agentState, state, label);
  }

  function showError(message) {
    page.errors.push(message);
    ui.error.textContent = message;
    ui.error.hidden = false;
  }

  function setNotice(message) {
    ui.notice.textContent = message;
    ui.notice.hidden = !message;
  }

  function clearError() {
    ui.error.hidden = true;
    ui.error.textContent = '';
  }

  function addEventLine(text) {
    const li = document.createElement('li');
    li.textContent = text;
    ui.events.appendChild(li);
    while (ui.events.childElementCount > MAX_EVENTS_SHOWN) ui.events.firstElementChild.remove();
  }

  // ---------------------------------------------------------------- transcript
  function upsertSegment(segmentId, role, identity, text, final) {
    let segment = page.segments.get(segmentId);
    if (!segment) {
      const li = document.createElement('li');
      li.className = 'turn';
      li.dataset.role = role;
      li.dataset.segment = segmentId;
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = role === 'user' ? 'you' : 'agent';
      const body = document.createElement('span');
      body.className = 'text';
      li.append(who, body);
      ui.transcript.appendChild(li);
      ui.transcriptEmpty.hidden = true;
      segment = { role, identity, text: '', final: false, element: li };
      page.segments.set(segmentId, segment);
    }
    segment.text = text;
    segment.final = segment.final || final;
    segment.element.dataset.final = String(segment.final);
    segment.element.querySelector('.text').textContent = text;
    ui.transcript.scrollTop = ui.transcript.scrollHeight;
  }

  function roleOf(room, identity, attributes) {
    const local = room.localParticipant;
    if (identity === local.identity) return 'user';
    const trackId = attributes[ATTR_TRACK_ID];
    if (trackId) {
      for (const publication of local.trackPublications.values()) {
        if (publication.trackSid === trackId) return 'user';
      }
    }
    return 'agent';
  }

  async function onTranscriptionStream(reader, participantInfo) {
    const room = page.room;
    if (!room) return;
    const info = reader.info;
    const segmentId = (info.attributes && info.attributes[ATTR_SEGMENT_ID]) || info.id;
    const role = roleOf(room, participantInfo.identity, info.attributes || {});
    let text = '';
    try {
      for await (const chunk of reader) {
        text += chunk;
        upsertSegment(segmentId, role, participantInfo.identity, text, false);
      }
    } catch (err) {
      addEventLine(`transcription stream error: ${err}`);
    }
    // The trailer's attributes (final flag of delta streams) are merged into info on close.
    const final = (info.attributes && info.attributes[ATTR_FINAL]) === 'true';
    if (text || final) upsertSegment(segmentId, role, participantInfo.identity, text, final);
  }

  // ---------------------------------------------------------------- agent
  function isAgent(participant) {
    return participant.kind === LK.ParticipantKind.AGENT ||
      (participant.attributes && ATTR_AGENT_STATE in participant.attributes);
  }

  function trackAgent(participant) {
    if (!isAgent(participant)) return;
    setNotice('');
    page.agentIdentity = participant.identity;
    const state = participant.attributes[ATTR_AGENT_STATE];
    setAgentState(state || 'initializing');
  }

  // ---------------------------------------------------------------- levels
  function startLevelMeters(room) {
    stopLevelMeters();
    page.levelTimer = window.setInterval(() => {
      const local = room.localParticipant;
      ui.micLevel.style.width = `${Math.min(100, Math.round((local.audioLevel || 0) * 300))}%`;
      const agent = page.agentIdentity ? room.remoteParticipants.get(page.agentIdentity) : null;
      const level = agent ? agent.audioLevel || 0 : 0;
      ui.agentLevel.style.width = `${Math.min(100, Math.round(level * 300))}%`;
    }, LEVEL_POLL_MS);
  }

  function stopLevelMeters() {
    if (page.levelTimer !== null) window.clearInterval(page.levelTimer);
    page.levelTimer = null;
    ui.micLevel.style.width = '0';
    ui.agentLevel.style.width = '0';
  }

  // ---------------------------------------------------------------- mouth-to-ear
  // Every LATENCY_POLL_MS the page reads the level of the microphone track and of the
  // agent's track (WebAudio analysers, after WebRTC's jitter buffer and decoder). When the
  // agent's audio starts after AGENT_REPLY_GAP_MS of quiet and you spoke since its last
  // audio, that reply's mouth-to-ear latency is (now - the last instant your microphone
  // was voiced) + the audio context's output latency. The figure is sent to the agent
  // (one small reliable data packet per reply) and kept in `omnivoice.latencies`.
  // Resolution: one poll (10 ms) plus the analyser window (~11 ms); a hidden tab's timers
  // are throttled, so replies heard in one are measured late or not at all.
  const LATENCY_POLL_MS = 10;
  const MIC_VOICE_RMS = 0.02; // full scale 1.0
  const AGENT_VOICE_RMS = 0.01;
  const AGENT_REPLY_GAP_MS = 300;
  const MAX_MOUTH_TO_EAR_MS = 60000;
  const latency = {
    ctx: null, timer: null, mic: null, micTrack: null, agent: null, agentTrack: null,
    lastMicVoice: null, lastAgentVoice: null, reports: [],
  };

  function levelReader(ctx, mediaStreamTrack) {
    const node = ctx.createAnalyser();
    node.fftSize = 512;
    ctx.createMediaStreamSource(new MediaStream([mediaStreamTrack])).connect(node);
    const buf = new Float32Array(node.fftSize);
    return () => {
      node.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const v of buf) sum += v * v;
      return Math.sqrt(sum / buf.length);
    };
  }

  function startLatencyMeter(room) {
    stopLatencyMeter();
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    latency.ctx = new Ctx();
    latency.ctx.resume().catch(() => { /* resumed by the next click */ });
    latency.timer = window.setInterval(() => pollLatency(room), LATENCY_POLL_MS);
  }

  function stopLatencyMeter() {
    if (latency.timer !== null) window.clearInterval(latency.timer);
    if (latency.ctx) latency.ctx.close().catch(() => { /* already closed */ });
    Object.assign(latency, {
      ctx: null, timer: null, mic: null, micTrack: null, agent: null, agentTrack: null,
      lastMicVoice: null, lastAgentVoice: null,
    });
  }

  function pollLatency(room) {
    const ctx = latency.ctx;
    if (!ctx) return;
    const pub = room.localParticipant.getTrackPublication(LK.Track.Source.Microphone);
    const micTrack = pub && pub.track ? pub.track.mediaStreamTrack : null;
    if (micTrack !== latency.micTrack) {
      latency.micTrack = micTrack;
      latency.mic = micTrack ? levelReader(ctx, micTrack) : null;
    }
    const agentTrack = page.agentAudioTrack ? page.agentAudioTrack.mediaStreamTrack : null;
    if (agentTrack !== latency.agentTrack) {
      latency.agentTrack = agentTrack;
      latency.agent = agentTrack ? levelReader(ctx, agentTrack) : null;
    }
    const now = performance.now();
    if (latency.mic && latency.mic() > MIC_VOICE_RMS) latency.lastMicVoice = now;
    if (!latency.agent || latency.agent() <= AGENT_VOICE_RMS) return;
    const last = latency.lastAgentVoice;
    latency.lastAgentVoice = now;
    const replyStarts = last === null || now - last >= AGENT_REPLY_GAP_MS;
    const spoke = latency.lastMicVoice !== null && (last === null || latency.lastMicVoice > last);
    if (!replyStarts || !spoke) return;
    const outputMs = ((ctx.outputLatency || 0) + (ctx.baseLatency || 0)) * 1000;
    const ms = Math.round(now - latency.lastMicVoice + outputMs);
    if (ms <= 0 || ms > MAX_MOUTH_TO_EAR_MS) return;
    latency.reports.push(ms);
    const packet = JSON.stringify({ mouth_to_ear_ms: ms, measured_by: 'browser' });
    room.localParticipant
      .publishData(new TextEncoder().encode(packet), { reliable: true, topic: TOPIC_LATENCY })
      .catch((err) => addEventLine(`latency report not sent: ${err}`));
  }

  // ---------------------------------------------------------------- token
  async function fetchToken() {
    const params = new URLSearchParams(window.location.search);
    const body = {};
    const room = ui.room.value.trim() || params.get('room') || '';
    if (room) body.room = room;
    const name = ui.name.value.trim();
    if (name) body.name = name;
    const headers = { 'Content-Type': 'application/json' };
    const key = ui.key.value || window.sessionStorage.getItem('omnivoice-key') || '';
    if (key) headers.Authorization = `Bearer ${key}`;
    const response = await fetch('/api/token', {
      method: 'POST', headers, body: JSON.stringify(body), cache: 'no-store',
    });
    let payload = {};
    try { payload = await response.json(); } catch (_) { /* non-JSON error body */ }
    if (response.status === 401) {
      ui.key.hidden = false;
      window.sessionStorage.removeItem('omnivoice-key');
      throw new Error('This server needs an access key: enter it and press Join again.');
    }
    if (!response.ok) throw new Error(payload.error || `token request failed (HTTP ${response.status})`);
    if (key) window.sessionStorage.setItem('omnivoice-key', key);
    return payload;
  }

  // ---------------------------------------------------------------- room
  function wireRoom(room) {
    const E = LK.RoomEvent;
    room
      .on(E.ConnectionStateChanged, (state) => {
        if (state === LK.ConnectionState.Connected) setConnection('connected');
        else if (state === LK.ConnectionState.Reconnecting) setConnection('reconnecting');
        else if (state === LK.ConnectionState.Connecting) setConnection('connecting');
      })
      .on(E.Disconnected, (reason) => {
        addEventLine(`disconnected (${reason})`);
        teardown();
      })
      .on(E.ParticipantConnected, (participant) => {
        addEventLine(`${participant.identity} joined`);
        trackAgent(participant);
      })
      .on(E.ParticipantDisconnected, (participant) => {
        addEventLine(`${participant.identity} left`);
        if (participant.identity === page.agentIdentity) {
          page.agentIdentity = null;
          page.agentAudioTrack = null;
          setAgentState('absent');
        }
      })
      .on(E.ParticipantAttributesChanged, (changed, participant) => {
        if (ATTR_AGENT_STATE in changed || isAgent(participant)) trackAgent(participant);
      })
      .on(E.TrackSubscribed, (track, publication, participant) => {
        if (track.kind !== LK.Track.Kind.Audio) return;
        const element = track.attach();
        element.dataset.participant = participant.identity;
        ui.audioSink.appendChild(element);
        if (isAgent(participant)) page.agentAudioTrack = track;
        addEventLine(`listening to ${participant.identity}`);
      })
      .on(E.TrackUnsubscribed, (track) => {
        for (const element of track.detach()) element.remove();
        if (track === page.agentAudioTrack) page.agentAudioTrack = null;
      })
      .on(E.AudioPlaybackStatusChanged, () => {
        if (!room.canPlaybackAudio) showError('Audio playback is blocked: click anywhere to allow it.');
      })
      .on(E.DataReceived, (payload, participant, _kind, topic) => {
        if (topic !== TOPIC_EVENTS) return;
        try {
          const event = JSON.parse(new TextDecoder().decode(payload));
          page.events.push(event);
          // audio_received/audio_sent are byte counters (1/s): kept, not listed.
          if (event.type !== 'audio_received' && event.type !== 'audio_sent') {
            addEventLine(event.type || JSON.stringify(event).slice(0, 120));
          }
        } catch (err) {
          addEventLine(`unreadable event: ${err}`);
        }
      })
      .on(E.MediaDevicesError, (err) => showError(`Microphone error: ${err.message || err}`));
    room.registerTextStreamHandler(TOPIC_TRANSCRIPTION, (reader, participantInfo) => {
      onTranscriptionStream(reader, participantInfo);
    });
  }

  async function join() {
    clearError();
    setConnection('connecting');
    try {
      const details = await fetchToken();
      page.details = { room: details.room, identity: details.identity, url: details.url };
      const room = new LK.Room({ adaptiveStream: true, dynacast: true });
      page.room = room;
      wireRoom(room);
      ui.roomInfo.textContent = `room ${details.room} · you are ${details.identity}`;
      ui.roomInfo.hidden = false;
      await room.connect(details.url, details.token);
      await room.startAudio();
      for (const participant of room.remoteParticipants.values()) trackAgent(participant);
      await room.localParticipant.setMicrophoneEnabled(true);
      ui.mute.textContent = 'Mute';
      startLevelMeters(room);
      startLatencyMeter(room);
      setConnection('connected');
      if (page.agentState === 'absent') setAgentState('waiting');
      page.agentWaitTimer = window.setTimeout(() => {
        if (page.room === room && page.agentState === 'waiting') {
          setNotice('The agent has not joined yet. Is the agent worker running? (Leave and Join to retry.)');
        }
      }, AGENT_WAIT_HINT_MS);
    } catch (err) {
      showError(err && err.message ? err.message : String(err));
      await leave();
    }
  }

  function teardown() {
    stopLevelMeters();
    stopLatencyMeter();
    if (page.agentWaitTimer !== null) window.clearTimeout(page.agentWaitTimer);
    page.agentWaitTimer = null;
    setNotice('');
    for (const element of Array.from(ui.audioSink.children)) element.remove();
    page.room = null;
    page.agentIdentity = null;
    page.agentAudioTrack = null;
    setAgentState('absent');
    setConnection('idle');
  }

  async function leave() {
    const room = page.room;
    if (room) {
      try { await room.disconnect(); } catch (_) { /* already gone */ }
    }
    teardown();
  }

  async function toggleMute() {
    const room = page.room;
    if (!room) return;
    const enabled = room.localParticipant.isMicrophoneEnabled;
    await room.localParticipant.setMicrophoneEnabled(!enabled);
    ui.mute.textContent = enabled ? 'Unmute' : 'Mute';
  }

  // Received-audio statistics of the agent's track (for tests and diagnostics).
  async function agentAudioStats() {
    const track = page.agentAudioTrack;
    if (!track || typeof track.getReceiverStats !== 'function') return null;
    const stats = await track.getReceiverStats();
    if (!stats) return null;
    return {
      bytesReceived: stats.bytesReceived || 0,
      packetsReceived: stats.packetsReceived || 0,
      totalAudioEnergy: stats.totalAudioEnergy || 0,
      totalSamplesDuration: stats.totalSamplesDuration || 0,
    };
  }

  // ---------------------------------------------------------------- init
  if (!LK) {
    showError('livekit-client is not installed on this server: run `make web-deps`.');
    ui.join.disabled = true;
    return;
  }
  const params = new URLSearchParams(window.location.search);
  if (params.get('room')) ui.room.value = params.get('room');
  if (window.sessionStorage.getItem('omnivoice-key')) ui.key.hidden = false;
  ui.form.addEventListener('submit', (event) => { event.preventDefault(); join(); });
  ui.leave.addEventListener('click', () => { leave(); });
  ui.mute.addEventListener('click', () => { toggleMute(); });
  document.addEventListener('click', () => {
    if (page.room && !page.room.canPlaybackAudio) page.room.startAudio().then(clearError);
    if (latency.ctx && latency.ctx.state === 'suspended') latency.ctx.resume().catch(() => {});
  });
  window.addEventListener('pagehide', () => { if (page.room) page.room.disconnect(); });
  setConnection('idle');
  setAgentState('absent');

  window.omnivoice = {
    get connection() { return page.connection; },
    get room() { return page.details && page.details.room; },
    get identity() { return page.details && page.details.identity; },
    get agentState() { return page.agentState; },
    get agentStatesSeen() { return page.agentStatesSeen.slice(); },
    get agentIdentity() { return page.agentIdentity; },
    get errors() { return page.errors.slice(); },
    get events() { return page.events.slice(); },
    get latencies() { return latency.reports.slice(); },
    transcript() {
      return Array.from(page.segments.entries(), ([segment, s]) => ({
        segment, role: s.role, identity: s.identity, text: s.text, final: s.final,
      }));
    },
    agentAudioStats,
    join,
    leave,
  };
})();

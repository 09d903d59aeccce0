// The call history page: /calls lists recorded calls, /calls/<id> shows one.
// Data comes from /api/calls (with the access key when the server requires one; it is
// kept for this tab only). Everything is drawn with DOM APIs (text, never HTML), and the
// latency chart is plain SVG: no CDN, nothing but this file.
"use strict";

(() => {
  const KEY_STORAGE = "omnivoice.key";
  const SVG = "http://www.w3.org/2000/svg";
  const KINDS = ["stt", "llm", "tts", "total"];
  const $ = (id) => document.getElementById(id);
  const state = { calls: [], call: null, errors: [] };
  window.omnivoiceCalls = state;

  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function showError(message) {
    state.errors.push(message);
    $("error").textContent = message;
    $("error").hidden = false;
  }

  async function api(path) {
    const headers = {};
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (key) headers.Authorization = `Bearer ${key}`;
    const response = await fetch(path, { headers, cache: "no-store" });
    if (response.status === 401) {
      $("key-form").hidden = false;
      throw new Error("This server needs an access key.");
    }
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    return body;
  }

  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "-");
  const secs = (s) => (s === null || s === undefined ? "-" : `${Number(s).toFixed(1)} s`);

  // ---------------------------------------------------------------- list

  function listQuery() {
    const params = new URLSearchParams();
    const route = $("route").value;
    if (route) params.set("route", route);
    if ($("since").value) params.set("since", $("since").value);
    if ($("until").value) params.set("until", $("until").value);
    const reason = $("end-reason").value.trim();
    if (reason) params.set("end_reason", reason);
    return params;
  }

  async function loadList() {
    const params = listQuery();
    history.replaceState(null, "", params.toString() ? `/calls?${params}` : "/calls");
    const body = await api(`/api/calls?${params}`);
    $("list-view").hidden = false; // only once there is data to show
    state.calls = body.calls;
    const rows = $("calls");
    rows.replaceChildren();
    for (const call of body.calls) {
      const tr = el("tr", null, { "data-call": call.id });
      const link = el("a", when(call.created_at), { href: `/calls/${encodeURIComponent(call.id)}` });
      const first = el("td");
      first.append(link);
      tr.append(first);
      const route = call.carrier ? `${call.route}/${call.carrier}` : call.route;
      const from = (call.pii && call.pii.caller) || call.ids.participant;
      for (const text of [route, call.direction, from, secs(call.duration_s),
                          call.end_reason || call.status, call.ended_by || "-",
                          call.metrics.turn_count ?? "-"]) {
        tr.append(el("td", text));
      }
      rows.append(tr);
    }
    $("empty").hidden = body.calls.length > 0;
  }

  function initFilters() {
    const params = new URLSearchParams(location.search);
    $("route").value = params.get("route") || "";
    $("since").value = params.get("since") || "";
    $("until").value = params.get("until") || "";
    $("end-reason").value = params.get("end_reason") || "";
    $("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      loadList().catch((e) => showError(e.message));
    });
  }

  // ---------------------------------------------------------------- one call

  function summary(call) {
    const rows = [
      ["call", call.id],
      ["route", call.carrier ? `${call.route} (${call.carrier})` : call.route],
      ["direction", call.direction],
      ["from", (call.pii && call.pii.caller) || call.ids.participant],
      ["to", (call.pii && call.pii.callee) || "-"],
      ["started", when(call.created_at)],
      ["answered", when(call.answered_at)],
      ["ended", when(call.ended_at)],
      ["duration", secs(call.duration_s)],
      ["how it ended", `${call.end_reason || call.status} (by ${call.ended_by || "-"})`],
      ["room", call.ids.room],
      ["avg latency", `${call.metrics.avg_total_latency_ms ?? 0} ms total, ` +
                      `${call.metrics.avg_llm_latency_ms ?? 0} ms LLM`],
    ];
    const dl = $("summary");
    dl.replaceChildren();
    for (const [term, value] of rows) {
      dl.append(el("dt", term), el("dd", value, { "data-field": term }));
    }
  }

  function transcript(call) {
    const list = $("transcript");
    list.replaceChildren();
    const start = new Date(call.created_at).getTime();
    for (const turn of call.transcript) {
      const offset = ((new Date(turn.at).getTime() - start) / 1000).toFixed(1);
      const item = el("li", null, { class: "turn", "data-role": turn.role, "data-seq": turn.seq });
      const lat = turn.latency_ms.total !== null ? `, answered in ${turn.latency_ms.total} ms` : "";
      item.append(el("span", `+${offset} s · ${turn.role} · ${turn.duration_ms} ms${lat}`,
                     { class: "meta" }));
      item.append(el("span", turn.text, { class: "text" }));
      list.append(item);
    }
    const events = $("events");
    events.replaceChildren();
    for (const event of call.events) {
      events.append(el("li", `${when(event.at)} ${event.type} ${JSON.stringify(event.data)}`));
    }
  }

  function chart(call) {
    const turns = call.transcript.filter((t) => KINDS.some((k) => t.latency_ms[k] !== null));
    const box = $("chart");
    box.replaceChildren();
    if (!turns.length) {
      box.append(el("p", "No latency figures were recorded for this call.", { class: "empty" }));
      return;
    }
    const max = Math.max(...turns.flatMap((t) => KINDS.map((k) => t.latency_ms[k] || 0)), 1);
    const width = 760, height = 220, left = 48, bottom = 24, top = 10;
    const group = (width - left - 10) / turns.length;
    const bar = Math.max(2, (group - 6) / KINDS.length);
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
    root.append(svg("line", { class: "axis", x1: left, y1: top, x2: left, y2: height - bottom }));
    root.append(svg("line", { class: "axis", x1: left, y1: height - bottom, x2: width, y2: height - bottom }));
    for (const frac of [0, 0.5, 1]) {
      const y = height - bottom - frac * (height - bottom - top);
      root.append(svg("text", { x: 4, y: y + 4 }, `${Math.round(max * frac)} ms`));
    }
    turns.forEach((turn, i) => {
      KINDS.forEach((kind, j) => {
        const value = turn.latency_ms[kind];
        if (value === null) return;
        const h = (value / max) * (height - bottom - top);
        root.append(svg("rect", {
          class: `bar-${kind}`, x: left + 3 + i * group + j * bar, y: height - bottom - h,
          width: bar - 1, height: Math.max(h, 1), "data-turn": turn.seq, "data-kind": kind,
        }));
      });
      root.append(svg("text", { x: left + i * group + group / 2 - 8, y: height - 6 }, `#${turn.seq}`));
    });
    box.append(root);
    const legend = el("div", null, { class: "legend" });
    for (const kind of KINDS) {
      const item = el("span");
      item.append(el("i", null, { class: kind }), document.createTextNode(kind));
      legend.append(item);
    }
    box.append(legend);
  }

  async function loadCall(id) {
    const call = await api(`/api/calls/${encodeURIComponent(id)}`);
    $("call-view").hidden = false;
    state.call = call;
    summary(call);
    chart(call);
    transcript(call);
  }

  // ---------------------------------------------------------------- start

  function route() {
    const match = location.pathname.match(/^\/calls\/(.+)$/);
    return match ? loadCall(decodeURIComponent(match[1])) : loadList();
  }

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, $("key").value);
    $("key-form").hidden = true;
    $("error").hidden = true;
    route().catch((e) => showError(e.message));
  });
  initFilters();
  state.ready = route().then(() => true, (e) => { showError(e.message); return false; });
})();

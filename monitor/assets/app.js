// tickwire dashboard: renders the monitor's state pushed over /ws.
//
// Rules it keeps: a panel is only rewritten when its content changed (no flicker); when the
// connection is lost or the engine is not live, the last good values stay on screen, greyed,
// with a banner saying since when; a state without a region never blanks the panels.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const esc = (v) => String(v).replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const MAX_POINTS = 600;
  const TOKEN_KEY = "tickwire-control-token";

  let last = null;          // last state that had a region attached
  let lastMessageAt = 0;    // Date.now() of the last state message
  let connected = false;
  let lostSince = null;     // connection lost at (ms)
  let notLiveSince = null;  // engine seen not live at (ms)
  let points = [];          // latency windows, oldest first
  let chart = null;
  let stage = "tick_to_trade";
  let historyBefore = null;
  let historyDone = false;
  let retryMs = 500;

  const clock = (ms) => new Date(ms).toISOString().slice(11, 19) + " UTC";
  const duration = (s) => {
    s = Math.max(0, Math.floor(s));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
    return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
  };
  const ns = (v) => Number(v).toLocaleString("en-US");

  function setRows(tableId, html) {
    const body = $(tableId).tBodies[0];
    if (body.dataset.html !== html) {
      body.innerHTML = html;
      body.dataset.html = html;
    }
  }
  function setText(id, text) {
    const el = $(id);
    if (el.textContent !== text) el.textContent = text;
  }
  const kv = (pairs) => pairs.map(([k, v]) =>
    `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join("");

  function level(status, liveness) {
    if (liveness !== "live") return "bad";
    if (status === "running") return "ok";
    if (status === "halted") return "bad";
    return "warn";
  }

  function renderHeader(s) {
    const live = s.monitor.liveness;
    const status = s.engine.status;
    const pill = $("health");
    setText("health", connected ? status : "disconnected");
    pill.dataset.level = connected ? level(status, live) : "bad";
    pill.dataset.status = connected ? status : "disconnected";
    setText("instance", s.engine.instance ? `${s.engine.instance} · pid ${s.engine.pid}` : s.monitor.region);
    let detail = "";
    if (status === "paused") detail = `paused for ${duration(s.engine.state_age_s)}` + (s.engine.reason ? ` (${s.engine.reason})` : "");
    else if (status === "halted") detail = `halted for ${duration(s.engine.state_age_s)}: ${s.engine.reason}`;
    else if (s.engine.reason) detail = s.engine.reason;
    if (s.engine.reduce_only) {
      const why = (s.engine.reduce_only_because || []).join(", ");
      detail += (detail ? " · " : "") + "reduce-only" + (why ? ` (${why})` : "");
    }
    if (s.engine.alarms && s.engine.alarms.length) detail += (detail ? " · " : "") + "alarms: " + s.engine.alarms.join(", ");
    setText("status-detail", detail);
    if (live !== "live") notLiveSince = notLiveSince || Date.now();
    else notLiveSince = null;
  }

  function renderBanner() {
    const banner = $("banner");
    let text = "";
    const now = Date.now();
    if (!connected && lostSince) {
      text = `Connection to the monitor lost since ${clock(lostSince)} (${duration((now - lostSince) / 1000)} ago); showing the last known state; reconnecting.`;
    } else if (connected && lastMessageAt && now - lastMessageAt > 3000) {
      text = `No update from the monitor for ${duration((now - lastMessageAt) / 1000)}; showing the last known state.`;
    } else if (notLiveSince && last) {
      const status = lastState && lastState.engine.status;
      text = `Engine ${status} since ${clock(notLiveSince)} (${duration((now - notLiveSince) / 1000)}); showing its last known state` +
        (last.monitor.unix_ms ? ` from ${clock(last.monitor.unix_ms)}` : "") + ".";
      if (lastState && lastState.monitor.error) text += " " + lastState.monitor.error;
    } else if (notLiveSince) {
      text = `No engine: ${(lastState && (lastState.monitor.error || lastState.engine.status)) || "waiting"} (since ${clock(notLiveSince)}).`;
    }
    banner.hidden = !text;
    if (banner.textContent !== text) banner.textContent = text;
    document.body.classList.toggle("stale", !!text);
  }

  function renderQuotes(s) {
    setRows("quotes", s.instruments.map((i) => `<tr data-symbol="${esc(i.symbol)}">
      <td>${esc(i.symbol)}</td><td>${esc(i.bid_qty)}</td><td class="bid">${esc(i.bid)}</td>
      <td class="ask">${esc(i.ask)}</td><td>${esc(i.ask_qty)}</td><td class="last">${esc(i.last)}</td>
      <td class="state-${esc(i.feed_state)}">${esc(i.feed_state)}</td><td>${esc(i.data_source)}</td>
      <td>${i.last_msg_age_ms == null ? "-" : esc(i.last_msg_age_ms)}</td><td>${ns(i.messages)}</td>
      <td>${ns(i.gaps)}</td><td>${ns(i.resyncs)}</td><td>${ns(i.reconnects)}</td><td>${ns(i.decode_errors)}</td></tr>`).join(""));
  }

  function renderDepth(s) {
    const select = $("book-symbol");
    const symbols = Object.keys(s.book);
    const options = symbols.map((x) => `<option>${esc(x)}</option>`).join("");
    if (select.dataset.html !== options) {
      const chosen = select.value;
      select.innerHTML = options;
      select.dataset.html = options;
      if (symbols.includes(chosen)) select.value = chosen;
    }
    const book = s.book[select.value] || { bids: [], asks: [] };
    const depth = Math.max(book.bids.length, book.asks.length);
    const maxQty = Math.max(1e-12, ...book.bids.map((l) => +l[1]), ...book.asks.map((l) => +l[1]));
    const bar = (cls, level) => level
      ? `<td class="bar ${cls}"><span class="fill" style="width:${(100 * +level[1] / maxQty).toFixed(1)}%"></span><span class="v">${esc(level[1])}</span></td>`
      : "<td></td>";
    let html = "";
    for (let i = 0; i < depth; i++) {
      const b = book.bids[i], a = book.asks[i];
      html += `<tr>${bar("bid", b)}<td class="bid">${b ? esc(b[0]) : ""}</td><td class="ask">${a ? esc(a[0]) : ""}</td>${bar("ask", a)}</tr>`;
    }
    setRows("depth", html);
  }

  function renderTables(s) {
    setRows("positions", s.positions.map((p) => `<tr><td>${esc(p.symbol)}</td><td class="qty">${esc(p.qty)}</td>
      <td>${esc(p.avg_price)}</td><td>${esc(p.mark_price)}</td><td class="realized">${esc(p.realized_pnl)}</td>
      <td class="unrealized">${esc(p.unrealized_pnl)}</td><td>${ns(p.fills)}</td></tr>`).join(""));
    const r = s.risk;
    setRows("risk", kv([
      ["position used / max", `${r.position_used} / ${r.max_position} ${r.symbol}`],
      ["max notional per order", r.max_notional],
      ["orders this second / max", `${r.orders_this_sec} / ${r.max_orders_per_sec}`],
      ["open orders / max", `${r.open_orders} / ${r.max_open_orders}`],
      ["price band", `${r.price_band_bps} bps`],
      ["stale feed after", `${r.stale_feed_ms} ms`],
      ["kill switch", r.kill_switch ? "THROWN" : "off"],
      ["reduce-only", r.reduce_only ? "yes" : "no"],
      ["rejects", Object.entries(r.rejects || {}).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(", ") || "none"],
      ["storage", s.storage.alarm ? `ALARM for ${duration(s.storage.alarm_age_s)}, ${s.storage.pending_records} pending` : `ok, ${ns(s.storage.written_records)} written`],
    ]));
    setRows("orders", s.orders.map((o) => `<tr><td>${esc(o.client_id)}</td><td>${esc(o.symbol)}</td>
      <td class="${esc(o.side)}">${esc(o.side)}</td><td>${esc(o.qty)}</td><td>${esc(o.price)}</td>
      <td>${esc(o.filled)}</td><td>${esc(o.state)}</td><td>${ns(o.age_ms)}</td></tr>`).join(""));
    setText("fills-total", `${ns(s.fills_total)} since start`);
    setRows("fills", s.fills.slice(0, 20).map((f) => `<tr><td>${esc(f.seq)}</td><td>${esc(clock(f.unix_ms))}</td>
      <td>${esc(f.symbol)}</td><td class="${esc(f.side)}">${esc(f.side)}</td><td>${esc(f.qty)}</td>
      <td>${esc(f.price)}</td><td>${f.maker ? "maker" : "taker"}</td></tr>`).join(""));
    setRows("latency", Object.entries(s.latency).map(([name, l]) => `<tr><td>${esc(name)}</td><td>${ns(l.count)}</td>
      <td>${ns(l.p50_ns)}</td><td>${ns(l.p99_ns)}</td><td>${ns(l.p999_ns)}</td><td>${ns(l.max_ns)}</td></tr>`).join(""));
    const e = s.engine;
    setRows("engine", kv([
      ["state", `${e.engine_state}${e.reason ? " (" + e.reason + ")" : ""} for ${duration(e.state_age_s)}`],
      ["uptime", duration(e.uptime_s)],
      ["heartbeat", `${e.heartbeat_age_ms} ms ago`],
      ["gateway", e.gateway_mode],
      ["strategy core", e.strategy_core < 0 ? "unpinned" : e.strategy_core],
      ["idle", e.busy_spin ? "busy-spin" : "backoff"],
      ["events", ns(e.events)],
    ]));
    const c = s.counters;
    setRows("counters", kv(["messages", "gaps", "resyncs", "reconnects", "decode_errors", "queue_full",
      "rejects", "hot_path_allocations", "orders_sent", "fills", "journal_records", "journal_retries",
      "clock_jumps"].filter((k) => k in c).map((k) => [k, ns(c[k])])));
  }

  function chartData() {
    const xs = [], p50 = [], p99 = [], p999 = [];
    const us = (v) => (v > 0 ? v / 1000 : null);
    for (const p of points) {
      const v = p.stages[stage];
      if (!v) continue;
      xs.push(p.unix_ms / 1000);
      p50.push(v[0] ? us(v[1]) : null);
      p99.push(v[0] ? us(v[2]) : null);
      p999.push(v[0] ? us(v[3]) : null);
    }
    return [xs, p50, p99, p999];
  }

  function makeChart() {
    const el = $("latency-chart");
    if (chart) chart.destroy();
    const axis = { stroke: "#8591a0", grid: { stroke: "#2a3038" }, ticks: { stroke: "#2a3038" } };
    chart = new uPlot({
      width: Math.max(300, el.clientWidth - 4),
      height: 240,
      scales: { x: { time: true }, y: { distr: 3 } },
      series: [
        {},
        { label: "p50 µs", stroke: "#2fbf71", width: 1.5, spanGaps: false },
        { label: "p99 µs", stroke: "#e5a50a", width: 1.5, spanGaps: false },
        { label: "p99.9 µs", stroke: "#e5484d", width: 1.5, spanGaps: false },
      ],
      axes: [axis, Object.assign({ size: 80 }, axis)],
    }, chartData(), el);
  }

  function addPoint(p) {
    if (!p) return;
    if (points.length && points[points.length - 1].unix_ms >= p.unix_ms) return;
    points.push(p);
    if (points.length > MAX_POINTS) points.shift();
    if (chart) chart.setData(chartData());
  }

  function renderStages(s) {
    const select = $("stage-select");
    const names = Object.keys(s.latency);
    const options = names.map((x) => `<option${x === stage ? " selected" : ""}>${esc(x)}</option>`).join("");
    if (names.length && select.dataset.html !== options) {
      select.innerHTML = options;
      select.dataset.html = options;
    }
  }

  let lastState = null;
  function onState(s) {
    lastState = s;
    lastMessageAt = Date.now();
    renderHeader(s);
    if (s.monitor.attached) {
      last = s;
      renderQuotes(s);
      renderDepth(s);
      renderTables(s);
      renderStages(s);
      if (s.monitor.liveness === "live") addPoint(s.latency_window);
    }
    renderBanner();
  }

  function connect() {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
    ws.onopen = () => { connected = true; lostSince = null; retryMs = 500; };
    ws.onmessage = (event) => {
      let msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      if (msg.type === "history") {
        points = msg.points.slice(-MAX_POINTS);
        makeChart();
      } else {
        onState(msg);
      }
    };
    ws.onclose = () => {
      if (connected || !lostSince) lostSince = Date.now();
      connected = false;
      if (lastState) renderHeader(lastState);
      renderBanner();
      setTimeout(connect, retryMs);
      retryMs = Math.min(5000, retryMs * 2);
    };
  }

  function askToken() {
    return new Promise((resolve) => {
      const dialog = $("token-dialog");
      $("token-input").value = "";
      dialog.onclose = () => {
        const token = $("token-input").value.trim();
        resolve(dialog.returnValue === "save" && token ? token : null);
      };
      dialog.showModal();
    });
  }

  async function sendControl(cmd) {
    if (cmd === "kill" && !confirm("Kill: cancel every order and halt the engine?")) return;
    let token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) {
      token = await askToken();
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
    }
    setText("control-result", `${cmd}: sent…`);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 5000);
    try {
      const response = await fetch("/api/control", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: JSON.stringify({ cmd }),
        signal: abort.signal,
      });
      const body = await response.json().catch(() => ({}));
      if (response.status === 401) sessionStorage.removeItem(TOKEN_KEY);
      setText("control-result", response.ok
        ? `${cmd}: ${body.ack} (${clock(Date.now())})`
        : `${cmd} failed: HTTP ${response.status} ${body.error || body.ack || ""}`);
    } catch (e) {
      setText("control-result", `${cmd} failed: ${e.name === "AbortError" ? "no answer in 5 s" : e.message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async function loadHistory() {
    if (historyDone) return;
    const query = historyBefore ? `&before=${historyBefore}` : "";
    try {
      const response = await fetch(`/api/history/fills?limit=20${query}`);
      const body = await response.json();
      if (!response.ok) { setText("history-status", body.error || `HTTP ${response.status}`); return; }
      const html = body.fills.map((f) => `<tr><td>${esc(f.id)}</td><td>${esc(clock(f.unix_ms))}</td><td>${esc(f.symbol)}</td>
        <td class="${esc(f.side)}">${esc(f.side)}</td><td>${esc(f.qty)}</td><td>${esc(f.price)}</td></tr>`).join("");
      $("history").tBodies[0].insertAdjacentHTML("beforeend", html);
      historyBefore = body.next_before;
      historyDone = body.next_before == null;
      setText("history-status", historyDone ? "end of history" : "");
      $("history-older").disabled = historyDone;
    } catch (e) {
      setText("history-status", `history: ${e.message}`);
    }
  }

  for (const button of document.querySelectorAll("button[data-cmd]")) {
    button.addEventListener("click", () => sendControl(button.dataset.cmd));
  }
  $("history-older").addEventListener("click", loadHistory);
  $("stage-select").addEventListener("change", (e) => { stage = e.target.value; if (chart) chart.setData(chartData()); });
  $("book-symbol").addEventListener("change", () => { if (last) renderDepth(last); });
  window.addEventListener("resize", () => {
    if (chart) chart.setSize({ width: Math.max(300, $("latency-chart").clientWidth - 4), height: 240 });
  });
  setInterval(() => { if (lastState) renderHeader(lastState); renderBanner(); }, 1000);

  // Read-only hooks for tests and the browser console.
  window.tickwire = {
    state: () => lastState,
    chartPoints: () => (chart ? chart.data[0].length : 0),
    connected: () => connected,
  };

  makeChart();
  connect();
  loadHistory();
})();

// accelpool dashboard: polls GET /api/pool (a DashboardState as protobuf
// JSON) and renders it.
//
// SECURITY: every string from the server is attacker-controlled (holders,
// tenants, node names, labels, reasons, addresses, errors). The DOM is built
// only with createElement / createElementNS + textContent, and setAttribute
// of fixed attribute names. Nothing here parses HTML from strings.
"use strict";

(function () {
  const TOKEN_KEY = "accelpool-token";
  const POLL_MS = 2000;
  const FETCH_TIMEOUT_MS = 10000;
  const HOUR_MS = 3600 * 1000;
  const SVG_NS = "http://www.w3.org/2000/svg";

  // ---------------------------------------------------------------- state ---

  let token = "";
  let loaded = false;     // a 200 came back for the current token
  let epoch = 0;          // bumps on sign-in / sign-out; stale answers are dropped
  let timer = 0;
  let inFlight = null;    // AbortController of the running fetch

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------ utilities ---

  // int64/uint64 arrive as strings, the rest as numbers; missing is 0.
  function num(v) {
    const n = Number(v);
    return Number.isFinite(n) ? n : 0;
  }
  function str(v) {
    return v === undefined || v === null ? "" : String(v);
  }
  function arr(v) {
    return Array.isArray(v) ? v : [];
  }
  function obj(v) {
    return v && typeof v === "object" && !Array.isArray(v) ? v : {};
  }

  function formatBytes(b) {
    b = num(b);
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    let v = Math.abs(b);
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    let s;
    if (i === 0) s = String(Math.round(v));
    else if (v >= 100) s = String(Math.round(v));
    else s = String(Math.round(v * 10) / 10);
    return (b < 0 ? "-" : "") + s + " " + units[i];
  }

  function formatDuration(ms) {
    let s = Math.floor(num(ms) / 1000);
    if (s < 0) s = 0;
    if (s < 60) return s + "s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + "m " + (s % 60) + "s";
    const h = Math.floor(m / 60);
    if (h < 24) return h + "h " + (m % 60) + "m";
    const d = Math.floor(h / 24);
    return d + "d " + (h % 24) + "h";
  }

  function formatCount(n) {
    return String(Math.round(num(n)));
  }

  function pct(part, whole) {
    part = num(part);
    whole = num(whole);
    if (whole <= 0 || part <= 0) return 0;
    return Math.min(100, (part / whole) * 100);
  }

  function clockTime(ms) {
    const d = new Date(num(ms));
    const p = (x) => String(x).padStart(2, "0");
    return p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  }

  // el("td", {class: "num"}, "text" | Node | [children])
  function el(tag, attrs, content) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, String(attrs[k]));
      }
    }
    append(e, content);
    return e;
  }
  function append(parent, content) {
    if (content === undefined || content === null) return;
    if (Array.isArray(content)) {
      for (const c of content) append(parent, c);
    } else if (content instanceof Node) {
      parent.appendChild(content);
    } else {
      parent.appendChild(document.createTextNode(String(content)));
    }
  }
  function td(content, cls) {
    return el("td", cls ? { class: cls } : null, content);
  }
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG_NS, tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) e.setAttribute(k, String(attrs[k]));
    }
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  function emptyRow(cols, text) {
    return el("tr", { class: "empty" }, el("td", { colspan: cols }, text));
  }

  function setText(id, text) {
    const e = $(id);
    if (e) e.textContent = text;
  }

  // A bar of nested divs; widths go through the CSSOM (CSP allows it).
  function bar(layers, small, title) {
    const outer = el("div", { class: small ? "bar bar-small" : "bar" });
    if (title) outer.setAttribute("title", title);
    for (const layer of layers) {
      const inner = el("div", { class: layer.cls });
      inner.style.width = layer.pct.toFixed(2) + "%";
      outer.appendChild(inner);
    }
    return outer;
  }

  function stateBadge(state) {
    const s = str(state);
    let cls = "badge-other";
    if (s === "ready" || s === "active") cls = "badge-ok";
    else if (s === "draining" || s === "queued") cls = "badge-warn";
    else if (s === "lost") cls = "badge-bad";
    return el("span", { class: "badge " + cls }, s || "unknown");
  }

  function labelChips(labels) {
    const o = obj(labels);
    const keys = Object.keys(o).sort();
    if (keys.length === 0) return el("span", { class: "sub" }, "\u2013");
    return keys.map((k) => el("span", { class: "chip" }, k + "=" + str(o[k])));
  }

  function showingText(shown, total) {
    return "showing " + shown + " of " + total;
  }

  // ------------------------------------------------------------- sections ---

  function renderControlPlane(state) {
    const cp = obj(state.control_plane);
    setText("cp-role", str(cp.role) || "\u2013");
    setText("cp-leader", str(cp.leader_address) || "\u2013");
    setText("cp-store", str(cp.state_store) || "\u2013");
    const status = $("cp-store-status");
    const trouble = str(cp.store_status);
    let text = trouble || "healthy";
    const rt = num(cp.store_round_trip_us);
    if (!trouble && rt > 0) text += " (" + (rt >= 1000 ? (rt / 1000).toFixed(1) + " ms" : rt + " \u00b5s") + ")";
    status.textContent = text;
    status.setAttribute("class", trouble ? "trouble" : "healthy");
    const coordinators = arr(cp.coordinators).map(str).filter((s) => s);
    $("control-plane").setAttribute("title", coordinators.length ? "coordinators: " + coordinators.join(", ") : "");

    const notice = $("notice");
    const n = str(state.notice);
    notice.textContent = n;
    notice.hidden = n === "";
  }

  function renderRefreshed(state, now) {
    const r = $("refreshed");
    r.textContent = "refreshed " + clockTime(now);
    r.setAttribute("data-generated", String(num(state.generated_unix_ms)));
    r.setAttribute("title", new Date(now).toString());
  }

  function renderNodes(state, now) {
    const nodes = arr(state.nodes);
    const rows = nodes.map((n) => {
      const hb = num(n.last_heartbeat_unix_ms);
      const tr = el("tr", null, [
        td(str(n.name), "mono"),
        td(str(n.address), "mono"),
        td(stateBadge(n.state)),
        td(labelChips(n.labels)),
        td(formatCount(n.devices), "num"),
        td(formatCount(n.leases), "num"),
        td(hb > 0 ? formatDuration(now - hb) + " ago" : "never", "num"),
      ]);
      tr.setAttribute("data-node", str(n.name));
      return tr;
    });
    $("nodes").tBodies[0].replaceChildren(...(rows.length ? rows : [emptyRow(7, "no nodes")]));
    setText("nodes-count", String(nodes.length));
  }

  function renderDevices(state) {
    const devices = arr(state.devices);
    // Which leases hold each device, from the leases list.
    const holders = new Map();
    for (const l of arr(state.leases)) {
      for (const ld of arr(l.devices)) {
        const id = str(obj(obj(ld).device).id);
        if (!id) continue;
        if (!holders.has(id)) holders.set(id, []);
        const list = holders.get(id);
        const lid = str(l.lease_id);
        if (!list.includes(lid)) list.push(lid);
      }
    }
    const rows = devices.map((d) => {
      const total = num(d.total_memory);
      const used = num(d.used_memory);
      const leased = num(d.leased_memory);
      const words = formatBytes(used) + " used / " + formatBytes(leased) + " leased / " + formatBytes(total);
      const desc = [str(d.vendor), str(d.arch), str(d.backend)].filter((s) => s).join(" \u00b7 ");
      const heldBy = holders.get(str(d.id)) || [];
      const tr = el("tr", null, [
        td(str(d.id), "mono"),
        td(str(d.node), "mono"),
        td([el("div", null, str(d.name) || "\u2013"), desc ? el("div", { class: "sub" }, desc) : null], "wrap"),
        td([
          el("div", { class: "bar-text" }, words),
          bar([
            { cls: "bar-leased", pct: pct(leased, total) },
            { cls: "bar-used", pct: pct(used, total) },
          ], false, words),
        ], "mem-col"),
        td(formatCount(d.leases), "num"),
        heldBy.length ? td(heldBy.join(", "), "mono") : td("\u2013", "none"),
      ]);
      tr.setAttribute("data-device", str(d.id));
      return tr;
    });
    $("devices").tBodies[0].replaceChildren(...(rows.length ? rows : [emptyRow(6, "no devices")]));
    setText("devices-count", String(devices.length));
  }

  function leaseDeviceIds(l) {
    return arr(l.devices).map((ld) => str(obj(obj(ld).device).id)).filter((s) => s);
  }

  function leaseQuota(l) {
    const quotas = arr(l.devices).map((ld) => num(obj(ld).memory_quota));
    if (quotas.length === 0) return "\u2013";
    const sum = quotas.reduce((a, b) => a + b, 0);
    if (quotas.length > 1 && quotas.every((q) => q === quotas[0])) {
      return formatBytes(sum) + " (" + quotas.length + " \u00d7 " + formatBytes(quotas[0]) + ")";
    }
    return formatBytes(sum);
  }

  function renderLeases(state, now) {
    const leases = arr(state.leases);
    const rows = leases.map((l) => {
      const created = num(l.created_unix_ms);
      const devs = leaseDeviceIds(l);
      const shared = arr(l.devices).some((ld) => obj(ld).shared === true);
      const tr = el("tr", null, [
        td(str(l.lease_id), "mono"),
        td(str(l.tenant) || "\u2013", str(l.tenant) ? "wrap" : "none"),
        td(str(l.holder), "wrap"),
        td(str(l.node), "mono"),
        td(devs.length ? [devs.join(", "), shared ? el("div", { class: "sub" }, "shared") : null] : "\u2013", "mono"),
        td(leaseQuota(l), "num"),
        td(created > 0 ? formatDuration(now - created) : "\u2013", "num"),
        td(l.session_open === true ? "open" : "no", l.session_open === true ? null : "none"),
        td(str(l.reason), "reason"),
      ]);
      tr.setAttribute("data-lease", str(l.lease_id));
      return tr;
    });
    $("leases").tBodies[0].replaceChildren(...(rows.length ? rows : [emptyRow(9, "no leases")]));
    setText("leases-count", showingText(leases.length, num(state.active_leases)));
  }

  function renderQueue(state, now) {
    const queue = arr(state.queue);
    const rows = queue.map((l) => {
      const created = num(l.created_unix_ms);
      const tr = el("tr", null, [
        td(str(l.lease_id), "mono"),
        td(str(l.tenant) || "\u2013", str(l.tenant) ? "wrap" : "none"),
        td(str(l.holder), "wrap"),
        td(created > 0 ? formatDuration(now - created) : "\u2013", "num"),
        td(str(l.reason), "reason"),
      ]);
      tr.setAttribute("data-queued", str(l.lease_id));
      return tr;
    });
    $("queue").tBodies[0].replaceChildren(...(rows.length ? rows : [emptyRow(5, "the queue is empty")]));
    setText("queue-count", showingText(queue.length, num(state.queued_leases)));
  }

  function useOfMax(use, max, fmt) {
    return max > 0 ? fmt(use) + " / " + fmt(max) : fmt(use);
  }

  function renderTenants(state) {
    const tenants = arr(state.tenants);
    const rows = tenants.map((t) => {
      const memory = num(t.memory);
      const maxMemory = num(t.max_memory);
      const memText = useOfMax(memory, maxMemory, formatBytes);
      const memCell = maxMemory > 0
        ? [el("div", { class: "bar-text" }, memText),
           bar([{ cls: memory > maxMemory ? "bar-fill over" : "bar-fill", pct: pct(memory, maxMemory) }], true, memText)]
        : [el("div", { class: "bar-text" }, memText), el("div", { class: "sub" }, "no limit")];
      const tr = el("tr", null, [
        td(str(t.name), "mono"),
        td(String(num(t.priority)), "num"),
        td(useOfMax(num(t.leases), num(t.max_leases), formatCount), "num"),
        td(useOfMax(num(t.devices), num(t.max_devices), formatCount), "num"),
        td(memCell, "mem-col"),
        td(formatCount(t.queued), "num"),
        td(t.device_isolation === true ? "device" : "\u2013", t.device_isolation === true ? null : "none"),
      ]);
      tr.setAttribute("data-tenant", str(t.name));
      return tr;
    });
    $("tenants").tBodies[0].replaceChildren(...(rows.length ? rows : [emptyRow(7, "no tenants")]));
    setText("tenants-count", String(tenants.length));
  }

  // --------------------------------------------------------------- charts ---

  const CHART = { w: 400, h: 130, left: 46, right: 8, top: 8, bottom: 18 };

  // series: [{values: [[x, y]...], cls: "line"|"ref", area: bool, label}]
  function drawChart(svgEl, now, series, yMax, fmtY) {
    const c = CHART;
    const pw = c.w - c.left - c.right;
    const ph = c.h - c.top - c.bottom;
    const x0 = now - HOUR_MS;
    const sx = (x) => c.left + Math.max(0, Math.min(1, (x - x0) / HOUR_MS)) * pw;
    const sy = (y) => c.top + ph - Math.max(0, Math.min(1, y / yMax)) * ph;
    const parts = [];
    const inWindow = (values) => values.filter(([x]) => x >= x0 && x <= now + 60000);
    const hasData = series.some((s) => inWindow(s.values).length > 0);

    // Grid: 0, half, max (the scale only when there is something to scale).
    for (const f of [0, 0.5, 1]) {
      const y = c.top + ph - f * ph;
      parts.push(svg("line", { class: f === 0 ? "axis" : "grid", x1: c.left, x2: c.left + pw, y1: y, y2: y }));
      if (hasData) parts.push(svg("text", { class: "label", x: c.left - 4, y: y + 3, "text-anchor": "end" }, fmtY(yMax * f)));
    }
    parts.push(svg("line", { class: "axis", x1: c.left, x2: c.left, y1: c.top, y2: c.top + ph }));
    // Time labels.
    const ticks = [[x0, "-60m"], [now - 45 * 60000, "-45m"], [now - 30 * 60000, "-30m"], [now - 15 * 60000, "-15m"], [now, "now"]];
    ticks.forEach(([x, text], i) => {
      const anchor = i === 0 ? "start" : i === ticks.length - 1 ? "end" : "middle";
      parts.push(svg("text", { class: "label", x: sx(x), y: c.h - 4, "text-anchor": anchor }, text));
    });

    let any = false;
    for (const s of series) {
      const pts = inWindow(s.values);
      if (pts.length === 0) continue;
      any = true;
      const coords = pts.map(([x, y]) => sx(x).toFixed(1) + "," + sy(y).toFixed(1));
      if (pts.length === 1) {
        // A single sample: a short flat segment so it is visible.
        const [x, y] = pts[0];
        coords.unshift(Math.max(c.left, sx(x) - 4).toFixed(1) + "," + sy(y).toFixed(1));
      }
      if (s.area) {
        const first = coords[0].split(",")[0];
        const last = coords[coords.length - 1].split(",")[0];
        const base = (c.top + ph).toFixed(1);
        parts.push(svg("polygon", { class: "area", points: first + "," + base + " " + coords.join(" ") + " " + last + "," + base }));
      }
      parts.push(svg("polyline", { class: s.cls, points: coords.join(" ") }));
      if (s.label) {
        const [, ly] = pts[pts.length - 1];
        // Above its line, or below it when the line runs along the top.
        const above = sy(ly) - 3;
        parts.push(svg("text", { class: "ref-label", x: c.left + 4, y: above < c.top + 12 ? sy(ly) + 11 : above }, s.label));
      }
    }
    if (!any) {
      parts.push(svg("text", { class: "empty", x: c.left + pw / 2, y: c.top + ph / 2, "text-anchor": "middle" }, "no samples yet"));
    }
    svgEl.replaceChildren(...parts);
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const exp = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
      if (v <= m * exp) return m * exp;
    }
    return 10 * exp;
  }

  function niceBytesMax(v) {
    if (!(v > 0)) return 1024;
    // A power-of-two-ish ceiling in the value's unit.
    let unit = 1;
    while (v / unit >= 1024 && unit < Math.pow(1024, 4)) unit *= 1024;
    return niceMax(v / unit) * unit;
  }

  function renderCharts(state, now) {
    const history = arr(state.history)
      .map((s) => ({
        t: num(s.unix_ms),
        leased: num(s.leased_memory),
        total: num(s.total_memory),
        active: num(s.active_leases),
        queued: num(s.queued_leases),
      }))
      .filter((s) => s.t > 0)
      .sort((a, b) => a.t - b.t);
    const charts = $("charts");
    const get = (name) => charts.querySelector('svg[data-chart="' + name + '"]');
    const recent = history.filter((s) => s.t >= now - HOUR_MS);
    const last = history.length ? history[history.length - 1] : null;

    // Leased memory, with the total as a dashed reference line.
    const memMax = niceBytesMax(Math.max(0, ...recent.map((s) => Math.max(s.leased, s.total))));
    drawChart(get("leased_memory"), now, [
      { values: history.map((s) => [s.t, s.total]), cls: "ref", label: last ? "total " + formatBytes(last.total) : "" },
      { values: history.map((s) => [s.t, s.leased]), cls: "line", area: true },
    ], memMax, formatBytes);
    setText("chart-leased_memory-now", last ? formatBytes(last.leased) + " of " + formatBytes(last.total) : "");

    const actMax = niceMax(Math.max(1, ...recent.map((s) => s.active)));
    drawChart(get("active_leases"), now, [
      { values: history.map((s) => [s.t, s.active]), cls: "line", area: true },
    ], actMax, formatAxisCount);
    setText("chart-active_leases-now", last ? "now " + formatCount(last.active) : "");

    const qMax = niceMax(Math.max(1, ...recent.map((s) => s.queued)));
    drawChart(get("queued_leases"), now, [
      { values: history.map((s) => [s.t, s.queued]), cls: "line", area: true },
    ], qMax, formatAxisCount);
    setText("chart-queued_leases-now", last ? "now " + formatCount(last.queued) : "");
  }

  function formatAxisCount(v) {
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
  }

  function render(state) {
    // Ages are measured on the server's clock when it says what time it is.
    const generated = num(state.generated_unix_ms);
    const now = generated > 0 ? generated : Date.now();
    renderControlPlane(state);
    renderRefreshed(state, now);
    renderCharts(state, now);
    renderNodes(state, now);
    renderDevices(state);
    renderLeases(state, now);
    renderQueue(state, now);
    renderTenants(state);
  }

  // ------------------------------------------------------------ view flow ---

  function showError(text) {
    const e = $("error");
    e.textContent = text;
    e.hidden = !text;
  }

  function updateView() {
    const signedIn = token !== "" && loaded;
    $("dashboard").hidden = !signedIn;
    const errorShown = !$("error").hidden;
    $("sign-in-section").hidden = signedIn || (token !== "" && !errorShown);
    $("loading").hidden = !(token !== "" && !loaded && !errorShown);
  }

  function clearRendered() {
    for (const id of ["nodes", "devices", "leases", "queue", "tenants"]) {
      $(id).tBodies[0].replaceChildren();
    }
    for (const s of $("charts").querySelectorAll("svg[data-chart]")) s.replaceChildren();
    const r = $("refreshed");
    r.textContent = "\u2013";
    r.removeAttribute("data-generated");
  }

  function stopPolling() {
    if (timer) clearTimeout(timer);
    timer = 0;
    if (inFlight) inFlight.abort();
    inFlight = null;
  }

  function schedule() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(poll, POLL_MS);
  }

  async function errorText(resp) {
    let msg = "";
    try {
      const body = await resp.json();
      msg = str(obj(body).error);
    } catch (_) {
      // not JSON
    }
    return msg || resp.status + " " + resp.statusText;
  }

  async function poll() {
    timer = 0;
    if (!token) return;
    const my = epoch;
    const ctl = new AbortController();
    inFlight = ctl;
    const t = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
    try {
      const resp = await fetch("/api/pool", {
        method: "GET",
        cache: "no-store",
        credentials: "same-origin",
        headers: { Authorization: "Bearer " + token, Accept: "application/json" },
        signal: ctl.signal,
      });
      if (my !== epoch) return;
      if (resp.status === 401) {
        const msg = await errorText(resp);
        if (my !== epoch) return;
        signOut("Token refused: " + msg);
        return;
      }
      if (!resp.ok) {
        const msg = await errorText(resp);
        if (my !== epoch) return;
        showError("The coordinator answered " + resp.status + ": " + msg);
      } else {
        let state = null;
        try {
          state = await resp.json();
        } catch (err) {
          if (my !== epoch) return;
          throw new Error("the answer is not JSON (" + str(err && err.message) + ")");
        }
        if (my !== epoch) return;
        try {
          render(obj(state));
          loaded = true;
          showError("");
        } catch (err) {
          console.error("dashboard render failed:", err);
          loaded = true;
          showError("Cannot show the coordinator's answer: " + str(err && err.message ? err.message : err));
        }
      }
    } catch (err) {
      if (my !== epoch) return;
      const msg = str(err && err.message ? err.message : err);
      if (err && err.name === "AbortError") showError("Cannot load /api/pool: no answer in " + FETCH_TIMEOUT_MS / 1000 + "s");
      else if (err && err.name === "TypeError") showError("Cannot reach the coordinator (" + msg + ")");
      else showError("Cannot load /api/pool: " + msg);
    } finally {
      clearTimeout(t);
      if (inFlight === ctl) inFlight = null;
    }
    if (my !== epoch) return;
    updateView();
    schedule();
  }

  function signIn(newToken) {
    stopPolling();
    epoch++;
    token = newToken;
    loaded = false;
    clearRendered();
    try {
      sessionStorage.setItem(TOKEN_KEY, token);
    } catch (_) {
      // storage disabled: stays signed in until reload
    }
    showError("");
    updateView();
    poll();
  }

  function signOut(message) {
    stopPolling();
    epoch++;
    token = "";
    loaded = false;
    try {
      sessionStorage.removeItem(TOKEN_KEY);
    } catch (_) {
      // ignore
    }
    clearRendered();
    $("token").value = "";
    showError(message || "");
    updateView();
    $("token").focus();
  }

  function init() {
    $("sign-in-form").addEventListener("submit", (ev) => {
      ev.preventDefault(); // CSP has form-action 'none': never submit
      const t = $("token").value.trim();
      if (!t) {
        showError("Enter the operator token.");
        updateView();
        return;
      }
      $("token").value = "";
      signIn(t);
    });
    $("sign-out").addEventListener("click", () => signOut(""));

    let saved = "";
    try {
      saved = sessionStorage.getItem(TOKEN_KEY) || "";
    } catch (_) {
      saved = "";
    }
    if (saved) {
      signIn(saved);
    } else {
      updateView();
      $("token").focus();
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

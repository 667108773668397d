// The game day page: no framework. State and charts arrive by Server-Sent Events; every action is a
// POST with the session token. Text from the server is set as textContent, never as markup.
/* global vegaEmbed */

const token = document.querySelector('meta[name="cascade-token"]').content;
const $ = (id) => document.getElementById(id);
let me = sessionStorage.getItem("cascade-gameday-name") || "";
let state = null;
/** performance.now() when the last state arrived, to tick elapsed times between updates */
let stateAt = 0;
let schema = null;
/** the join is recorded once the session runs (before that the server refuses actions) */
let joinSent = false;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

async function post(action, extra = {}) {
  const res = await fetch("api/action", {
    method: "POST",
    headers: { "content-type": "application/json", "x-cascade-token": token },
    body: JSON.stringify({ action, by: me, ...extra }),
  });
  const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  return body;
}

function say(id, text, error = false) {
  const p = $(id);
  p.textContent = text;
  p.classList.toggle("error-text", error);
}

const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

// ------------------------------------------------------------------ join

function joined() {
  $("join").classList.add("hidden");
  $("who").textContent = `at the controls: ${me}`;
}

$("join-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const name = $("name").value.trim();
  if (!name) return;
  me = name;
  sessionStorage.setItem("cascade-gameday-name", me);
  joined();
  sendJoin();
});

function sendJoin() {
  if (joinSent || !me || state?.state !== "running") return;
  joinSent = true;
  post("join").catch((e) => say("halt-result", e.message, true));
}
if (me) joined();

// ------------------------------------------------------------------ fault forms from the schema

function variants() {
  return schema?.oneOf ?? schema?.anyOf ?? [];
}

function kindOf(v) {
  return v.properties?.kind?.const;
}

function fieldFor(name, prop, required) {
  const label = el("label", {}, el("span", {}, name, required ? el("span", { class: "req" }, " *") : ""));
  let input;
  const title = prop.description || "";
  if (name === "service") {
    input = el("select", { name });
    for (const s of state?.services ?? []) input.append(el("option", { value: s.name }, `${s.name} (${s.kind} ×${s.replicas})`));
  } else if (name === "link") {
    input = el("select", { name });
    for (const l of state?.links ?? []) input.append(el("option", { value: l }, l));
  } else if (prop.enum) {
    input = el("select", { name });
    if (!required && prop.default === undefined) input.append(el("option", { value: "" }, ""));
    for (const o of prop.enum) input.append(el("option", { value: o }, o));
    if (prop.default !== undefined) input.value = prop.default;
  } else if (prop.type === "object") {
    input = el("textarea", { name, rows: "2", placeholder: '{ "setting": value }', "data-type": "json" });
  } else if (prop.type === "integer" || prop.type === "number") {
    input = el("input", { name, type: "number", step: prop.type === "integer" ? "1" : "any", "data-type": "number" });
    if (prop.minimum !== undefined) input.min = prop.minimum;
    if (prop.maximum !== undefined && prop.maximum < 1e15) input.max = prop.maximum;
    if (prop.default !== undefined) input.value = prop.default;
  } else if (prop.anyOf) {
    input = el("input", { name, placeholder: "1 or 1,2", "data-type": "list" });
  } else {
    // durations and sizes: "200ms", "30s", "64m" (a bare number of a duration is seconds)
    const duration = Array.isArray(prop.type) && prop.type.includes("number");
    input = el("input", { name, "data-type": duration ? "duration" : "text", placeholder: duration ? "e.g. 200ms, 30s" : "" });
    if (prop.default !== undefined) input.value = prop.default;
    if (name === "duration") input.placeholder = "e.g. 30s (empty: until reverted)";
  }
  if (required) input.required = true;
  input.title = title;
  label.append(input);
  return label;
}

function renderFaultFields() {
  const kind = $("fault-kind").value;
  const v = variants().find((x) => kindOf(x) === kind);
  const box = $("fault-fields");
  box.replaceChildren();
  if (!v) return;
  const required = new Set(v.required || []);
  for (const [name, prop] of Object.entries(v.properties)) {
    if (name === "at" || name === "kind") continue;
    box.append(fieldFor(name, prop, required.has(name)));
  }
}

function buildForms() {
  const select = $("fault-kind");
  if (select.options.length) return;
  for (const v of variants()) {
    const k = kindOf(v);
    if (k) select.append(el("option", { value: k }, k));
  }
  select.addEventListener("change", renderFaultFields);
  renderFaultFields();
}

function readFault() {
  const fault = { kind: $("fault-kind").value };
  for (const input of $("fault-fields").querySelectorAll("input, select, textarea")) {
    const raw = input.value.trim();
    if (raw === "") continue;
    const type = input.dataset.type;
    if (type === "number") fault[input.name] = Number(raw);
    else if (type === "duration") fault[input.name] = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
    else if (type === "list") {
      const parts = raw.split(",").map((x) => Number(x.trim()));
      fault[input.name] = parts.length === 1 ? parts[0] : parts;
    } else if (type === "json") fault[input.name] = JSON.parse(raw);
    else fault[input.name] = raw;
  }
  return fault;
}

$("fault-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  let fault;
  try {
    fault = readFault();
  } catch (e) {
    return say("fault-msg", `not applied: ${e.message}`, true);
  }
  say("fault-msg", `applying ${fault.kind}…`);
  try {
    const r = await post("fault", { fault });
    say("fault-msg", `applied ${r.event.fault} at ${secs(r.event.actual_ms)} (took ${r.event.took_ms} ms)`);
  } catch (e) {
    say("fault-msg", `not applied: ${e.message}`, true);
  }
});

// ------------------------------------------------------------------ load, notes, halt, end

$("rate-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    await post("rate", { rate: Number($("rate-input").value) });
  } catch (e) {
    say("halt-result", e.message, true);
  }
});
$("pause").addEventListener("click", () => post("pause").catch((e) => say("halt-result", e.message, true)));
$("resume").addEventListener("click", () => post("resume").catch((e) => say("halt-result", e.message, true)));
$("burst-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    await post("burst", { rate: Number($("burst-rate").value), seconds: Number($("burst-seconds").value) });
  } catch (e) {
    say("halt-result", e.message, true);
  }
});
$("note-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("note").value.trim();
  if (!text) return;
  try {
    await post("note", { text });
    $("note").value = "";
  } catch (e) {
    say("halt-result", e.message, true);
  }
});
$("halt").addEventListener("click", async () => {
  const t = performance.now();
  say("halt-result", "halting…");
  try {
    const r = await post("halt");
    const failed = r.failed?.length ? `; NOT reverted: ${r.failed.join(", ")}` : "";
    say(
      "halt-result",
      `halted in ${r.halt_ms} ms (${Math.round(performance.now() - t)} ms from the click): load stopped, ${r.reverted?.length ?? 0} fault(s) reverted${failed}`,
      Boolean(failed),
    );
  } catch (e) {
    say("halt-result", `halt: ${e.message}`, true);
  }
});
$("end").addEventListener("click", async () => {
  say("end-msg", "ending: halting, tearing down, writing the record…");
  try {
    await post("end");
    say("end-msg", "session ended: the topology is being torn down and the record written (see the terminal).");
  } catch (e) {
    say("end-msg", e.message, true);
  }
});

// ------------------------------------------------------------------ state

function renderActive() {
  const ul = $("active");
  ul.replaceChildren();
  const now = state.elapsed_ms + (performance.now() - stateAt);
  if (!state.active.length) ul.append(el("li", { class: "none" }, "none"));
  for (const a of state.active) {
    const left = a.until_ms !== undefined ? `, ${secs(Math.max(0, a.until_ms - now))} left` : "";
    ul.append(
      el(
        "li",
        { "data-label": a.label },
        el("span", {}, `${a.label} (${a.kind} on ${a.target}) — ${secs(Math.max(0, now - a.since_ms))}${left}${a.by ? ` · ${a.by}` : ""}`),
        el(
          "button",
          {
            type: "button",
            class: "revert",
            onclick: () => post("revert", { label: a.label }).catch((e) => say("fault-msg", e.message, true)),
          },
          "revert",
        ),
      ),
    );
  }
}

function renderLog() {
  const rows = [
    ...state.actions.map((a) => ({ t: a.at_ms, cls: "action", text: `${a.text} · ${a.by}` })),
    ...state.faults.map((f) => ({
      t: f.actual_ms,
      cls: f.action === "error" ? "error" : "fault",
      text: `${f.action} ${f.fault} (${f.kind})${f.error ? `: ${f.error}` : ""}${f.by ? ` · ${f.by}` : " · timeline"}`,
    })),
  ].sort((a, b) => b.t - a.t);
  $("log").replaceChildren(...rows.map((r) => el("li", { class: r.cls }, `${secs(r.t)}  ${r.text}`)));
}

function renderState(s) {
  state = s;
  stateAt = performance.now();
  $("scenario").textContent = s.scenario;
  const st = $("state");
  st.textContent = s.state;
  st.className = s.state;
  $("rate").textContent = s.load.running ? (s.load.paused ? "load paused" : `load ${s.load.rate} req/s`) : "load stopped";
  if (document.activeElement !== $("rate-input") && s.load.running) $("rate-input").value = s.load.rate;
  $("halt").disabled = s.state !== "running";
  // Halted or ended: nothing more to steer (the server refuses it anyway); End stays.
  for (const b of document.querySelectorAll("aside fieldset button, aside fieldset input, aside fieldset select"))
    if (!b.closest("#note-form")) b.disabled = s.state !== "running";
  document.body.dataset.state = s.state;
  buildForms();
  renderActive();
  renderLog();
  sendJoin();
}

setInterval(() => {
  if (!state) return;
  const now = state.state === "ended" ? state.elapsed_ms : state.elapsed_ms + (performance.now() - stateAt);
  $("clock").textContent = secs(now);
  renderActive();
}, 250);

// ------------------------------------------------------------------ charts

let rendering = false;
let updates = 0;
async function renderCharts(c) {
  if (rendering) return; // a slow render skips a second rather than piling up
  rendering = true;
  try {
    for (const { name, spec } of c.specs) {
      const box = $(`chart-${name}`);
      if (!box) continue;
      const next = el("div");
      await vegaEmbed(next, spec, { actions: false, renderer: "svg" });
      box.replaceChildren(next);
    }
    updates++;
    document.body.dataset.chartUpdates = String(updates);
    $("chart-cost").textContent = `charts updated every second (${updates} so far); the harness took ${c.ms} ms to build them`;
  } catch (e) {
    $("chart-cost").textContent = `chart error: ${e.message}`;
  } finally {
    rendering = false;
  }
}

// ------------------------------------------------------------------ start

fetch(`api/state?token=${token}`)
  .then((r) => r.json())
  .then((s) => {
    schema = s.fault_schema;
    renderState(s);
    const events = new EventSource(`events?token=${token}`);
    events.addEventListener("state", (e) => renderState(JSON.parse(e.data)));
    events.addEventListener("charts", (e) => renderCharts(JSON.parse(e.data)));
  })
  .catch((e) => say("halt-result", `cannot reach the session: ${e.message}`, true));

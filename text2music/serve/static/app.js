// text2music page: reads limits from /api/info, submits to /api/generate, polls the job, shows results.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const FIELDS = ["duration", "steps", "guidance", "seed", "reverb"];
const CONTROLS = ["bpm", "key", "meter", "drums", "bars"];  // need a model trained with musical controls
const DRUMS = { "": null, on: true, off: false };
const POLL_MS = 400;
const STORE = "text2music-results";  // this tab's results (ids + settings), so a reload keeps the list
let info = null;

function fmt(x) { return Number.isInteger(x) ? String(x) : String(+x.toFixed(2)); }

async function loadInfo() {
  try {
    const r = await fetch("/api/info");
    info = await r.json();
  } catch (e) { return; }
  const L = info.limits, D = info.defaults;
  const vocoder = info.model.vocoder ? ` · vocoder: ${info.model.vocoder}` : "";
  const adapter = info.model.adapter ? ` · adapter: ${info.model.adapter.name} (strength ${info.model.adapter.strength})` : "";
  const precision = info.model.precision && info.model.precision !== "float32" ? ` · ${info.model.precision} weights` : "";
  $("#model-info").textContent = `Model: ${info.model.name} · ${info.model.sample_rate / 1000} kHz${vocoder}${precision}${adapter}`;
  $("#text").maxLength = L.text_chars;
  const ranges = { duration: L.duration, steps: L.steps, guidance: L.guidance, seed: L.seed };
  if (L.reverb) ranges.reverb = L.reverb;
  if (L.bpm) ranges.bpm = L.bpm;
  if (L.bars) ranges.bars = L.bars;
  const units = { duration: " s" };
  for (const [name, [lo, hi]] of Object.entries(ranges)) {
    for (const el of [$("#" + name), $(`#${name}-range`)]) {
      if (!el) continue;
      el.min = lo; el.max = hi;
    }
    $(`[data-limit=${name}]`).textContent = `(${fmt(lo)}–${fmt(hi)}${units[name] || ""})`;
  }
  const box = $("#examples");
  for (const text of info.examples) {
    const b = document.createElement("button");
    b.type = "button"; b.className = "chip"; b.textContent = text;
    b.addEventListener("click", () => { $("#text").value = text; updateCount(); $("#text").focus(); });
    box.appendChild(b);
  }
  const names = info.samplers || [], cost = info.evaluations_per_step || {};
  $("#sampler").replaceChildren(...names.map((name) => {
    const o = document.createElement("option");
    o.value = name;
    o.textContent = cost[name] > 1 ? `${name} (${cost[name]}× slower)` : name;
    return o;
  }));
  const own = info.model.sample_rate;
  $("#sample_rate").replaceChildren(new Option(`model's own (${own / 1000} kHz)`, ""), ...((info.choices || {}).sample_rate || []).map((rate) => {
    const label = rate > (info.model.vocoder_rate || own) ? `${rate / 1000} kHz (resampled)` : `${rate / 1000} kHz`;
    return new Option(label, String(rate));
  }));
  const groups = ["major", "minor"].map((mode) => {
    const g = document.createElement("optgroup");
    g.label = mode[0].toUpperCase() + mode.slice(1);
    g.append(...(info.keys || []).filter((k) => k.endsWith(" " + mode)).map((k) => new Option(k, k)));
    return g;
  });
  $("#key").append(...groups.filter((g) => g.children.length));
  if (L.span_seconds) $("[data-limit=span]").textContent = `(at most ${fmt(L.span_seconds)} s)`;
  setDefaults(D);
  enableControls(info.model.controls !== false);
}

function enableControls(on) {
  // a model trained without musical controls: those fields are off (the server would answer 422), with a hint
  $("#musical-hint").hidden = on;
  for (const id of [...CONTROLS, "text_controls"]) {
    const el = $("#" + id);
    el.disabled = !on;
    if (on) el.removeAttribute("aria-describedby");
    else el.setAttribute("aria-describedby", "musical-hint");
  }
  if (!on) for (const id of CONTROLS) $("#" + id).value = "";
  updateChoices();
  updateLength();
}

function updateLength() {
  // a length in bars replaces the duration: the duration fields are off while bars is set
  const byBars = $("#bars").value.trim() !== "" && !$("#bars").disabled;
  for (const id of ["duration", "duration-range"]) $("#" + id).disabled = byBars;
  $("#duration").title = byBars ? "the length is set in bars" : "";
}

function updateChoices() {
  // what an empty control means: the description's value (else the model's choice), or the model's choice
  // (text_controls off, or a model without controls)
  const word = $("#text_controls").checked && !$("#text_controls").disabled ? "from the text" : "model's choice";
  $("#bpm").placeholder = word;
  for (const o of document.querySelectorAll("option[data-choice]")) o.textContent = word;
}

function setControls(q) {
  const get = (name) => (q[name] === undefined || q[name] === null ? "" : q[name]);
  for (const name of ["bpm", "key", "meter", "bars"]) if (!$("#" + name).disabled) $("#" + name).value = get(name);
  if (!$("#drums").disabled) $("#drums").value = q.drums === true ? "on" : q.drums === false ? "off" : "";
  $("#loop").checked = q.loop === true;
  $("#text_controls").checked = q.text_controls !== false;
  updateChoices();
  updateLength();
}

function setDefaults(D) {
  D = D || (info && info.defaults);
  if (!D) return;
  for (const name of FIELDS) setValue(name, D[name]);
  $("#sampler").value = D.sampler;
  $("#sample_rate").value = D.sample_rate == null ? "" : String(D.sample_rate);
  $("#stereo").checked = D.channels === 2;
  setControls(D);
}

function setValue(name, v) {
  $("#" + name).value = v;
  const range = $(`#${name}-range`);
  if (range) range.value = v;
}

function updateCount() {
  const n = $("#text").value.length, max = $("#text").maxLength;
  $("#text-count").textContent = n ? `(${n} / ${max} characters)` : "";
}

function showError(msg) {
  const el = $("#error");
  el.textContent = msg || "";
  el.hidden = !msg;
}

function readForm() {
  const rate = $("#sample_rate").value;
  const body = { text: $("#text").value.trim(), sampler: $("#sampler").value, sample_rate: rate === "" ? null : Number(rate) };
  body.channels = $("#stereo").checked ? 2 : 1;
  for (const name of FIELDS) {
    const el = $("#" + name);
    el.removeAttribute("aria-invalid");
    const value = name === "steps" || name === "seed" ? parseInt(el.value, 10) : parseFloat(el.value);
    body[name] = Number.isNaN(value) ? null : value;  // an empty field: the server's default (reverb: the model's own)
  }
  for (const name of CONTROLS) $("#" + name).removeAttribute("aria-invalid");
  const number = (name) => { const v = $("#" + name).value.trim(); return v === "" ? null : Number(v); };
  body.bpm = number("bpm");
  body.bars = number("bars");  // 2.5 is sent as such: the server says bars must be an integer
  body.key = $("#key").value || null;
  body.meter = $("#meter").value || null;
  body.drums = DRUMS[$("#drums").value];
  body.loop = $("#loop").checked;
  body.text_controls = $("#text_controls").checked;
  return body;
}

function markInvalid(message) {
  for (const name of ["text", ...FIELDS, ...CONTROLS]) {
    if (message.includes(name + ":")) $("#" + name).setAttribute("aria-invalid", "true");
  }
  const audio = { init_audio: "#init-file", span: "#span-start", strength: "#strength", init_mode: "#init_mode" };
  for (const [name, sel] of Object.entries(audio)) if (message.includes(name + ":")) $(sel).setAttribute("aria-invalid", "true");
}

function updateAudio() {
  // the mode's own fields show; none is sent without a file
  const file = $("#init-file").files.length > 0, mode = $("#init_mode").value;
  $("#init_mode").disabled = !file;
  for (const el of document.querySelectorAll("[data-mode]")) el.hidden = !file || el.dataset.mode !== mode;
}

function fileBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function readAudio(body) {
  // the uploaded file and what to do with it (continue, inpaint a span, or a variation)
  for (const sel of ["#init-file", "#span-start", "#strength", "#init_mode"]) $(sel).removeAttribute("aria-invalid");
  const file = $("#init-file").files[0];
  if (!file) return body;
  body.init_mode = $("#init_mode").value;
  body.init_audio = await fileBase64(file);
  if (body.init_mode === "inpaint") body.span = `${$("#span-start").value}-${$("#span-end").value}`;
  if (body.init_mode === "variation") body.strength = parseFloat($("#strength").value);
  return body;
}

async function submit(ev) {
  if (ev) ev.preventDefault();
  showError("");
  const body = readForm();
  $("#text").removeAttribute("aria-invalid");
  if (!body.text) {
    $("#text").setAttribute("aria-invalid", "true");
    showError("Type a description of the music first (or click an example).");
    return;
  }
  const button = $("#generate");
  button.disabled = true;
  try {
    await readAudio(body);
    const r = await fetch("/api/generate", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const data = await r.json().catch(() => ({}));
    if (r.status === 429) {
      const wait = r.headers.get("Retry-After") || data.retry_after || "a few";
      showError(`The server is busy (queue full): retry in ${wait} s.`);
    } else if (r.status === 422) {
      markInvalid(data.message || "");
      showError(`Please check the settings: ${data.message}`);
    } else if (!r.ok) {
      showError(`The server answered ${r.status}: ${data.message || r.statusText}`);
    } else {
      const item = { id: data.id, request: data.request };
      remember(item);
      track(addCard(item), item.id);
    }
  } catch (e) {
    showError(`Could not reach the server: ${e.message}`);
  } finally {
    button.disabled = false;
  }
}

function settingsLine(q) {
  const length = q.bars != null ? `${q.bars} bar${q.bars === 1 ? "" : "s"}` : `${fmt(q.duration)} s`;
  const parts = [length, `${q.steps} steps`, `guidance ${fmt(q.guidance)}`, `seed ${q.seed}`, q.sampler];
  if (q.sample_rate != null) parts.push(`${q.sample_rate / 1000} kHz`);
  if (q.channels === 2) parts.push("stereo");
  if (q.reverb) parts.push(`reverb ${fmt(q.reverb)}`);
  if (q.bpm != null) parts.push(`${fmt(q.bpm)} BPM`);
  if (q.key != null) parts.push(q.key);
  if (q.meter != null) parts.push(String(q.meter).includes("/") ? q.meter : `${q.meter}/4`);
  if (q.drums != null) parts.push(q.drums ? "drums on" : "drums off");
  if (q.loop) parts.push("loop");
  if (q.text_controls === false) parts.push("text's tempo and key ignored");
  return parts.join(" · ");
}

function controlsLine(c) {
  // what a clip was made with: "120 BPM · F# minor · 3/4 · no drums · 3 s"
  const parts = [];
  if (c.bpm != null) parts.push(`${fmt(c.bpm)} BPM`);
  if (c.key != null) parts.push(c.key);
  if (c.meter != null) parts.push(c.meter);
  if (c.drums != null) parts.push(c.drums ? "drums" : "no drums");
  if (!parts.length) parts.push("none set (the model's own choice)");
  return `Made with: ${parts.join(" · ")} · ${fmt(c.duration)} s`;
}

function addCard(item) {
  const node = $("#result-template").content.firstElementChild.cloneNode(true);
  node.dataset.id = item.id;
  $(".result-text", node).textContent = item.request.text;
  $(".result-settings", node).textContent = settingsLine(item.request);
  $(".reuse", node).addEventListener("click", () => {
    const q = item.request;
    $("#text").value = q.text; updateCount();
    for (const name of FIELDS) setValue(name, q[name]);
    $("#sampler").value = q.sampler;
    $("#sample_rate").value = q.sample_rate == null ? "" : String(q.sample_rate);
    $("#stereo").checked = q.channels === 2;
    setControls(q);
    window.scrollTo({ top: 0, behavior: "smooth" });
  });
  $("#results").prepend(node);
  $("#empty").hidden = true;
  $("#results-count").textContent = `(${$("#results").children.length})`;
  return node;
}

function render(node, job) {
  node.classList.remove("queued", "running", "done", "failed");
  node.classList.add(job.status);
  const pct = Math.round(100 * job.progress);
  $(".bar", node).style.width = pct + "%";
  $(".progress", node).setAttribute("aria-valuenow", pct);
  const status = $(".result-status", node);
  if (job.status === "queued") {
    status.textContent = job.queue_position > 1 ? `Waiting: ${job.queue_position - 1} ahead in the queue…` : "Starting…";
  } else if (job.status === "running") {
    status.textContent = `Generating… ${pct}%` + (job.elapsed_s ? ` (${job.elapsed_s.toFixed(1)} s)` : "");
  } else if (job.status === "failed") {
    status.textContent = `Failed: ${job.error}`;
  } else if (job.status === "done") {
    status.textContent = `Done in ${job.elapsed_s.toFixed(1)} s`;
    const body = $(".result-body", node);
    if (body.hidden) {
      $("audio", node).src = job.audio_url;
      $(".spectrogram", node).src = job.image_url;
      $(".download", node).href = job.audio_url;
      $(".download", node).setAttribute("download", `text2music-${job.id.slice(0, 8)}.wav`);
      $(".image-link", node).href = job.image_url;
      $(".result-controls", node).textContent = (job.controls || []).map(controlsLine).join("; ");
      $(".result-notes", node).replaceChildren(...(job.notes || []).map((n) => {
        const li = document.createElement("li");
        li.textContent = n;
        return li;
      }));
      body.hidden = false;
    }
  }
}

async function track(node, id) {
  for (let failures = 0; failures < 20;) {
    let job;
    try {
      const r = await fetch(`/api/jobs/${id}`);
      if (r.status === 404) {
        render(node, { status: "failed", progress: 0, error: "this result is no longer kept by the server" });
        forget(id);
        return;
      }
      job = await r.json();
      failures = 0;
    } catch (e) {
      failures++;
      $(".result-status", node).textContent = "Connection lost, retrying…";
      await new Promise((ok) => setTimeout(ok, 1000 * failures));
      continue;
    }
    render(node, job);
    if (job.status === "done" || job.status === "failed") return;
    await new Promise((ok) => setTimeout(ok, POLL_MS));
  }
}

function stored() {
  try { return JSON.parse(sessionStorage.getItem(STORE) || "[]"); } catch (e) { return []; }
}
function remember(item) { sessionStorage.setItem(STORE, JSON.stringify([...stored(), item].slice(-50))); }
function forget(id) { sessionStorage.setItem(STORE, JSON.stringify(stored().filter((x) => x.id !== id))); }

function wire() {
  $("#form").addEventListener("submit", submit);
  $("#text").addEventListener("input", updateCount);
  $("#text").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) submit(e); });
  for (const name of ["duration", "steps", "guidance"]) {
    $(`#${name}-range`).addEventListener("input", (e) => { $("#" + name).value = e.target.value; });
    $("#" + name).addEventListener("input", (e) => { $(`#${name}-range`).value = e.target.value; });
  }
  $("#dice").addEventListener("click", () => setValue("seed", Math.floor(Math.random() * 1e6)));
  $("#text_controls").addEventListener("change", updateChoices);
  $("#bars").addEventListener("input", updateLength);
  $("#init-file").addEventListener("change", updateAudio);
  $("#init_mode").addEventListener("change", updateAudio);
  $("#reset").addEventListener("click", () => setDefaults());
}

wire();
loadInfo().then(() => {
  for (const item of stored()) track(addCard(item), item.id);
});

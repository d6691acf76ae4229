// podpipe studio: the page. Plain modern JS, no framework, nothing fetched but this server's own endpoints.
// Every state change goes through api() with the session's CSRF token; the server's event stream says when a
// spec changed on disk (another editor) or a job moved on, and the page reloads the episode's view then.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

const state = {
  csrf: "", episodes: [], spec: null, view: null, sha: null,
  selected: null, open: new Set(), jobs: new Map(), playingTake: null, queue: [],
  refused: new Map(),  // a form's key -> the message its last edit was refused with (kept across reloads)
};

// ---------------------------------------------------------------- server
async function api(method, path, body) {
  const init = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
  if (method !== "GET") {
    init.headers["X-CSRF-Token"] = state.csrf;
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body || {});
  }
  const response = await fetch(path, init);
  let data = null;
  try { data = await response.json(); } catch (_) { data = { error: `${response.status} ${response.statusText}` }; }
  return { ok: response.ok, status: response.status, data };
}
const q = (spec, extra = "") => `spec=${encodeURIComponent(spec)}${extra}`;

// ---------------------------------------------------------------- helpers
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "style") node.setAttribute("style", v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}
function clock(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–:––";
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
function hue(name) {
  let h = 0;
  for (const ch of String(name)) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return (h * 7 + 150) % 360;
}
function playIcon(playing) { return el("span", { class: playing ? "icon-pause" : "icon-play" }); }
const STATUS_LABEL = { "cached": "cached", "stale": "stale", "not-rendered": "not rendered", "flagged": "flagged",
  "re-rolled": "re-rolled", "pinned": "pinned", "silence": "pause" };
function statusKey(status) { return String(status || "").toLowerCase().replace(/[\s_]+/g, "-"); }

// ---------------------------------------------------------------- the view (the core's JSON, normalized once)
function normalize(view) {
  const lines = (view.lines || []).map((line, index) => {
    const takes = (line.takes || []).map((t) => ({
      ...t, id: String(t.id),
      // a take the spec does not use: earlier or newer than the take number it names (Try another take adds newer)
      kind: t.current ? "current" : t.rejected ? "rejected" : t.take < (line.take_number || 1) ? "earlier" : "newer",
      waveform: t.waveform || (t.current ? line.waveform : null),
    }));
    takes.sort((a, b) => (b.current - a.current) || (a.rejected - b.rejected) || (b.take - a.take));
    return { ...line, id: String(line.segment_id ?? index), index, status: statusKey(line.status),
      name: line.speaker, reasons: line.reasons || [], takes };
  });
  const output = { built: !!view.output, path: view.output, duration: view.duration, waveform: view.waveform,
    stale: !view.fresh, version: view.output_version || "" };
  return { ...view, lines, output, chapters: view.chapters || [], sha: view.sha256, errors: view.errors || [] };
}

// Loads may overlap (a job's end, a file changed on disk, an edit saved): only the answer to the last one
// asked for is shown, so an older view never replaces a newer one.
let loads = 0;
async function loadEpisode(spec, { quiet = false } = {}) {
  const mine = ++loads;
  const r = await api("GET", `/api/episode?${q(spec)}`);
  if (mine !== loads) return;
  if (!r.ok) { notice(r.data.error || "could not read the episode", true); return; }
  const first = state.spec !== spec;
  const view = normalize(r.data);
  // the file is not the one this page last saw or wrote: someone else changed it on disk
  const outside = !first && state.sha && view.sha !== state.sha;
  state.spec = spec;
  state.view = view;
  state.sha = view.sha;
  if (first) { state.selected = null; state.open.clear(); }
  history.replaceState(null, "", `#${encodeURIComponent(spec)}`);
  renderEpisode(first);
  if (state.view.errors.length) notice(`The spec does not load as it is on disk:\n${state.view.errors.join("\n")}`, true);
  else if (outside) notice("The spec changed on disk: this is the file as it is now. Anything you were typing is kept; saving it checks for a conflict first.");
  else if (!quiet) notice(null);
}

// ---------------------------------------------------------------- episode list
function renderEpisodes() {
  const nav = $("#episodes");
  nav.replaceChildren(...state.episodes.map((e) => el("a", {
    href: `#${encodeURIComponent(e.spec)}`, "data-spec": e.spec,
    "aria-current": e.spec === state.spec ? "page" : null,
    onclick: (ev) => { ev.preventDefault(); loadEpisode(e.spec).then(renderEpisodes); },
  }, el("span", { class: "ep-name", text: e.number ? `${e.number}. ${e.title}` : e.title }), el("span", { class: "ep-file", text: e.spec }),
  e.error ? el("span", { class: "ep-bad", text: "does not load" }) : null)));
}

// ---------------------------------------------------------------- the episode
const audio = () => $("#episode-audio");
const takeAudio = () => $("#take-audio");

function renderEpisode(first) {
  const v = state.view;
  $("#empty").hidden = true;
  $("#episode").hidden = false;
  $("#ep-path").textContent = state.spec;
  $("#ep-title").textContent = v.title || state.spec;
  const counts = {};
  for (const line of v.lines) counts[line.status] = (counts[line.status] || 0) + 1;
  const spoken = v.lines.filter((l) => l.status !== "silence").length;
  $("#ep-meta").replaceChildren(
    el("span", {}, el("b", { text: String(spoken) }), " lines"),
    el("span", {}, el("b", { text: String(v.chapters.length) }), " chapters"),
    el("span", {}, el("b", { text: clock(v.output.duration) }), v.output.built ? " built" : " (not built)"),
  );
  $("#legend").replaceChildren(...Object.keys(STATUS_LABEL).filter((k) => counts[k]).map((k) =>
    el("span", {}, el("span", { class: `badge ${k}`, text: STATUS_LABEL[k] }), String(counts[k]))));
  const stale = v.lines.filter((l) => l.status === "stale" || l.status === "not-rendered").length;
  const build = $("#build");
  build.textContent = stale ? `Re-render ${stale} stale line${stale === 1 ? "" : "s"}` : (v.output.built && !v.output.stale ? "Up to date" : "Build episode");
  build.disabled = !stale && v.output.built && !v.output.stale;
  build.dataset.count = String(stale);
  if (first || audio().dataset.version !== v.output.version) loadAudio();
  $("#nowrap").hidden = !!v.output.built;
  renderMarks();
  drawWave();
  renderLines();
}

function loadAudio() {
  const a = audio();
  a.pause();
  a.dataset.version = state.view.output.version;
  if (state.view.output.built) a.src = `/api/audio?${q(state.spec)}&v=${state.view.output.version}`;
  else a.removeAttribute("src");
  updatePlay();
}

function duration() {
  const d = audio().duration;
  return isFinite(d) && d > 0 ? d : (state.view?.output.duration || 0);
}

function renderMarks() {
  const d = duration();
  $("#marks").replaceChildren(...(d ? state.view.chapters : []).map((c) => el("div",
    { class: "mark", style: `left:${(100 * c.start / d).toFixed(3)}%` },
    el("button", { type: "button", title: `${c.title} (${clock(c.start)})`, text: c.title,
      onclick: () => seek(c.start, true) }))));
}

function drawWaveform(canvas, values, progress = 0, colors = {}) {
  const ratio = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const h = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  const data = values && values.length ? values : [];
  if (!data.length) {
    ctx.fillStyle = "#262c37"; ctx.fillRect(0, h / 2 - ratio / 2, w, ratio); return;
  }
  const bar = Math.max(2 * ratio, Math.floor(w / 240)), gap = Math.max(1, Math.round(bar / 2));
  const n = Math.floor(w / (bar + gap));
  const peak = Math.max(1e-6, ...data.map((x) => Math.abs(x)));
  for (let i = 0; i < n; i++) {
    const from = Math.floor(i * data.length / n), to = Math.max(from + 1, Math.floor((i + 1) * data.length / n));
    let m = 0;
    for (let j = from; j < to && j < data.length; j++) m = Math.max(m, Math.abs(data[j]));
    const bh = Math.max(ratio, (m / peak) * (h - 2 * ratio));
    const x = i * (bar + gap);
    ctx.fillStyle = x / w < progress ? (colors.played || "#5eead4") : (colors.rest || "#3b4352");
    ctx.fillRect(x, (h - bh) / 2, bar, bh);
  }
}

function drawWave() {
  const v = state.view;
  if (!v) return;
  const d = duration();
  drawWaveform($("#wave"), v.output.waveform, d ? audio().currentTime / d : 0);
}

// ---------------------------------------------------------------- lines
function renderLines() {
  const v = state.view;
  const box = $("#lines");
  const nodes = [];
  let chapter = null;
  for (const line of v.lines) {
    if (line.chapter && line.chapter !== chapter) {
      chapter = line.chapter;
      nodes.push(el("div", { class: "chapter-head", text: chapter }));
    }
    nodes.push(renderLine(line));
  }
  // keep what the user is typing: a changed field survives a reload of the view with the sha256 of the
  // file it was typed against, so saving it after an outside edit is a conflict, never an overwrite
  const typed = $$("[data-keep]", box).filter((f) => f.value !== f.defaultValue)
    .map((f) => [f.dataset.keep, f.value, f.dataset.base]);
  box.replaceChildren(...nodes);
  for (const [key, value, base] of typed) {
    const f = $(`[data-keep="${CSS.escape(key)}"]`, box);
    if (!f) continue;
    f.value = value;
    for (const field of $$("[data-base]", f.form)) field.dataset.base = base;
  }
  highlight();
  markTake(state.playingTake);
  for (const area of $$(".detail textarea", box)) fit(area);
}

function renderLine(line) {
  const open = state.open.has(line.id);
  const spoken = line.status !== "silence";
  const node = el("article", {
    class: `line${state.selected === line.id ? " selected" : ""}${open ? " open" : ""}`,
    "data-id": line.id, "data-status": line.status, tabindex: "0",
    "data-start": line.start ?? "", "data-end": line.end ?? "",
    onclick: (ev) => { if (!ev.target.closest("button, input, textarea, select, .detail")) { select(line.id); if (line.start !== null && line.start !== undefined) seek(line.start, false); } },
    ondblclick: (ev) => { if (!ev.target.closest(".detail")) toggle(line.id); },
  },
  spoken ? el("button", { class: "play-line", type: "button", "aria-label": `Play ${line.speaker || "line"}'s current take`,
    disabled: !line.takes.length, onclick: () => (state.playingTake?.line.id === line.id ? stopTakes() : playTakes(line, [currentTake(line)])) },
  playIcon(false)) : el("span"),
  el("span", { class: `time${line.as_built ? " as-built" : ""}`, text: clock(line.start),
    title: line.as_built ? "where it is heard in the episode as built (rebuild for the new version)" : null }),
  el("span", { class: "speaker", style: `--hue:${hue(line.speaker || "")}`,
    text: line.kind === "dialogue" && line.speakers ? line.speakers.join(" & ") : line.speaker || "" }),
  el("p", { class: "text" },
    line.kind === "dialogue" && line.turns
      ? line.turns.map((t, i) => el("span", { class: "turn", "data-start": line.turn_spans?.[i]?.[0] ?? null,
        "data-end": line.turn_spans?.[i]?.[1] ?? null }, el("b", { style: `--hue:${hue(t.speaker)}`, text: `${t.speaker}: ` }), t.text))
      : line.text || "",
    line.style ? el("span", { class: "style", text: line.style }) : null),
  el("div", { class: "side" },
    el("span", { class: `badge ${line.status}`, text: STATUS_LABEL[line.status] || line.status }),
    spoken ? el("button", { class: "ghost more", type: "button", "aria-expanded": open ? "true" : "false",
      onclick: () => toggle(line.id), text: open ? "Close" : `Takes${line.takes.length ? ` (${line.takes.length})` : ""}` }) : null),
  line.reasons.length ? el("ul", { class: "reasons" }, line.reasons.map((r) => el("li", { text: r }))) : null,
  open ? renderDetail(line) : null);
  return node;
}

function currentTake(line) { return line.takes.find((t) => t.kind === "current") || line.takes[0]; }

function renderDetail(line) {
  const takes = el("div", { class: "takes" }, line.takes.map((t) => {
    const canvas = el("canvas", { height: "26" });
    requestAnimationFrame(() => drawWaveform(canvas, t.waveform, 0, { rest: t.kind === "rejected" ? "#5b3036" : "#3b4352" }));
    return el("div", { class: `take ${t.kind}`, "data-take": t.id },
      el("button", { class: "play-line", type: "button", "aria-label": `Play take ${t.id}`,
        onclick: () => (state.playingTake?.take.id === t.id ? stopTakes() : playTakes(line, [t])) }, playIcon(false)),
      el("div", { class: "tinfo" },
        el("div", { class: "tmeta" }, el("span", { class: "kind", text: t.kind }), el("code", { text: t.id }),
          el("span", { text: `take ${t.take}` }),
          t.duration ? el("span", { text: `${Number(t.duration).toFixed(1)} s` }) : null,
          (t.reasons || []).length ? el("span", { class: "treasons", text: t.reasons.join(", ") }) : null),
        canvas),
      t.kind === "current" ? el("span", { class: "badge cached", text: "in use" })
        : el("button", { type: "button", class: "pick", onclick: () => pick(line, t), text: "Pick" }));
  }));
  const job = [...state.jobs.values()].find((j) => j.line === line.id && j.spec === state.spec && (j.state === "running" || j.state === "queued"));
  const another = el("div", { class: "another" },
    el("div", { class: "row" },
      el("button", { type: "button", class: "primary try", disabled: !!job, onclick: (ev) => tryAnother(line, ev.target.closest(".another")), text: "Try another take" }),
      el("button", { type: "button", class: "play-all", disabled: line.takes.length < 2, onclick: () => playTakes(line, line.takes), text: "Play all, one after another" })),
    job ? jobProgress(job) : null);
  const textKey = `${line.id}:text`, styleKey = `${line.id}:style`;
  const edit = el("form", { class: "edit", "data-form": `${line.id}:edit`, onsubmit: (ev) => { ev.preventDefault(); saveLine(line, ev.target); } },
    texts(line).map((turn, i) => [
      el("label", { class: "field", for: `t-${line.id}-${i}`, text: turn.label }),
      el("textarea", { id: `t-${line.id}-${i}`, name: `text-${i}`, "data-keep": `${textKey}:${i}`, "data-base": state.sha,
        rows: "2", oninput: (ev) => fit(ev.target) }, turn.text || "")]),
    el("label", { class: "field", for: `s-${line.id}`, text: "Style (director's note)" }),
    el("input", { id: `s-${line.id}`, name: "style", "data-keep": styleKey, "data-base": state.sha, value: line.style || "" }),
    el("div", { class: "row" }, el("button", { type: "submit", class: "primary", text: "Save" }),
      el("span", { class: "saved", hidden: true })),
    refusal(`${line.id}:edit`));
  const words = el("form", { class: "lexicon", "data-form": `${line.id}:lexicon`, onsubmit: (ev) => { ev.preventDefault(); savePronunciation(line, ev.target); } },
    el("div", { class: "row split" },
      el("input", { name: "word", placeholder: "Word as written", "aria-label": "Word as written" }),
      el("input", { name: "say", placeholder: "Say it as", "aria-label": "Say it as" }),
      el("button", { type: "submit", text: "Save" })),
    refusal(`${line.id}:lexicon`));
  const chapters = state.view.chapters;
  const marks = el("form", { class: "move", "data-form": `${line.id}:move`, onsubmit: (ev) => { ev.preventDefault(); moveChapter(line, ev.target); } },
    el("div", { class: "row split" },
      el("select", { name: "chapter", "aria-label": "Chapter" }, chapters.map((c) => el("option", { value: c.title, text: c.title }))),
      el("button", { type: "submit", disabled: !chapters.length, text: "Start it here" })),
    refusal(`${line.id}:move`));
  return el("div", { class: "detail" },
    el("section", {}, el("h3", { text: "Takes" }), takes, another,
      el("h3", { class: "sub", text: "Pronunciation (the episode's lexicon)" }), words,
      el("h3", { class: "sub", text: "Move a chapter mark to this line" }), marks),
    el("section", {}, el("h3", { text: "Edit the line" }), edit));
}

// A text box as tall as its text (up to a third of the window), so a long line is read whole.
function fit(area) {
  area.style.height = "auto";
  area.style.height = `${Math.min(area.scrollHeight + 2, Math.round(window.innerHeight / 3))}px`;
}

function jobProgress(job) {
  const bar = el("progress", { max: String(job.total || 1) });
  if (job.total) bar.value = job.done || 0; else bar.removeAttribute("value");
  return el("div", { class: "job", "data-job": String(job.id) }, el("div", { class: "estimate", text: job.message || job.state }), bar);
}

function select(id, scroll = false) {
  state.selected = id;
  for (const node of $$(".line")) node.classList.toggle("selected", node.dataset.id === id);
  const node = $(`.line[data-id="${CSS.escape(id)}"]`);
  if (node && scroll) { node.scrollIntoView({ block: "nearest" }); node.focus({ preventScroll: true }); }
}
function toggle(id) {
  if (state.open.has(id)) state.open.delete(id); else state.open.add(id);
  select(id);
  renderLines();
  const node = $(`.line[data-id="${CSS.escape(id)}"]`);
  if (node) node.focus({ preventScroll: true });
}

// ---------------------------------------------------------------- playback
function seek(t, play) {
  const a = audio();
  if (!a.src) return;
  stopTakes();
  a.currentTime = t;
  if (play) a.play().catch(() => {});
  drawWave();
}
function updatePlay() {
  const a = audio();
  $("#play").replaceChildren(playIcon(!a.paused));
  $("#play").disabled = !state.view?.output.built;
  $("#now").textContent = clock(a.currentTime);
  $("#total").textContent = clock(duration());
}
function togglePlay() {
  const a = audio();
  if (state.playingTake) { stopTakes(); return; }
  if (!a.src) return;
  if (a.paused) a.play().catch(() => {}); else a.pause();
}
function highlight() {
  const t = audio().currentTime;
  const going = !audio().paused || t > 0;
  let current = null;
  for (const line of state.view?.lines || []) {
    if (line.start !== null && line.start !== undefined && line.end !== null && t >= line.start && t < line.end) current = line.id;
  }
  for (const node of $$(".line")) node.classList.toggle("playing", going && node.dataset.id === current);
  for (const turn of $$(".line .turn[data-start]")) {  // a dialogue followed turn by turn
    turn.classList.toggle("playing", going && t >= Number(turn.dataset.start) && t < Number(turn.dataset.end));
  }
  return current;
}
let following = null;
function onTime() {
  updatePlay();
  drawWave();
  const current = highlight();
  if (current && current !== following && !audio().paused) {
    following = current;
    const node = $(`.line[data-id="${CSS.escape(current)}"]`);
    if (node && !node.classList.contains("open")) node.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }
}

function playTakes(line, takes) {
  audio().pause();
  state.queue = takes.filter(Boolean).map((t) => ({ line, take: t }));
  nextTake();
}
function markTake(item) {
  for (const n of $$(".take.playing, .line.take-on")) n.classList.remove("playing", "take-on");
  if (!item) return;
  $(`.line[data-id="${CSS.escape(item.line.id)}"]`)?.classList.add("take-on");
  $(`.line[data-id="${CSS.escape(item.line.id)}"] .take[data-take="${CSS.escape(item.take.id)}"]`)?.classList.add("playing");
}
function nextTake() {
  const a = takeAudio();
  markTake(null);
  const item = state.queue.shift();
  if (!item) { state.playingTake = null; a.pause(); return; }
  state.playingTake = item;
  markTake(item);
  a.src = `/api/take?${q(state.spec, `&take=${encodeURIComponent(item.take.id)}`)}`;
  a.play().catch(() => {});
}
function stopTakes() {
  state.queue = [];
  state.playingTake = null;
  takeAudio().pause();
  markTake(null);
}

// ---------------------------------------------------------------- decisions (each an edit of the spec)
// Send the edits one after another, each against the sha256 the one before it wrote; a form's base is the
// sha256 of the file its fields were typed against (kept across reloads), else the view's.
// A form's refusal message lives in the state, not only in the DOM: a reload of the view (a job ending, the
// watcher) may render the form again while its edit is on its way, and the message must survive it.
function refusal(key) {
  const message = state.refused.get(key);
  return el("div", { class: "error", hidden: !message, role: "alert", text: message || "" });
}
function showRefusal(key, message) {
  if (message) state.refused.set(key, message); else state.refused.delete(key);
  const live = $(`form[data-form="${CSS.escape(key)}"] .error`);
  if (live) { live.textContent = message || ""; live.hidden = !message; }
}
async function commit(records, form, over = null) {
  const key = form?.dataset.form;
  if (key) showRefusal(key, null);
  let base = over || (form && $("[data-base]", form)?.dataset.base) || state.sha;
  for (const [i, record] of records.entries()) {
    const r = await api("POST", `/api/edit?${q(state.spec)}`, { base, edit: record });
    if (r.status === 409) {
      const rest = records.slice(i);
      showConflict(r.data, (choice) => {
        if (choice === "mine") return commit(rest, form, r.data.sha256);
        if (form) for (const f of $$("[data-keep]", form)) f.value = f.defaultValue;  // theirs: drop what was typed
        return loadEpisode(state.spec, { quiet: true });
      });
      return false;
    }
    if (!r.ok) {
      const message = r.data.error || `refused (${r.status})`;
      if (key) showRefusal(key, message); else toast({ state: "failed", message });
      if (base !== state.sha) { state.sha = base; await loadEpisode(state.spec, { quiet: true }); }  // the part saved
      return false;
    }
    base = r.data.sha256;
  }
  if (form) for (const f of $$("[data-keep]", form)) f.defaultValue = f.value;  // saved: nothing left to keep
  state.sha = base;
  await loadEpisode(state.spec, { quiet: true });
  if (records.length) toast({ state: "done", message: "Saved to the spec" }, "saved");
  return true;
}
// A line's texts as the editor shows them: one for a line, one per turn for a dialogue.
function texts(line) {
  if (line.kind === "dialogue" && line.turns) {
    return line.turns.map((t, i) => ({ label: `Turn ${i + 1}: ${t.speaker}`, text: t.text, turn: i }));
  }
  return [{ label: "Text", text: line.text, turn: null }];
}
function saveLine(line, form) {
  const records = [];
  texts(line).forEach((t, i) => {
    const value = form.elements[`text-${i}`].value;
    if (value !== (t.text || "")) records.push({ kind: "text", line: line.id, text: value, turn: t.turn });
  });
  const style = form.elements.style.value;
  if (style !== (line.style || "")) records.push({ kind: "style", line: line.id, style: style || null });
  return commit(records, form);
}
function savePronunciation(line, form) {
  return commit([{ kind: "pronunciation", word: form.elements.word.value, say: form.elements.say.value }], form);
}
function moveChapter(line, form) {
  return commit([{ kind: "chapter", title: form.elements.chapter.value, line: line.id }], form);
}
function pick(line, take) {
  const byEar = take.rejected || take.status === "flagged";
  return commit([{ kind: "take", line: line.id, take: take.take > 1 ? take.take : null, accept: byEar ? take.id : null }]);
}

async function tryAnother(line, box) {
  const r = await api("POST", `/api/estimate?${q(state.spec)}`, { line: line.id });
  const old = $(".confirm", box);
  if (old) old.remove();
  if (!r.ok) { box.append(el("div", { class: "error confirm", text: r.data.error })); return; }
  const cost = r.data.text || r.data.cost || "$0.00";
  box.append(el("div", { class: "confirm row" },
    el("span", { class: "estimate" }, "Another take costs ", el("b", { text: cost }), r.data.note ? ` (${r.data.note})` : ""),
    el("button", { type: "button", class: "primary render", text: "Render it", onclick: async (ev) => {
      ev.target.disabled = true;
      const started = await api("POST", `/api/render?${q(state.spec)}`, { line: line.id });
      if (!started.ok) { box.append(el("div", { class: "error", text: started.data.error })); return; }
      trackJob(started.data);
    } }),
    el("button", { type: "button", class: "ghost", text: "Cancel", onclick: (ev) => ev.target.closest(".confirm").remove() })));
}

async function buildEpisode() {
  const r = await api("POST", `/api/build?${q(state.spec)}`, {});
  if (!r.ok) { toast({ state: "failed", message: r.data.error }); return; }
  $("#build").disabled = true;
  trackJob(r.data);
}

// ---------------------------------------------------------------- jobs and notices
function trackJob(job) {
  state.jobs.set(job.id, { ...(state.jobs.get(job.id) || {}), ...job });
  const j = state.jobs.get(job.id);
  toast(j, `job-${j.id}`);
  if (j.line && j.spec === state.spec) {
    const box = $(`.line[data-id="${CSS.escape(j.line)}"] .another`);
    if (box) {
      const old = $(".job", box);
      const fresh = jobProgress(j);
      if (old) old.replaceWith(fresh); else { $(".confirm", box)?.remove(); box.append(fresh); }
    }
  }
  if ((j.state === "done" || j.state === "failed") && j.spec === state.spec) loadEpisode(state.spec, { quiet: true });
}
function toast(job, id) {
  const box = $("#toasts");
  let node = id ? $(`#${id}`) : null;
  const who = state.view?.lines.find((l) => l.id === job.line);
  const what = job.kind === "take" ? `Another take of ${job.line}${who ? ` (${who.speaker})` : ""}`
    : job.kind === "build" ? "Building the episode" : "";
  const body = [what ? el("b", { text: what }) : null, el("div", { text: job.message || job.state || "" })];
  if (job.state === "running" || job.state === "queued") {
    const bar = el("progress", { max: String(job.total || 1) });
    if (job.total) bar.value = job.done || 0; else bar.removeAttribute("value");
    body.push(bar);
  }
  const fresh = el("div", { class: `toast ${job.state || ""}`, id }, body);
  if (node) node.replaceWith(fresh); else box.append(fresh);
  if (job.state === "done" || job.state === "failed") setTimeout(() => fresh.remove(), job.state === "failed" ? 9000 : 3500);
}
function notice(text, bad = false) {
  const n = $("#notice");
  n.hidden = !text;
  n.textContent = text || "";
  n.classList.toggle("bad", bad);
}
// Both versions side by side, the lines only one of them has marked; the user keeps the file on disk (what
// was typed is dropped) or applies the edit again on top of it (only its own span changes).
function showConflict(data, decide) {
  const mine = data.mine ?? "", theirs = data.theirs ?? "";
  const show = (pre, text, other, cls) => {
    const others = new Set(other.split("\n"));
    pre.replaceChildren(...text.split("\n").map((l) => el("span", { class: others.has(l) ? "same" : cls, text: `${l}\n` })));
  };
  show($("#mine"), data.mine === null || data.mine === undefined
    ? "(your edit does not apply to the file as it is now)" : mine, theirs, "ours");
  show($("#theirs"), theirs, mine, "theirs");
  $("#conflict-mine").disabled = data.mine === null || data.mine === undefined;
  const dialog = $("#conflict");
  dialog.addEventListener("close", () => decide(dialog.returnValue === "mine" ? "mine" : "theirs"), { once: true });
  dialog.returnValue = "";
  dialog.showModal();
}

function listen() {
  const source = new EventSource("/api/events");
  source.addEventListener("changed", async (ev) => {
    const data = JSON.parse(ev.data);
    if (data.spec !== state.spec) return;
    if (data.what === "spec" && (data.own || data.sha256 === state.sha)) return;
    await loadEpisode(state.spec, { quiet: true });
  });
  source.addEventListener("job", (ev) => trackJob(JSON.parse(ev.data)));
  // (re)connected: whatever changed while the stream was down is read now
  source.addEventListener("hello", async () => {
    if (state.spec) await loadEpisode(state.spec, { quiet: true });
    state.live = true;
  });
}

// ---------------------------------------------------------------- keyboard
function typing(target) { return target.closest("input, textarea, select, [contenteditable]"); }
function move(step) {
  const lines = state.view ? state.view.lines.filter((l) => l.status !== "silence") : [];
  if (!lines.length) return;
  const at = lines.findIndex((l) => l.id === state.selected);
  const next = lines[Math.min(lines.length - 1, Math.max(0, at < 0 ? 0 : at + step))];
  select(next.id, true);
  if (next.start !== null && next.start !== undefined && !audio().paused) seek(next.start, true);
}
document.addEventListener("keydown", (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target) || $("#conflict").open) return;
  const line = state.view?.lines.find((l) => l.id === state.selected);
  if (ev.key === " ") { ev.preventDefault(); togglePlay(); }
  else if (ev.key === "j") { ev.preventDefault(); move(1); }
  else if (ev.key === "k") { ev.preventDefault(); move(-1); }
  else if (ev.key === "Enter" && line && ev.target.classList.contains("line")) { ev.preventDefault(); toggle(line.id); }
  else if (ev.key === "p" && line) { ev.preventDefault(); playTakes(line, [currentTake(line)]); }
  else if (ev.key === "Escape" && line && state.open.has(line.id)) toggle(line.id);
});
document.addEventListener("focusin", (ev) => {
  const node = ev.target.closest?.(".line");
  if (node && node === ev.target) select(node.dataset.id);
});

// ---------------------------------------------------------------- start
async function start() {
  const a = audio();
  for (const name of ["play", "pause", "ended", "loadedmetadata", "seeked"]) a.addEventListener(name, () => { updatePlay(); renderMarks(); onTime(); });
  a.addEventListener("timeupdate", onTime);
  takeAudio().addEventListener("ended", nextTake);
  $("#play").addEventListener("click", togglePlay);
  $("#build").addEventListener("click", buildEpisode);
  $("#wave").addEventListener("click", (ev) => {
    const box = ev.currentTarget.getBoundingClientRect();
    const d = duration();
    if (d) seek(d * (ev.clientX - box.left) / box.width, !audio().paused);
  });
  window.addEventListener("resize", () => { drawWave(); renderMarks(); });
  const r = await api("GET", "/api/session");
  if (!r.ok) { notice(r.data.error || "the studio refused this page: open the URL podpipe studio printed", true); return; }
  state.csrf = r.data.csrf;
  state.episodes = r.data.episodes;
  const wanted = decodeURIComponent(location.hash.slice(1));
  const first = state.episodes.find((e) => e.spec === wanted) || state.episodes[0];
  if (first) await loadEpisode(first.spec);
  renderEpisodes();
  listen();
}
window.podpipeStudio = state;  // for the browser tests: the jobs seen, the view shown
start();

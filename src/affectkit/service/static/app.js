/* affectkit web page: plain JS, no dependencies. Every user or server string goes
   through textContent / createElement, never innerHTML. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const KEY_STORE = "affectkit.apiKey";
  const JOB_STORE = "affectkit.lastJob";
  const POLL_MS = 1000;
  const TASKS = ["sentiment", "emotion", "aspects"];
  const SENTIMENT_ORDER = ["negative", "neutral", "positive"];
  const POLARITY_ORDER = ["positive", "negative", "ambiguous", "neutral"];

  // ---------- small DOM helpers ----------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k === "style") {
        for (const [prop, val] of Object.entries(v)) {
          if (prop.startsWith("--")) node.style.setProperty(prop, val);
          else node.style[prop] = val;
        }
      }
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  const clear = (node) => { node.replaceChildren(); return node; };
  const show = (node, on = true) => { node.hidden = !on; };
  const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);

  function pct(p) {
    const v = num(p);
    if (v === null) return "-";
    const x = v * 100;
    return (x > 0 && x < 10 ? x.toFixed(1) : x.toFixed(0)) + "%";
  }
  const polarityClass = (label) =>
    ({ positive: "pos", negative: "neg", neutral: "neu", ambiguous: "amb", mixed: "amb" })[String(label)] || "other";
  const human = (s) => String(s).replace(/_/g, " ");

  // ---------- API key ----------
  const keyInput = $("api-key");
  function apiKey() { return keyInput.value.trim(); }
  function updateKeyState() {
    $("key-state").textContent = apiKey() ? "(key set)" : "";
  }
  try { keyInput.value = localStorage.getItem(KEY_STORE) || ""; } catch (_) { /* storage off */ }
  updateKeyState();
  $("settings-form").addEventListener("submit", (ev) => { ev.preventDefault(); $("settings").open = false; });
  keyInput.addEventListener("input", () => {
    try {
      if (apiKey()) localStorage.setItem(KEY_STORE, apiKey());
      else localStorage.removeItem(KEY_STORE);
    } catch (_) { /* storage off */ }
    updateKeyState();
    // a "key needed" message is stale once a key is typed
    document.querySelectorAll('.alert[data-status="401"]').forEach((box) => show(box, false));
  });

  // ---------- fetch wrapper ----------
  class ApiError extends Error {
    constructor(message, status, details) {
      super(message);
      this.status = status;
      this.details = details || [];
    }
  }

  async function api(path, options = {}, quiet = false) {
    const headers = new Headers(options.headers || {});
    if (apiKey()) headers.set("X-API-Key", apiKey());
    let res;
    try {
      res = await fetch(path, { ...options, headers });
    } catch (err) {
      throw new ApiError(`Could not reach the service (${err && err.message ? err.message : "network error"}).`, 0);
    }
    if (res.ok) return res;
    let body = null;
    try { body = await res.json(); } catch (_) { /* not JSON */ }
    throw apiError(res.status, res.statusText, body, quiet);
  }

  function apiError(status, statusText, body, quiet) {
    const e = body && isObj(body.error) ? body.error : null;
    let message = e && e.message ? String(e.message)
      : body && typeof body.detail === "string" ? body.detail
      : `${status} ${statusText || "error"}`;
    if (status === 401) {
      message = apiKey()
        ? `The API key was not accepted (${message}). Check the key under Settings and try again.`
        : `This server needs an API key. Enter it under Settings (top right) and try again.`;
      if (!quiet) {
        $("settings").open = true;
        keyInput.focus();
      }
    }
    return new ApiError(message, status, e && Array.isArray(e.details) ? e.details : []);
  }

  // POST a form with upload progress (fetch has none); resolves to the parsed JSON body.
  function upload(path, form, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", path);
      if (apiKey()) xhr.setRequestHeader("X-API-Key", apiKey());
      xhr.responseType = "text";
      xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) onProgress(ev.loaded / ev.total); };
      xhr.onerror = () => reject(new ApiError("Could not reach the service (network error).", 0));
      xhr.onload = () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
        if (xhr.status >= 200 && xhr.status < 300 && isObj(body)) resolve(body);
        else if (xhr.status >= 200 && xhr.status < 300) reject(new ApiError("The service answered without a result.", xhr.status));
        else reject(apiError(xhr.status, xhr.statusText, body, false));
      };
      xhr.send(form);
    });
  }

  function showError(box, err) {
    clear(box);
    const message = err instanceof ApiError || (err && err.message) ? err.message : String(err);
    box.append(el("strong", { text: err && err.status === 401 ? (apiKey() ? "Wrong API key. " : "API key needed. ") : "Error. " }), message);
    const details = err && Array.isArray(err.details) ? err.details.slice(0, 5) : [];
    if (details.length) {
      box.append(el("ul", {}, details.map((d) => {
        if (isObj(d)) {
          const loc = Array.isArray(d.loc) ? d.loc.join(".") : d.loc || d.field || "";
          return el("li", { text: (loc ? `${loc}: ` : "") + (d.msg || d.message || JSON.stringify(d)) });
        }
        return el("li", { text: String(d) });
      })));
    }
    box.dataset.status = String(err && err.status ? err.status : "");
    show(box);
  }

  // ---------- bars ----------
  function bar(label, value, opts = {}) {
    const v = Math.max(0, Math.min(1, num(value) || 0));
    return el("div", { class: "bar-row" + (opts.active ? " active" : "") + (opts.compact ? " compact" : "") },
      opts.compact ? null : el("span", { class: "bar-label", text: human(label) }),
      el("span", {
        class: "bar-track", role: "meter", "aria-label": human(label),
        "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(v * 100),
      }, el("span", { class: `bar-fill ${opts.tone || ""}`, style: { width: (v * 100).toFixed(1) + "%" } })),
      el("span", { class: "bar-value", text: pct(value) }));
  }
  const sortedScores = (scores) =>
    Object.entries(isObj(scores) ? scores : {}).filter(([, v]) => num(v) !== null).sort((a, b) => b[1] - a[1]);

  // ---------- analyze ----------
  const form = $("analyze-form");
  const textInput = $("text-input");
  const analyzeBtn = $("analyze-btn");

  document.querySelectorAll(".example").forEach((b) =>
    b.addEventListener("click", () => { textInput.value = b.dataset.text; textInput.focus(); }));
  textInput.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); form.requestSubmit(); }
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const errBox = $("analyze-error");
    show(errBox, false);
    const results = $("results");
    if (!textInput.value.trim()) {  // an empty text has no sentiment: say so instead of showing one
      show(results, false);
      showError(errBox, new Error("Type or paste a text to analyze first."));
      textInput.focus();
      return;
    }
    analyzeBtn.disabled = true;
    analyzeBtn.textContent = "Analyzing...";
    results.setAttribute("aria-busy", "true");
    try {
      const res = await api("/v1/analyze", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ texts: [textInput.value], tasks: TASKS, explain: $("explain").checked }),
      });
      const body = await res.json();
      const r = body && Array.isArray(body.results) ? body.results[0] : null;
      if (!r) throw new Error("The service answered without results.");
      renderResult(r);
    } catch (err) {
      showError(errBox, err);
    } finally {
      analyzeBtn.disabled = false;
      analyzeBtn.textContent = "Analyze";
      results.removeAttribute("aria-busy");
    }
  });

  function renderResult(r) {
    const sent = isObj(r.sentiment) ? r.sentiment : null;
    const emo = isObj(r.emotion) ? r.emotion : null;
    const asp = isObj(r.aspects) ? r.aspects : null;
    const ver = isObj(r.verdict) ? r.verdict : null;  // the one answer for the text (affectkit.verdict)

    // warnings of every task, once each
    const warnings = [...new Set([sent, emo].flatMap((x) => (x && Array.isArray(x.warnings) ? x.warnings : [])))];
    const wl = clear($("warnings"));
    warnings.forEach((w) => wl.append(el("li", { text: String(w) })));
    show(wl, warnings.length > 0);

    renderSentiment(sent, ver);
    renderEmotion(emo, ver);
    renderAspects(asp, r.text, ver);
    renderExplanations([sent, emo]);

    const summary = [];
    if (ver) summary.push(`Verdict ${ver.label}, ${pct(ver.confidence)}.`);
    else if (sent) summary.push(`Sentiment ${sent.label}, ${pct((sent.scores || {})[sent.label])}.`);
    const shownEmotions = ver ? ver.emotions : emo && emo.labels;
    if (emo) summary.push(`Emotions: ${(shownEmotions || []).map(human).join(", ") || "none above threshold"}.`);
    if (asp) summary.push(`${(asp.aspects || []).length} aspect(s).`);
    if (warnings.length) summary.push(`Warnings: ${warnings.join(" ")}`);
    $("results-summary").textContent = summary.join(" ");
    show($("results"));
  }

  function renderSentiment(sent, ver) {
    const label = $("sentiment-label");
    const bars = clear($("sentiment-bars"));
    const why = $("sentiment-reason");
    bars.className = "bars stacked";
    why.textContent = "";
    if (!sent) {
      label.textContent = "not requested";
      label.className = "badge other";
      return;
    }
    const shown = ver ? ver.label : sent.label;
    label.textContent = shown;
    label.className = `badge big ${polarityClass(shown)}`;
    if (ver && ver.label === "mixed") why.textContent = `Mixed: ${ver.reason}.`;
    else if (ver && ver.label !== sent.label) why.textContent = ver.reason;
    const scores = isObj(sent.scores) ? sent.scores : {};
    const order = SENTIMENT_ORDER.filter((k) => k in scores).concat(Object.keys(scores).filter((k) => !SENTIMENT_ORDER.includes(k)));
    order.forEach((k) => bars.append(bar(k, scores[k], { tone: polarityClass(k), active: k === sent.label })));
  }

  function chips(labels, cls, empty) {
    const list = Array.isArray(labels) ? labels : [];
    if (!list.length) return el("p", { class: "chips" }, el("span", { class: "chip muted", text: empty }));
    return el("p", { class: "chips" }, list.map((l) => el("span", { class: `chip ${cls(l)}`, text: human(l) })));
  }

  function levelBlock(title, subtitle, labels, scores, opts) {
    const chosen = new Set(Array.isArray(labels) ? labels : []);
    const entries = opts.order
      ? opts.order.filter((k) => isObj(scores) && k in scores).map((k) => [k, scores[k]])
      : sortedScores(scores).slice(0, opts.top || 99);
    return el("div", { class: "level" },
      el("h4", {}, title, el("span", { class: "sub", text: subtitle })),
      chips(labels, opts.chip, "none above threshold"),
      el("div", { class: "bars stacked" }, entries.map(([k, v]) =>
        bar(k, v, { tone: opts.tone ? opts.tone(k) : "emo", active: chosen.has(k) }))));
  }

  function renderEmotion(emo, ver) {
    const box = clear($("emotion-levels"));
    if (!emo) { box.append(el("p", { class: "muted", text: "Not requested." })); return; }
    const contrary = ver && Array.isArray(ver.contrary) ? ver.contrary : [];
    const levels = isObj(emo.levels) ? emo.levels : {};
    const ekman = isObj(levels.ekman) ? levels.ekman : null;
    const polarity = isObj(levels.polarity) ? levels.polarity : null;
    box.append(levelBlock("Fine-grained", "GoEmotions: top 5 of 28", ver ? ver.emotions : emo.labels, emo.scores,
      { top: 5, chip: () => "emo" }));
    if (contrary.length) {
      box.append(el("p", { class: "note", text: `Left out, contrary to the ${ver.label} verdict: ${contrary.map(human).join(", ")}.` }));
    }
    if (ekman) box.append(levelBlock("Ekman", "6 basic emotions + neutral", ekman.labels, ekman.scores,
      { chip: () => "emo" }));
    if (polarity) box.append(levelBlock("Polarity", "4 groups", polarity.labels, polarity.scores,
      { order: POLARITY_ORDER, chip: polarityClass, tone: polarityClass }));
    if (emo.multi_label) {
      box.append(el("p", { class: "note", text: "Several emotions can hold at once: each score is independent." }));
    }
  }

  function renderAspects(asp, fallbackText, ver) {
    const quote = clear($("aspects-text"));
    const box = clear($("aspects"));
    const text = asp && typeof asp.text === "string" ? asp.text : String(fallbackText || "");
    if (!asp) {
      quote.textContent = text;
      box.append(el("p", { class: "muted", text: "Not requested." }));
      return;
    }
    const items = Array.isArray(asp.aspects) ? asp.aspects.filter(isObj) : [];

    // the text with each located aspect highlighted (non-overlapping, in order)
    const spans = items
      .filter((a) => Number.isInteger(a.start) && Number.isInteger(a.end) && a.end > a.start && a.end <= text.length)
      .sort((a, b) => a.start - b.start);
    let pos = 0;
    for (const a of spans) {
      if (a.start < pos) continue;
      if (a.start > pos) quote.append(text.slice(pos, a.start));
      quote.append(el("mark", {
        class: `asp ${polarityClass(a.polarity)}`,
        title: `${a.aspect}: ${a.polarity || "unknown"} (${pct(a.probability)})`,
      }, text.slice(a.start, a.end)));
      pos = a.end;
    }
    if (pos < text.length) quote.append(text.slice(pos));
    if (!text) quote.append(el("span", { class: "muted", text: "(empty text)" }));

    if (items.length) {
      const table = el("table", { class: "aspect-table" },
        el("caption", { class: "sr-only", text: "Aspects and their polarity" }),
        el("thead", {}, el("tr", {},
          el("th", { scope: "col", text: "Aspect" }),
          el("th", { scope: "col", text: "Polarity" }),
          el("th", { scope: "col", text: "Probability" }))),
        el("tbody", {}, items.map((a) => el("tr", { class: "aspect-row" },
          el("td", { class: "aspect-term" }, String(a.aspect),
            a.found === false ? el("span", { class: "sub", text: " not in text" }) : null),
          el("td", {}, el("span", { class: `badge ${polarityClass(a.polarity)}`, text: a.polarity || "n/a" })),
          el("td", { class: "prob" }, num(a.probability) === null ? "-" : bar(String(a.aspect), a.probability, { tone: polarityClass(a.polarity), compact: true }))))));
      box.append(table);
    }
    const s = isObj(asp.summary) ? asp.summary : null;
    if (s && items.length) {
      const parts = [];
      if (!ver && isObj(s.document) && s.document.label) parts.push(`Whole text: ${s.document.label}`);
      if (s.mixed) parts.push("mixed opinions");
      if (parts.length) box.append(el("p", { class: "note", text: parts.join(" · ") + "." }));
    }
    const cats = Array.isArray(asp.categories) ? asp.categories.filter(isObj) : [];
    if (cats.length) {
      box.append(el("p", { class: "note", text: "Categories (restaurant reviews): " +
        cats.map((c) => `${String(c.category)} ${String(c.polarity)} (${pct(c.probability)})`).join(", ") + "." }));
    }
    const notes = Array.isArray(asp.notes) ? [...new Set(asp.notes.map(String))] : [];
    if (!items.length) box.append(el("p", { class: "muted", text: "No aspects found." }));
    if (notes.length) box.append(el("ul", { class: "notes" }, notes.map((n) => el("li", { text: String(n) }))));
  }

  function renderExplanations(results) {
    const box = clear($("explanation"));
    let any = false;
    for (const r of results) {
      const e = r && isObj(r.explanation) ? r.explanation : null;
      if (!e || !Array.isArray(e.tokens)) continue;
      any = true;
      const text = typeof r.text === "string" ? r.text : "";
      const tokens = e.tokens.filter((t) => isObj(t) && Number.isInteger(t.start) && Number.isInteger(t.end))
        .sort((a, b) => a.start - b.start);
      const maxAbs = Math.max(1e-9, ...tokens.map((t) => Math.abs(num(t.weight) || 0)));
      const line = el("p", { class: "tokens" });
      let pos = 0;
      for (const t of tokens) {
        if (t.start < pos || t.end > text.length) continue;
        if (t.start > pos) line.append(text.slice(pos, t.start));
        const w = num(t.weight) || 0;
        const strength = Math.abs(w) / maxAbs;
        const sign = w > 0 ? "+" : w < 0 ? "−" : "±";
        const tip = `weight ${sign}${Math.abs(w).toFixed(3)}: ${w > 0 ? "supports" : w < 0 ? "works against" : "no effect on"} ${human(e.label)}`;
        line.append(el("span", {
          class: "tok " + (w > 0 ? "tok-pos" : w < 0 ? "tok-neg" : "tok-zero") + (strength > 0.6 ? " tok-strong" : ""),
          title: tip, "data-weight": w.toFixed(4),
          style: { "--a": (0.08 + 0.77 * strength).toFixed(3) },
        }, text.slice(t.start, t.end)));
        pos = t.end;
      }
      if (pos < text.length) line.append(text.slice(pos));
      box.append(el("div", { class: "expl" },
        el("h4", {}, `${human(r.task || "")} `, el("span", { class: `badge ${r.task === "sentiment" ? polarityClass(e.label) : "emo"}`, text: human(e.label) }),
          el("span", { class: "sub", text: e.method ? ` ${e.method}` : "" })),
        line,
        e.note ? el("p", { class: "note", text: String(e.note) }) : null));
    }
    show($("explanation-panel"), any);
  }

  // ---------- review file: columns from the header ----------
  const COLUMN_GUESSES = {
    "text-col": ["text", "review", "review_text", "reviewtext", "body", "content", "comment", "message", "review_body"],
    "rating-col": ["rating", "stars", "star_rating", "score", "overall", "review_rating"],
    "id-col": ["id", "review_id", "reviewid", "uid"],
    "time-col": ["date", "time", "timestamp", "created", "created_at", "review_date", "datetime"],
  };

  function guessColumn(id, columns) {
    const lower = columns.map((c) => c.toLowerCase());
    for (const g of COLUMN_GUESSES[id]) {
      const i = lower.indexOf(g);
      if (i >= 0) return columns[i];
    }
    if (id === "text-col") {
      const i = lower.findIndex((c) => c.includes("text") || c.includes("review"));
      return i >= 0 ? columns[i] : columns[0];
    }
    return "";
  }

  // Replace the field `id` by a <select> of columns (or back to a text input when columns is null).
  function setColumnField(id, columns, required) {
    const old = $(id);
    let node;
    if (columns && columns.length) {
      node = el("select", { id });
      if (!required) node.append(el("option", { value: "", text: "(none)" }));
      columns.forEach((c) => node.append(el("option", { value: c, text: c })));
      node.value = guessColumn(id, columns);
    } else {
      const keep = old.tagName === "INPUT" ? old.value : id === "text-col" ? "text" : "";
      node = el("input", { id, type: "text", autocomplete: "off", spellcheck: "false" });
      node.value = keep;
    }
    old.replaceWith(node);
  }

  function parseHeaderLine(chunk, delim) {
    // first record of a CSV/TSV chunk; quotes may hold delimiters and newlines
    const out = [];
    let field = "", i = 0, quoted = false;
    for (; i < chunk.length; i++) {
      const c = chunk[i];
      if (quoted) {
        if (c === '"') {
          if (chunk[i + 1] === '"') { field += '"'; i++; } else quoted = false;
        } else field += c;
      } else if (c === '"' && field === "") quoted = true;
      else if (c === delim) { out.push(field); field = ""; }
      else if (c === "\n" || c === "\r") break;
      else field += c;
    }
    out.push(field);
    return out.map((s) => s.trim()).filter((s) => s !== "");
  }

  async function readStart(file, gz) {
    const LIMIT = 64 * 1024;
    if (!gz) return await file.slice(0, LIMIT).text();
    if (typeof DecompressionStream === "undefined") return null;
    const reader = file.stream().pipeThrough(new DecompressionStream("gzip")).getReader();
    const dec = new TextDecoder();
    let text = "";
    try {
      while (text.length < LIMIT && !/[\r\n]/.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += dec.decode(value, { stream: true });
      }
    } finally {
      reader.cancel().catch(() => {});
    }
    return text;
  }

  async function fileColumns(file) {
    const name = file.name.toLowerCase();
    const gz = name.endsWith(".gz");
    const base = gz ? name.slice(0, -3) : name;
    const kind = base.endsWith(".csv") ? "csv" : base.endsWith(".tsv") ? "tsv"
      : base.endsWith(".jsonl") || base.endsWith(".ndjson") ? "jsonl" : null;
    if (!kind) return null;
    let text = await readStart(file, gz);
    if (!text) return null;
    text = text.replace(/^\uFEFF/, "");
    if (kind === "jsonl") {
      const first = text.split(/\r?\n/).find((l) => l.trim());
      try {
        const obj = JSON.parse(first);
        return isObj(obj) ? Object.keys(obj) : null;
      } catch (_) { return null; }
    }
    const cols = parseHeaderLine(text, kind === "tsv" ? "\t" : ",");
    return cols.length ? [...new Set(cols)] : null;
  }

  $("file-input").addEventListener("change", async (ev) => {
    const file = ev.target.files && ev.target.files[0];
    const hint = $("columns-hint");
    hint.textContent = "";
    if (!file) return;
    let cols = null;
    try { cols = await fileColumns(file); } catch (_) { cols = null; }
    for (const id of ["text-col", "rating-col", "id-col", "time-col"]) setColumnField(id, cols, id === "text-col");
    hint.textContent = cols
      ? `Found ${cols.length} columns in ${file.name}; the likely ones are picked.`
      : `Columns of ${file.name} can't be read in the browser: type the column names.`;
  });

  // ---------- review file: the job ----------
  const jobForm = $("job-form");
  const jobBtn = $("job-btn");
  let pollTimer = null;
  let jobToken = 0;
  let blobUrls = [];

  function resetJobView() {
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = null;
    blobUrls.forEach((u) => URL.revokeObjectURL(u));
    blobUrls = [];
    clear($("job-summary"));
    clear($("job-files"));
    const frame = $("report-frame");
    frame.removeAttribute("src");
    show(frame, false);
    $("report-open").removeAttribute("href");
    show($("report-open"), false);
    show($("job-error"), false);
  }

  jobForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const errBox = $("job-form-error");
    show(errBox, false);
    const file = $("file-input").files[0];
    const textCol = $("text-col").value.trim();
    if (!file) { showError(errBox, new Error("Choose a review file first.")); $("file-input").focus(); return; }
    if (!textCol) { showError(errBox, new Error("Give the name of the text column.")); $("text-col").focus(); return; }
    resetJobView();
    const token = ++jobToken;
    const fd = new FormData();
    fd.append("file", file, file.name);
    fd.append("text_col", textCol);
    for (const [id, field] of [["rating-col", "rating_col"], ["id-col", "id_col"], ["time-col", "time_col"]]) {
      const v = $(id).value.trim();
      if (v) fd.append(field, v);
    }
    fd.append("topics", $("topics").checked ? "true" : "false");
    fd.append("aspects", $("aspects-opt").checked ? "true" : "false");

    jobBtn.disabled = true;
    setJobStatus({ status: "uploading" }, file.name);
    show($("job-panel"));
    try {
      const bar = $("job-progress");
      const job = await upload("/v1/jobs", fd, (f) => {
        bar.value = f;
        $("job-status").textContent = `Uploading: ${file.name} (${pct(f)})`;
      });
      try { localStorage.setItem(JOB_STORE, job.id); } catch (_) { /* storage off */ }
      if (token === jobToken) trackJob(job, token, Date.now());
    } catch (err) {
      showError(errBox, err);
      show($("job-panel"), false);
      jobBtn.disabled = false;
    }
  });

  function forgetJob() {
    try { localStorage.removeItem(JOB_STORE); } catch (_) { /* storage off */ }
  }

  $("job-clear").addEventListener("click", () => {
    jobToken += 1;
    resetJobView();
    forgetJob();
    show($("job-panel"), false);
    jobBtn.disabled = false;
  });

  async function resumeLastJob() {
    let id = null;
    try { id = localStorage.getItem(JOB_STORE); } catch (_) { /* storage off */ }
    if (!id || !/^[0-9a-f]{8,64}$/i.test(id)) return;
    try {
      const job = await (await api(`/v1/jobs/${encodeURIComponent(id)}`, {}, true)).json();
      const token = ++jobToken;
      if (!FINISHED.has(job.status)) jobBtn.disabled = true;
      show($("job-panel"));
      const started = Date.parse(job.started || job.created || "");
      trackJob(job, token, Number.isFinite(started) ? started : Date.now());
    } catch (err) {
      // quietly: a job that is gone, or a server that wants a key we do not have yet
      if (err.status === 404) forgetJob();
    }
  }

  const STATUS_TEXT = { uploading: "Uploading", queued: "Queued", running: "Running", done: "Done", failed: "Failed",
                       cancelled: "Cancelled" };
  const FINISHED = new Set(["done", "failed", "cancelled"]);
  let lastAnnounced = "";

  function setJobStatus(job, filename) {
    const status = String(job.status || "");
    const p = isObj(job.progress) ? job.progress : {};
    const done = num(p.done);
    const total = num(p.total);
    const bar = $("job-progress");
    let text = `${STATUS_TEXT[status] || human(status)}: ${job.filename || filename || "file"}`;
    if (status === "done") {
      bar.value = 1;
      if (done !== null) text += ` (${done} reviews)`;
    } else if (status === "running" && total && (done || 0) >= total) {
      bar.removeAttribute("value"); // scoring is over; topics and the report are being written
      text += ` (all ${total} reviews scored; writing the results)`;
    } else if (status === "running" && total) {
      bar.value = Math.min(1, (done || 0) / total);
      text += ` (${done || 0} of ${total} reviews, ${pct((done || 0) / total)})`;
    } else if (status === "running" && done !== null) {
      bar.removeAttribute("value");
      text += ` (${done} reviews so far)`;
    } else if (status === "failed" || status === "cancelled") {
      if (!bar.hasAttribute("value")) bar.value = 0;
    } else {
      bar.removeAttribute("value"); // indeterminate
    }
    $("job-panel").dataset.status = status;
    const st = $("job-status");
    st.textContent = text;
    st.className = `job-status st-${status}`;
    if (status !== lastAnnounced) {
      lastAnnounced = status;
      $("job-announce").textContent = `Job ${STATUS_TEXT[status] || status}.`;
    }
  }

  function trackJob(job, token, t0) {
    const tick = () => {
      const s = Math.round((Date.now() - t0) / 1000);
      $("job-elapsed").textContent = `${s} s`;
    };
    const handle = async (j) => {
      if (token !== jobToken) return;
      setJobStatus(j);
      tick();
      if (j.status === "done") {
        jobBtn.disabled = false;
        await showJobResult(j, token);
      } else if (j.status === "failed") {
        jobBtn.disabled = false;
        showError($("job-error"), new Error(j.error ? String(j.error) : "The job failed."));
      } else if (j.status === "cancelled") {
        jobBtn.disabled = false;
      } else {
        pollTimer = setTimeout(poll, POLL_MS);
      }
    };
    let misses = 0;
    const poll = async () => {
      if (token !== jobToken) return;
      try {
        const res = await api(`/v1/jobs/${encodeURIComponent(job.id)}`);
        misses = 0;
        await handle(await res.json());
      } catch (err) {
        misses += 1;
        if (misses >= 5 || (err.status && err.status !== 0 && err.status < 500)) {
          jobBtn.disabled = false;
          showError($("job-error"), err);
        } else {
          pollTimer = setTimeout(poll, POLL_MS * 2);
        }
      }
    };
    handle(job);
  }

  async function fetchBlob(path, type) {
    const res = await api(path);
    const blob = await res.blob();
    const typed = type ? new Blob([blob], { type }) : blob;
    const url = URL.createObjectURL(typed);
    blobUrls.push(url);
    return url;
  }

  const FILE_KINDS = { html: "HTML report", parquet: "Parquet", sqlite: "SQLite", json: "JSON", csv: "CSV" };

  async function showJobResult(job, token) {
    renderJobSummary(isObj(job.summary) ? job.summary : null);
    const files = isObj(job.files) ? job.files : {};
    const list = clear($("job-files"));
    const names = Object.keys(files);
    if (names.length) {
      list.append(el("span", { class: "files-title", text: "Download" }));
      for (const name of names) {
        const path = String(files[name]);
        const ext = name.split(".").pop();
        const a = el("a", { class: "file", href: path, download: name },
          el("span", { class: "file-name", text: name }),
          el("span", { class: "file-kind", text: FILE_KINDS[ext] || ext }));
        a.addEventListener("click", async (ev) => {
          ev.preventDefault();
          try {
            const url = await fetchBlob(path);
            const tmp = el("a", { href: url, download: name, hidden: true });
            document.body.append(tmp);
            tmp.click();
            tmp.remove();
          } catch (err) {
            showError($("job-error"), err);
          }
        });
        list.append(a);
      }
    }
    const reportPath = files["report.html"];
    if (reportPath) {
      try {
        const url = await fetchBlob(String(reportPath), "text/html");
        if (token !== jobToken) return;
        const frame = $("report-frame");
        frame.src = url;
        show(frame);
        const open = $("report-open");  // the whole report in its own tab, not a download
        open.href = url;
        show(open);
      } catch (err) {
        showError($("job-error"), err);
      }
    }
  }

  function renderJobSummary(s) {
    const box = clear($("job-summary"));
    if (!s) return;
    const stat = (label, value) => el("div", { class: "stat" },
      el("span", { class: "stat-value", text: String(value) }), el("span", { class: "stat-label", text: label }));
    if (num(s.rows) !== null) box.append(stat("reviews", s.rows));
    if (num(s.scored) !== null && s.scored !== s.rows) box.append(stat("scored", s.scored));
    if (num(s.flagged) !== null) box.append(stat("flagged", s.flagged));
    if (num(s.topics) !== null && s.topics > 0) box.append(stat("topics", s.topics));
    const secs = isObj(s.seconds) ? num(s.seconds.total) : null;
    if (secs !== null) box.append(stat("seconds", secs.toFixed(1)));
    const counts = isObj(s.sentiment_counts) ? s.sentiment_counts : null;
    const total = counts ? Object.values(counts).reduce((a, b) => a + (num(b) || 0), 0) : 0;
    if (total > 0) {
      const order = SENTIMENT_ORDER.filter((k) => k in counts).reverse();
      const stack = el("div", { class: "stack", role: "img",
        "aria-label": order.map((k) => `${k} ${counts[k]}`).join(", ") });
      order.forEach((k) => stack.append(el("span", {
        class: `seg ${polarityClass(k)}`, title: `${k}: ${counts[k]}`,
        style: { flexGrow: String(counts[k]) },
      }, counts[k] / total >= 0.08 ? `${k} ${pct(counts[k] / total)}` : "")));
      box.append(el("div", { class: "stat stat-wide" }, stack, el("span", { class: "stat-label", text: "predicted sentiment" })));
    }
  }

  // ---------- emotion from a recording (/v1/audio) ----------
  const audioForm = $("audio-form");
  const audioBtn = $("audio-btn");
  audioForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const errBox = $("audio-error");
    show(errBox, false);
    const file = $("audio-input").files[0];
    if (!file) {
      showError(errBox, new Error("Choose a recording first."));
      return;
    }
    const data = new FormData();
    data.append("file", file, file.name);
    const said = $("audio-transcript").value.trim();
    if (said) data.append("transcript", said);
    audioBtn.disabled = true;
    audioBtn.textContent = "Analyzing...";
    try {
      renderAudio(await upload("/v1/audio", data, () => {}));
    } catch (err) {
      show($("audio-result"), false);
      showError(errBox, err);
    } finally {
      audioBtn.disabled = false;
      audioBtn.textContent = "Analyze recording";
    }
  });

  function renderAudio(r) {
    $("audio-label").textContent = human(r.label);
    const parts = [];
    if (num(r.duration_s) !== null) parts.push(`${Number(r.duration_s).toFixed(1)} s`);
    if (r.transcript) parts.push(`transcript (${r.transcript_source || "given"}): “${r.transcript}”`);
    if (isObj(r.weights)) parts.push("weights " + Object.entries(r.weights).map(([k, v]) => `${k} ${pct(v)}`).join(", "));
    $("audio-meta").textContent = parts.join(" · ");
    const bars = clear($("audio-bars"));
    sortedScores(r.scores).forEach(([k, v], i) => bars.append(bar(k, v, { active: i === 0 })));
    const warn = clear($("audio-warnings"));
    (Array.isArray(r.warnings) ? r.warnings : []).forEach((w) => warn.append(el("li", { text: String(w) })));
    show(warn, warn.childElementCount > 0);
    show($("audio-result"));
  }

  // ---------- footer: service health ----------
  async function health() {
    const box = $("health");
    try {
      const res = await api("/healthz");
      const h = await res.json();
      clear(box);
      box.append(el("span", { class: `dot ${h.status === "ok" ? "ok" : "bad"}`, "aria-hidden": "true" }),
        `Service ${h.status || "?"}`);
      const models = isObj(h.models) ? h.models : {};
      show($("audio-card"), Boolean(models.audio));  // the recording card only when the server has the model
      for (const [task, name] of Object.entries(models)) {
        if (name === null || name === undefined || name === "") continue;
        const label = isObj(name) ? name.name || JSON.stringify(name) : String(name);
        box.append(" · ", el("span", { class: "muted", text: `${task}: ` }), el("code", { text: label }));
      }
      if (h.version) box.append(" · ", el("span", { class: "muted", text: `v${h.version}` }));
    } catch (err) {
      clear(box);
      box.append(el("span", { class: "dot bad", "aria-hidden": "true" }), `Service check failed: ${err.message}`);
    }
  }
  health();
  resumeLastJob();
})();

"""The report page's constant parts: CSS and JavaScript. No log data is ever formatted into these.

The script builds the trace list from the JSON data block with ``textContent`` only; it never
parses log text as HTML, never builds a URL from it, and keys no plain object by it (a run type
called ``__proto__`` or ``constructor`` is a name like any other: maps are ``Map`` and ``Set``).

Keyboard: trace lines and run rows take the focus (Tab); Enter opens a trace or a run's
detail; the up and down arrows (Home, End) move between the lines on screen; right and left
open and close a trace, or unfold and fold a run's children; ``/`` goes to the search box.
The CSS fits a 420 px screen without sideways scrolling and prints without the controls.
"""

CSS = r"""
:root {
  --bg: #f7f7f9; --panel: #ffffff; --text: #1d1f24; --muted: #676b75; --line: #e2e4ea;
  --accent: #3b5bdb; --ok: #2f9e44; --err: #e03131; --warn: #f08c00; --hit: #fff3bf;
  --chain: #4c6ef5; --llm: #ae3ec9; --tool: #f59f00; --retriever: #12b886; --other: #868e96;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #16181d; --panel: #1f2229; --text: #e4e6eb; --muted: #9aa0ab; --line: #30343d;
          --accent: #748ffc; --hit: #5c4a12; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       background: var(--bg); color: var(--text); }
header { padding: 18px 28px 10px; border-bottom: 1px solid var(--line); background: var(--panel); }
header h1 { margin: 0; font-size: 20px; }
header h1 span { color: var(--accent); }
header .meta { color: var(--muted); margin: 4px 0 0; font-size: 13px; word-break: break-all; }
main { padding: 18px 28px 40px; max-width: 1500px; }
h2 { font-size: 15px; margin: 22px 0 8px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px;
        padding: 10px 14px; }
.card b { display: block; font-size: 22px; font-variant-numeric: tabular-nums; }
.card span { color: var(--muted); font-size: 12px; text-transform: uppercase;
             letter-spacing: .04em; }
.card small { display: block; color: var(--muted); }
.card.bad b { color: var(--err); }
.cols { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 0 24px; }
table { border-collapse: collapse; width: 100%; background: var(--panel);
        border: 1px solid var(--line);
        border-radius: 8px; overflow: hidden; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: var(--bg); }
td.num, th.num { text-align: right; white-space: nowrap; }
td.name { word-break: break-all; }
tr:last-child td { border-bottom: 0; }
tr.total td { font-weight: 600; }
.scroll { max-height: 360px; overflow: auto; border-radius: 8px; }
.note { color: var(--muted); margin: 4px 0 10px; }
.filters { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin: 6px 0 12px;
           position: sticky; top: 0; background: var(--bg); padding: 8px 0; z-index: 2; }
.filters input[type=search] { flex: 1 1 320px; padding: 7px 10px; border: 1px solid var(--line);
           border-radius: 6px; background: var(--panel); color: var(--text); font: inherit; }
.filters select, .filters button { padding: 6px 10px; border: 1px solid var(--line);
                                   border-radius: 6px;
           background: var(--panel); color: var(--text); font: inherit; cursor: pointer; }
.filters .count { color: var(--muted); margin-left: auto; }
.filters .note { flex-basis: 100%; margin: 0; font-size: 12px; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: -2px; }
details.trace > summary:focus-visible, .row.run:focus-visible { background: var(--bg); }
details.trace { background: var(--panel); border: 1px solid var(--line);
                border-left: 4px solid var(--ok);
                border-radius: 6px; margin: 0 0 6px; }
details.trace.error { border-left-color: var(--err); }
details.trace.incomplete { border-left-color: var(--warn); }
details.trace > summary { list-style: none; cursor: pointer; padding: 7px 12px; display: flex;
                          gap: 14px;
                          align-items: baseline; flex-wrap: wrap; }
details.trace > summary::-webkit-details-marker { display: none; }
details.trace > summary::before { content: "\25B8"; color: var(--muted); width: 10px; }
details.trace[open] > summary::before { content: "\25BE"; }
summary .tname { font-weight: 600; word-break: break-all; }
summary .muted, .muted { color: var(--muted); }
summary .badge-err { color: #fff; background: var(--err); border-radius: 9px; padding: 0 7px;
                     font-size: 12px; }
summary .badge-inc { color: #fff; background: var(--warn); border-radius: 9px; padding: 0 7px;
                     font-size: 12px; }
summary code, .tid { font-family: var(--mono); color: var(--muted); font-size: 12px; }
.tree { border-top: 1px solid var(--line); padding: 6px 0 8px; }
.trace-error { margin: 4px 12px 8px; color: var(--err); font-family: var(--mono); font-size: 12px;
               white-space: pre-wrap; word-break: break-word; }
details.tb { margin: 0 12px 8px; font-size: 12px; }
.detail details.tb { margin: 4px 0 0; }
details.tb > summary { cursor: pointer; color: var(--muted); }
details.tb pre { color: var(--text); margin-top: 3px; font-family: var(--mono);
                 white-space: pre-wrap; word-break: break-word; }
.row { display: grid; grid-template-columns: minmax(220px, 34%) 76px 1fr 86px 70px; gap: 8px;
       align-items: center; padding: 2px 12px; min-height: 24px; --step: 14px; }
.row.head { color: var(--muted); font-size: 11px; text-transform: uppercase;
            letter-spacing: .04em; }
.row.run { cursor: pointer; }
.row.run:hover { background: var(--bg); }
.row.run.hit { background: var(--hit); }
.row .c-name { display: flex; align-items: center; gap: 4px; min-width: 0;
               padding-left: calc(var(--d, 0) * var(--step)); }
.row .c-name .rname { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.row.error .rname { color: var(--err); font-weight: 600; }
.row .c-dur, .row .c-tok { text-align: right; font-variant-numeric: tabular-nums; font-size: 12px; }
.caret { border: 0; background: none; color: var(--muted); width: 16px; padding: 0;
         cursor: pointer; font-size: 12px; }
.caret:disabled { cursor: default; }
.type { font-size: 11px; border-radius: 4px; padding: 0 5px; color: #fff; background: var(--other);
        justify-self: start; }
.type.chain, .bar.chain { background: var(--chain); }
.type.llm, .bar.llm { background: var(--llm); }
.type.tool, .bar.tool { background: var(--tool); }
.type.retriever, .bar.retriever { background: var(--retriever); }
.lane { position: relative; height: 12px; background: var(--bg); border-radius: 3px; }
.bar { position: absolute; top: 0; height: 12px; border-radius: 3px; background: var(--other);
       min-width: 2px; }
.bar.error { background: var(--err) !important; }
.bar.running { opacity: .55; }
.detail { margin: 2px 12px 8px; padding: 8px 12px; border: 1px solid var(--line);
          border-radius: 6px;
          background: var(--bg); }
.detail dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px;
             margin: 0 0 6px; }
.detail dt { color: var(--muted); }
.detail dd { margin: 0; word-break: break-word; }
.detail h4 { margin: 8px 0 3px; font-size: 12px; color: var(--muted); text-transform: uppercase; }
.detail pre, .textlog pre { font-family: var(--mono); font-size: 12px; white-space: pre-wrap;
          word-break: break-word; margin: 0; padding: 6px 8px; background: var(--panel);
          border: 1px solid var(--line); border-radius: 4px; max-height: 420px; overflow: auto; }
.detail pre.err { color: var(--err); }
.detail ul { margin: 0; padding-left: 18px; font-family: var(--mono); font-size: 12px; }
.detail dl.params { font-family: var(--mono); font-size: 12px; }
.chat { display: flex; flex-direction: column; gap: 4px; }
.msg { background: var(--panel); border: 1px solid var(--line); border-left: 3px solid var(--other);
       border-radius: 4px; padding: 4px 8px; }
.msg.human { border-left-color: var(--chain); }
.msg.ai { border-left-color: var(--llm); }
.msg.tool, .msg.function { border-left-color: var(--tool); }
.msg.system { border-left-color: var(--muted); }
.msg .role { font-size: 11px; color: var(--muted); }
.msg .role b { font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
.msg .content { font-family: var(--mono); font-size: 12px; white-space: pre-wrap;
                word-break: break-word; max-height: 420px; overflow: auto; }
.msg .call { font-family: var(--mono); font-size: 12px; margin-top: 3px; padding: 3px 6px;
             background: var(--bg); border-radius: 3px; white-space: pre-wrap;
             word-break: break-word; }
.msg .call b { color: var(--tool); }
.detail li { white-space: pre-wrap; word-break: break-word; }
.more { color: var(--muted); padding: 4px 12px; }
.empty { color: var(--muted); padding: 14px; text-align: center; }
.textlog .ansi2html-content { display: block; }
/* a log's SGR 8 (conceal) would hide text: a report shows everything the log holds */
.textlog .ansi8 { visibility: visible; }
/* text from a log is isolated: a right-to-left override in it never reorders what is beside it */
bdi, .tname, .rname, .tid, .detail dd, .detail li, .trace-error, .msg .role,
.msg .content, .msg .call { unicode-bidi: isolate; }
.textlog pre { max-height: none; background: #000; color: #aaa; }
.wide { overflow-x: auto; }
/* a phone or a narrow window: no sideways scrolling; the timeline gets a line of its own */
@media (max-width: 700px) {
  header { padding: 12px 12px 8px; }
  main { padding: 12px 10px 30px; }
  .cols { grid-template-columns: minmax(0, 1fr); }
  .cards { grid-template-columns: repeat(auto-fill, minmax(130px, 1fr)); }
  .filters { position: static; }
  .filters input[type=search] { flex: 1 1 100%; min-width: 0; }
  details.trace > summary { gap: 4px 10px; padding: 7px 8px; }
  .row { grid-template-columns: minmax(0, 1fr) auto 64px; gap: 2px 6px; padding: 2px 8px;
         --step: 8px; }
  .row .lane { grid-column: 1 / -1; grid-row: 2; height: 6px; }
  .row .bar { height: 6px; }
  .row .c-tok, .row.head span:nth-child(3), .row.head span:nth-child(5) { display: none; }
  .detail { margin: 2px 4px 8px; padding: 6px 8px; }
  .detail dl { grid-template-columns: minmax(0, max-content) minmax(0, 1fr); }
  th, td { padding: 4px 6px; }
  td.name { min-width: 8em; }
}
@media print {
  :root { --bg: #fff; --panel: #fff; --text: #000; --muted: #555; --line: #ccc; --hit: #fff3bf; }
  body { font-size: 11px; }
  .filters, .caret, #no-match, noscript,
  details.trace > summary::before { display: none !important; }
  header, main { padding: 0; max-width: none; }
  .scroll, .detail pre, .msg .content { max-height: none; overflow: visible; }
  details.trace, .row, .msg, tr { break-inside: avoid; }
  details.trace { border-left-width: 3px; }
  a { color: inherit; text-decoration: none; }
  .bar, .type, .badge-err, .badge-inc { print-color-adjust: exact;
                                        -webkit-print-color-adjust: exact; }
}
"""

SCRIPT = r"""
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("chainsink-data").textContent);
  var KNOWN = new Set(["chain", "llm", "tool", "retriever", "prompt", "parser"]);
  var KNOWN_ROLES = new Set(["human", "ai", "system", "tool", "function"]);
  var $ = function (id) { return document.getElementById(id); };
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function typeClass(t) { return KNOWN.has(t) ? t : "other"; }
  function ms(v) {
    if (v === null || v === undefined) { return "\u2013"; }
    v = Number(v);
    if (v < 10) { return v.toFixed(2) + " ms"; }
    if (v < 1000) { return v.toFixed(1) + " ms"; }
    if (v < 60000) { return (v / 1000).toFixed(2) + " s"; }
    return (v / 60000).toFixed(1) + " min";
  }
  function num(n) { return Number(n).toLocaleString("en-US"); }
  function when(ts) { return String(ts || "").replace("T", " ").replace(/(\.\d{3})\d*Z$/, "$1Z"); }

  var list = $("trace-list"), findNote = $("find-note");
  var search = $("q"), typeSel = $("type"), errOnly = $("errors-only"), count = $("count");
  var types = new Set();
  var items = [], byId = new Map();
  // what other page scripts (the live viewer's) use: add or update traces, load a trace's rows
  var API = window.chainsinkReport = {add: add, update: update, loader: null, items: items};

  function addTypes(list) {
    var before = types.size;
    list.forEach(function (t) { (t.types || []).forEach(function (x) { types.add(String(x)); }); });
    if (types.size === before) { return; }
    var keep = typeSel.value;
    while (typeSel.options.length > 1) { typeSel.remove(1); }
    Array.from(types).sort().forEach(function (x) { typeSel.appendChild(new Option(x, x)); });
    typeSel.value = keep;
  }

  function traceClass(t) {
    return "trace " + (t.status === "error" ? "error" : t.status === "incomplete" ||
                       t.status === "interrupted" ? "incomplete" : "ok");
  }

  function summaryLine(t) {
    var s = el("summary");
    s.appendChild(el("span", "tname", t.name));
    if (t.type) { s.appendChild(el("span", "type " + typeClass(t.type), t.type)); }
    s.appendChild(el("span", "muted", when(t.start)));
    s.appendChild(el("span", "", ms(t.dur)));
    s.appendChild(el("span", "muted", num(t.runs) + (t.runs === 1 ? " run" : " runs")));
    if (t.tokens) { s.appendChild(el("span", "muted", num(t.tokens[2]) + " tokens")); }
    if (t.cost) {
      s.appendChild(el("span", "muted cost", t.cost.usd === null ? "cost unknown" : t.cost.text));
    }
    if (t.errors) {
      s.appendChild(el("span", "badge-err", t.errors + (t.errors === 1 ? " error" : " errors")));
    }
    if (t.status === "incomplete") { s.appendChild(el("span", "badge-inc", "incomplete")); }
    if (t.status === "interrupted") { s.appendChild(el("span", "badge-inc", "interrupted")); }
    s.appendChild(el("code", "tid", t.tag));
    return s;
  }

  function makeItem(t) {
    var d = el("details", traceClass(t));
    d.id = "trace-" + items.length;
    d.appendChild(summaryLine(t));
    if (t.cut && findNote) { findNote.hidden = false; }
    var item = {t: t, d: d, rows: null, tree: null, loading: false};
    d.addEventListener("toggle", function () {
      if (d.open && !item.tree) { show(item); }
    });
    list.appendChild(d);
    items.push(item);
    if (t.id !== undefined) { byId.set(t.id, item); }
    return item;
  }

  // the trace's rows: in the page already, or (the live viewer) asked of API.loader once
  function show(item) {
    if (item.t.rows || !API.loader) { build(item); mark(item); return; }
    if (item.loading) { return; }
    item.loading = true;
    var wait = el("div", "tree loading", "loading\u2026");
    item.tree = wait;
    item.d.appendChild(wait);
    API.loader(item.t, function (full) {
      item.loading = false;
      wait.remove();
      item.tree = null;
      if (full) { item.t = full; }
      if (item.d.open) { build(item); mark(item); }
    });
  }

  function add(list_) {
    addTypes(list_);
    list_.forEach(function (t) {
      if (t.id !== undefined && byId.has(t.id)) { update(t); } else { makeItem(t); }
    });
    filter();
  }

  function update(t) {
    var item = byId.get(t.id);
    if (!item) { add([t]); return; }
    addTypes([t]);
    var wasOpen = item.d.open;
    item.t = t;
    item.d.className = traceClass(t);
    var focused = document.activeElement === item.d.querySelector("summary");
    item.d.replaceChild(summaryLine(t), item.d.querySelector("summary"));
    if (focused) { item.d.querySelector("summary").focus(); }
    if (t.cut && findNote) { findNote.hidden = false; }
    if (item.tree) { item.tree.remove(); item.tree = null; item.rows = null; }
    if (wasOpen) { show(item); }
    filter();
  }

  addTypes(DATA.traces);
  DATA.traces.forEach(makeItem);

  function build(item) {
    var t = item.t;
    var tree = el("div", "tree");
    if (t.error) { tree.appendChild(el("div", "trace-error", t.error)); }
    if (t.error && t.tb) { tree.appendChild(traceback(t.tb)); }
    if (t.cost) {  // unknown, never $0, when a model of it has no price
      tree.appendChild(el("div", "more trace-cost", t.cost.usd === null ?
        "cost unknown: unpriced " + (t.cost.unpriced || []).join(", ") +
        (t.cost.priced ? " (the others cost " + t.cost.priced_text + ")" : "") :
        "cost " + t.cost.text));
    }
    if (t.cut) {
      tree.appendChild(el("div", "more", "Search covers the first " +
                          num((t.find || "").length) + " characters of this trace's text."));
    }
    var head = el("div", "row head");
    ["run", "type", "timeline" + (t.span ? " (" + ms(t.span) + ")" : ""), "duration", "tokens"]
      .forEach(function (h, k) { head.appendChild(el("span", k > 2 ? "c-dur" : "", h)); });
    tree.appendChild(head);
    var rows = [];
    t.rows.forEach(function (r, i) {
      var state = r.s === "error" ? "error" : r.s === "running" ? "running" : "ok";
      var row = el("div", "row run " + state);
      row.tabIndex = 0;
      var name = el("span", "c-name");
      name.style.setProperty("--d", String(Math.min(Number(r.d) || 0, 40)));
      var hasKids = r.e > i + 1;
      var caret = el("button", "caret", hasKids ? "\u25BE" : "\u00B7");
      caret.type = "button";
      caret.tabIndex = -1;  // the row takes the focus; arrow keys fold
      caret.disabled = !hasKids;
      caret.title = hasKids ? "collapse / expand" : "";
      name.appendChild(caret);
      name.appendChild(el("span", "rname", r.n));
      var lane = el("span", "lane");
      var bar = el("span", "bar " + typeClass(r.t) + (state === "ok" ? "" : " " + state));
      if (t.span > 0 && r.o !== null && r.o !== undefined) {
        var left = Math.max(0, Math.min(100, 100 * Number(r.o) / t.span));
        var width = Math.max(0.3, Math.min(100 - left, 100 * (Number(r.ms) || 0) / t.span));
        bar.style.left = left + "%";
        bar.style.width = width + "%";
        bar.title = "+" + ms(r.o) + ", " + ms(r.ms);
        lane.appendChild(bar);
      }
      row.appendChild(name);
      row.appendChild(el("span", "type " + typeClass(r.t), r.t || "?"));
      row.appendChild(lane);
      row.appendChild(el("span", "c-dur", ms(r.ms)));
      row.appendChild(el("span", "c-tok", r.tok ? num(r.tok[2]) : ""));
      var entry = {r: r, row: row, detail: null, open: false, collapsed: false, hay: null};
      entry.fold = function (collapsed) {
        if (!hasKids || entry.collapsed === collapsed) { return; }
        entry.collapsed = collapsed;
        caret.textContent = entry.collapsed ? "\u25B8" : "\u25BE";
        refresh(rows);
      };
      caret.addEventListener("click", function (ev) {
        ev.stopPropagation();
        entry.fold(!entry.collapsed);
      });
      row.addEventListener("click", function () { toggleDetail(entry); });
      row.addEventListener("keydown", function (ev) {
        if (ev.target !== row) { return; }
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          toggleDetail(entry);
        } else if (ev.key === "ArrowRight") {
          ev.preventDefault();
          entry.fold(false);
        } else if (ev.key === "ArrowLeft") {
          ev.preventDefault();
          entry.fold(true);
        }
      });
      rows.push(entry);
      tree.appendChild(row);
    });
    if (t.hidden) { tree.appendChild(el("div", "more", num(t.hidden) + " more runs not shown")); }
    if (t.dropped) {
      tree.appendChild(el("div", "more", num(t.dropped) + " records of this trace not kept"));
    }
    item.d.appendChild(tree);
    item.tree = tree;
    item.rows = rows;
  }

  function toggleDetail(entry) {
    entry.open = !entry.open;
    if (!entry.detail) { entry.detail = detail(entry.r); entry.row.after(entry.detail); }
    entry.detail.hidden = !entry.open;
    entry.row.classList.toggle("opened", entry.open);
  }

  function traceback(text) {
    var box = el("details", "tb");
    box.appendChild(el("summary", "", "traceback"));
    box.appendChild(el("pre", "", text));
    return box;
  }

  function chat(messages) {
    var box = el("div", "chat");
    messages.forEach(function (m) {
      var role = String(m.r || "message");
      var msg = el("div", "msg " + (KNOWN_ROLES.has(role) ? role : "other"));
      var head = el("div", "role");
      head.appendChild(el("b", "", role));
      if (m.n) {
        head.appendChild(el("span", "", " \u00B7 "));
        head.appendChild(el("bdi", "", m.n));
      }
      if (m.id) {
        head.appendChild(el("span", "", " \u00B7 answers "));
        head.appendChild(el("bdi", "", m.id));
      }
      msg.appendChild(head);
      if (m.c) { msg.appendChild(el("div", "content", m.c)); }
      (m.tc || []).forEach(function (c) {
        var call = el("div", "call");
        call.appendChild(el("b", "", c[0] || "tool call"));
        call.appendChild(document.createTextNode("(" + (c[1] || "") + ")"));
        if (c[2]) { call.appendChild(el("span", "muted", "  " + c[2])); }
        msg.appendChild(call);
      });
      box.appendChild(msg);
    });
    return box;
  }

  function messageText(messages) {
    return (messages || []).map(function (m) {
      return [m.r, m.n, m.c].concat((m.tc || []).map(function (c) { return c.join(" "); }))
        .join(" ");
    }).join(" ");
  }

  // what a run row's search highlight looks in: the same kinds of text as the trace's search
  function rowText(e) {
    if (e.hay === null) {
      var r = e.r;
      e.hay = [r.n, r.t, (r.tags || []).join(" "), r.model || "", r.err || "", r.tb || "",
               r["in"] || "", r.out || "", r.meta || "", messageText(r.msgs),
               messageText(r.omsgs),
               (r.params || []).map(function (p) { return p.join(" "); }).join(" "),
               (r.ev || []).map(function (x) { return x[1]; }).join(" ")]
        .join("\n").toLowerCase();
    }
    return e.hay;
  }

  function refresh(rows) {
    var until = -1;
    rows.forEach(function (e, i) {
      var hide = i < until;
      e.row.hidden = hide;
      if (e.detail) { e.detail.hidden = hide || !e.open; }
      if (!hide && e.collapsed) { until = Math.max(until, Number(e.r.e)); }
    });
  }

  function detail(r) {
    var box = el("div", "detail");
    var dl = el("dl");
    function add(k, v) { dl.appendChild(el("dt", "", k)); dl.appendChild(el("dd", "", v)); }
    add("status", r.s);
    add("started", r.o === null || r.o === undefined ? "\u2013" : "+" + ms(r.o));
    add("duration", ms(r.ms));
    if (r.ttft !== undefined && r.ttft !== null) { add("first token", "+" + ms(r.ttft)); }
    if (r.model) { add("model", r.model); }
    if (r.cost) { add("cost", r.cost); }
    if (r.tok) {
      add("tokens", num(r.tok[0]) + " in \u00B7 " + num(r.tok[1]) + " out \u00B7 " +
          num(r.tok[2]) + " total");
    }
    if (r.tags && r.tags.length) {  // each tag isolated: an override in one stops at its end
      var tags = el("dd");
      r.tags.forEach(function (tag, k) {
        if (k) { tags.appendChild(document.createTextNode(", ")); }
        tags.appendChild(el("bdi", "", tag));
      });
      dl.appendChild(el("dt", "", "tags"));
      dl.appendChild(tags);
    }
    box.appendChild(dl);
    function section(title, text, cls) {
      if (text === undefined || text === null) { return; }
      box.appendChild(el("h4", "", title));
      box.appendChild(el("pre", cls || "", text));
    }
    if (r.s === "interrupted") { section("stopped by", r.err); }
    else { section("error", r.err, "err"); }
    if (r.tb) { box.appendChild(traceback(r.tb)); }
    if (r.params && r.params.length) {
      box.appendChild(el("h4", "", "parameters"));
      var pl = el("dl", "params");
      r.params.forEach(function (p) {
        pl.appendChild(el("dt", "", p[0]));
        pl.appendChild(el("dd", "", p[1]));
      });
      box.appendChild(pl);
    }
    if (r.msgs) {
      box.appendChild(el("h4", "", "messages"));
      box.appendChild(chat(r.msgs));
    }
    section("inputs", r["in"]);
    if (r.omsgs) {
      box.appendChild(el("h4", "", "answer"));
      box.appendChild(chat(r.omsgs));
    }
    section("outputs", r.out);
    if (r.ev && r.ev.length) {
      box.appendChild(el("h4", "", "events"));
      var ul = el("ul");
      r.ev.forEach(function (e) {
        var li = el("li", "", e[0] === null ? "" : "+" + ms(e[0]) + "  ");
        li.appendChild(el("bdi", "", e[1]));
        ul.appendChild(li);
      });
      box.appendChild(ul);
    }
    section("metadata", r.meta);
    return box;
  }

  function terms() { return search.value.toLowerCase().split(/\s+/).filter(Boolean); }

  function mark(item) {
    if (!item.rows) { return; }
    var q = terms();
    item.rows.forEach(function (e) {
      var hit = q.length > 0 && q.every(function (w) { return rowText(e).indexOf(w) >= 0; });
      e.row.classList.toggle("hit", hit);
    });
  }

  function filter() {
    var q = terms(), type = typeSel.value, errs = errOnly.checked, shown = 0;
    items.forEach(function (item) {
      var t = item.t;
      var ok = q.every(function (w) { return (t.find || "").indexOf(w) >= 0; }) &&
               (!type || t.types.indexOf(type) >= 0) && (!errs || t.errors > 0);
      item.d.hidden = !ok;
      if (ok) { shown += 1; mark(item); }
    });
    count.textContent = shown + " of " + items.length + " traces";
    $("no-match").hidden = shown > 0 || items.length === 0;
  }

  search.addEventListener("input", filter);
  typeSel.addEventListener("change", filter);
  errOnly.addEventListener("change", filter);
  $("expand-all").addEventListener("click", function () {
    items.forEach(function (item) { if (!item.d.hidden) { item.d.open = true; } });
  });
  $("collapse-all").addEventListener("click", function () {
    items.forEach(function (item) { item.d.open = false; });
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "/" && document.activeElement !== search && !typing(ev.target)) {
      ev.preventDefault();
      search.focus();
    }
  });
  function typing(target) {
    return target && (target.tagName === "INPUT" || target.tagName === "SELECT" ||
                      target.tagName === "TEXTAREA" || target.isContentEditable);
  }

  // arrow keys walk the trace lines and the run rows on screen, in page order
  function stops() {
    return Array.from(list.querySelectorAll(
      "details.trace:not([hidden]) > summary, " +
      "details.trace[open]:not([hidden]) > .tree > .row.run:not([hidden])"));
  }
  list.addEventListener("keydown", function (ev) {
    var target = ev.target;
    var isRow = target.classList && target.classList.contains("run");
    var isSummary = target.tagName === "SUMMARY" && target.parentNode.classList.contains("trace");
    if (!isRow && !isSummary) { return; }
    if (isSummary && (ev.key === "ArrowRight" || ev.key === "ArrowLeft")) {
      ev.preventDefault();
      var d = target.parentNode, item = items[Number(d.id.slice(6))];
      d.open = ev.key === "ArrowRight";
      if (d.open && item && !item.tree) { show(item); }  // its rows at once, for the next key
      return;
    }
    var moves = {ArrowDown: 1, ArrowUp: -1, Home: "first", End: "last"};
    if (!(ev.key in moves)) { return; }
    ev.preventDefault();
    var all = stops(), at = all.indexOf(target), move = moves[ev.key];
    var next = move === "first" ? all[0] : move === "last" ? all[all.length - 1] :
      all[Math.max(0, Math.min(all.length - 1, at + move))];
    if (next) { next.focus(); next.scrollIntoView({block: "nearest"}); }
  });
  function openHash() {
    var m = /^#trace-(\d+)$/.exec(location.hash);
    if (m && items[Number(m[1])]) {
      var d = items[Number(m[1])].d;
      d.hidden = false; d.open = true; d.scrollIntoView();
    }
  }
  window.addEventListener("hashchange", openHash);
  // a printed page cannot be clicked: the tracebacks of what is open print opened
  var printOpened = [];
  window.addEventListener("beforeprint", function () {
    Array.from(list.querySelectorAll("details.tb:not([open])")).forEach(function (d) {
      d.open = true;
      printOpened.push(d);
    });
  });
  window.addEventListener("afterprint", function () {
    printOpened.forEach(function (d) { d.open = false; });
    printOpened = [];
  });
  filter();
  openHash();
})();
"""

"""The live viewer's script: the report page's second script, talking to the first through
``window.chainsinkReport`` (``add``, ``update``, ``loader``, ``items``).

It is a constant, so the page's Content-Security-Policy pins it by hash; nothing from a log is
ever formatted into it. It reads traces as JSON from two fixed routes of the page's own origin:
``events`` (server-sent events: lists of changed trace entries) and ``trace?id=`` (one trace
with its rows, when it is opened). An open trace that changed is loaded and drawn again; the
runs the user had expanded (their details shown) or folded stay so, each run known by the
path of run names that leads to it. It puts text on the page with ``textContent`` only, and
builds no URL from log data but the trace id, passed through ``encodeURIComponent``.
"""

LIVE_SCRIPT = r"""
(function () {
  "use strict";
  var R = window.chainsinkReport;
  if (!R) { return; }
  var latest = new Map();  // trace id -> newest version heard of
  var since = 0;
  R.items.forEach(function (item) {
    var v = Number(item.t.ver) || 0;
    latest.set(item.t.id, v);
    if (v > since) { since = v; }
  });

  var status = document.createElement("p");
  status.className = "meta";
  status.id = "live-status";
  var header = document.querySelector("header");
  if (header) { header.appendChild(status); }
  function say(text) { status.textContent = text; }

  function hideEmpty() {  // the page's "No traces to show." was true at load only
    if (!R.items.length) { return; }
    document.querySelectorAll("#traces > p.empty").forEach(function (p) {
      if (p.id !== "no-match") { p.hidden = true; }
    });
  }

  function fetchTrace(t, done, tries) {
    fetch("trace?id=" + encodeURIComponent(String(t.id)),
          {headers: {"Accept": "application/json"}, cache: "no-store",
           credentials: "same-origin", redirect: "error"})
      .then(function (r) {
        if (!r.ok) { throw new Error("the server answered " + r.status); }
        return r.json();
      })
      .then(function (full) {
        var newer = latest.get(t.id) || 0;
        if ((Number(full.ver) || 0) < newer && tries < 3) {  // it changed while in flight
          fetchTrace(t, done, tries + 1);
          return;
        }
        done(full);
      })
      .catch(function (e) {
        var copy = {};
        Object.keys(t).forEach(function (k) { copy[k] = t[k]; });
        copy.rows = [];
        copy.hidden = 0;
        copy.error = "could not load this trace: " + (e && e.message ? e.message : e);
        done(copy);
      });
  }
  // what the user expanded and folded in an open trace, kept while it is drawn again
  var kept = new Map();  // trace id -> {open: Set, folded: Set} of run keys
  function runKeys(rows) {  // a run's key: the names from its root down, same-named counted
    var path = [], seen = new Map();
    return rows.map(function (entry) {
      var d = Math.max(0, Math.min(Number(entry.r.d) || 0, 1000));
      path.length = Math.min(path.length, d);
      var base = (d > 0 && path[d - 1] ? path[d - 1] : "") + "\u0000" + String(entry.r.n);
      var n = (seen.get(base) || 0) + 1;
      seen.set(base, n);
      path[d] = base + "\u0001" + n;
      return path[d];
    });
  }
  function keep(list) {  // before R.add rebuilds the open traces among ``list``
    var open = new Map();
    R.items.forEach(function (item) {
      if (item.d.open && item.rows) { open.set(item.t.id, item); }
    });
    list.forEach(function (t) {
      var item = open.get(t.id);
      if (!item) { return; }
      var state = {open: new Set(), folded: new Set()};
      runKeys(item.rows).forEach(function (key, i) {
        if (item.rows[i].open) { state.open.add(key); }
        if (item.rows[i].collapsed) { state.folded.add(key); }
      });
      if (state.open.size || state.folded.size) { kept.set(t.id, state); }
      else { kept.delete(t.id); }
    });
  }
  function restore(id) {
    var state = kept.get(id);
    if (!state) { return; }
    kept.delete(id);
    var item = R.items.find(function (it) { return it.t.id === id; });
    if (!item || !item.rows) { return; }
    var rows = item.rows;
    runKeys(rows).forEach(function (key, i) {
      if (state.folded.has(key)) { rows[i].fold(true); }
      if (state.open.has(key) && !rows[i].open) { rows[i].row.click(); }  // shows its detail
    });
  }
  R.loader = function (t, done) {
    fetchTrace(t, function (full) { done(full); restore(t.id); }, 0);
  };

  var stream = null;
  function listen() {
    stream = new EventSource("events?since=" + encodeURIComponent(String(since)));
    stream.onopen = function () {
      say("live \u00b7 the trace list and an open trace follow the logs; the summary above " +
          "is as of page load");
    };
    stream.onmessage = function (ev) {
      var list = JSON.parse(ev.data);
      if (!Array.isArray(list) || !list.length) { return; }
      list.forEach(function (t) {
        var v = Number(t.ver) || 0;
        latest.set(t.id, v);
        if (v > since) { since = v; }
      });
      keep(list);
      R.add(list);
      hideEmpty();
    };
    stream.onerror = function () {
      say("connection to chainsink serve lost; retrying\u2026");
    };
  }
  hideEmpty();
  listen();
})();
"""

"""The dashboard's stylesheet and script, served from /dashboard/static/ (no build step, no CDN).

Kept as Python strings rather than package data so any install of the services (editable, wheel,
the compose image) carries them.

The script only ever sets `textContent`, never markup: stats and log lines arrive as JSON over
server-sent events and are shown as text, whatever they hold.
"""

from __future__ import annotations

CSS = """
:root { --fg: #1d2329; --muted: #66707a; --line: #dde2e7; --bad: #b42318; --ok: #067647; --warn: #b54708; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: #f7f8fa; }
header { display: flex; align-items: center; justify-content: space-between; padding: 10px 24px;
  background: #1d2329; }
header .brand { color: #fff; font-weight: 600; text-decoration: none; font-size: 16px; }
main { padding: 16px 24px; max-width: 1280px; }
h1 { font-size: 20px; margin: 8px 0 12px; }
h2 { font-size: 16px; margin: 20px 0 8px; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; }
td.num { font-variant-numeric: tabular-nums; text-align: right; }
.note { color: var(--muted); font-size: 12px; }
.state-failing, .error { color: var(--bad); }
.state-deployed, .state-serving, .state-ready { color: var(--ok); }
.state-booting, .state-draining { color: var(--warn); }
.flash { background: #ecfdf3; border: 1px solid #abefc6; padding: 8px 12px; }
p.error { background: #fef3f2; border: 1px solid #fecdca; padding: 8px 12px; }
form.inline { display: inline; margin: 0; }
button { font: inherit; padding: 3px 10px; border: 1px solid #98a2b3; background: #fff; border-radius: 4px;
  cursor: pointer; }
header button { background: transparent; color: #fff; border-color: #667085; }
.login { max-width: 420px; margin: 60px auto; background: #fff; border: 1px solid var(--line);
  padding: 24px; }
.login input[type=password] { width: 100%; padding: 6px 8px; font: inherit; margin: 8px 0 12px; }
#logs { background: #0c111d; color: #e4e7ec; font: 12px/1.4 ui-monospace, monospace; padding: 8px 12px;
  height: 360px; overflow-y: auto; white-space: pre-wrap; word-break: break-all; }
#logs .stderr { color: #fda29b; }
#logs .access { color: #98a2b3; }
#logs .system, #logs .edge { color: #fec84b; }
code { font: 12px ui-monospace, monospace; }
"""

JS = """
"use strict";
(function () {
  function apply(data) {
    document.querySelectorAll("[data-stat]").forEach(function (el) {
      var table = el.dataset.stat.startsWith("app-") ? data.apps : data.functions;
      var row = table && table[el.dataset.key];
      var name = el.dataset.stat.replace(/^app-/, "");
      if (row && Object.prototype.hasOwnProperty.call(row, name)) {
        el.textContent = row[name];
        if (name === "state") { el.className = "state-" + row[name]; }
      }
    });
    var stamp = document.getElementById("updated");
    if (stamp) { stamp.textContent = "updated " + new Date().toLocaleTimeString(); }
  }

  function follow(box) {
    var source = new EventSource(box.dataset.logs);
    var status = document.getElementById("logs-status");
    source.onmessage = function (message) {
      var line = JSON.parse(message.data);
      var div = document.createElement("div");
      div.className = line.stream;
      div.textContent = line.text;
      var atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
      box.appendChild(div);
      while (box.childNodes.length > 2000) { box.removeChild(box.firstChild); }
      if (atEnd) { box.scrollTop = box.scrollHeight; }
    };
    source.addEventListener("problem", function (message) {
      if (status) { status.textContent = JSON.parse(message.data).text; }
      source.close();
    });
    source.onopen = function () { if (status) { status.textContent = "following"; } };
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-events]");
    if (root) {
      var stats = new EventSource(root.dataset.events);
      stats.addEventListener("stats", function (message) { apply(JSON.parse(message.data)); });
      stats.addEventListener("problem", function () { stats.close(); window.location.reload(); });
    }
    var box = document.getElementById("logs");
    if (box && box.dataset.logs) { follow(box); }
  });
})();
"""

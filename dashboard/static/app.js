// PiNet dashboard: the live parts only. The instance list and an instance's console and state
// are polled from JSON endpoints of the same pages; everything else is plain HTML forms.
"use strict";

(function () {
  var PERIOD = 2000;

  function poll(url, apply) {
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) {
          if (r.status === 401) { window.location.assign("/signin"); return null; }
          return r.json();
        })
        .then(function (data) { if (data) { apply(data); } })
        .catch(function () { /* try again next tick */ })
        .then(function () { window.setTimeout(tick, PERIOD); });
    }
    window.setTimeout(tick, PERIOD);
  }

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text || "—";
    return td;
  }

  function instanceRow(i) {
    var tr = document.createElement("tr");
    tr.dataset.id = i.id;
    var idCell = document.createElement("td");
    var a = document.createElement("a");
    a.href = "/instances/" + encodeURIComponent(i.id);
    a.textContent = i.id;
    idCell.appendChild(a);
    tr.appendChild(idCell);
    tr.appendChild(cell(i.name));
    var stateCell = document.createElement("td");
    var badge = document.createElement("span");
    badge.className = "state " + i.stateClass;
    badge.textContent = i.state;
    stateCell.appendChild(badge);
    tr.appendChild(stateCell);
    [i.type, i.image, i.privateIp, i.publicIp, i.zone, i.node, i.keyName].forEach(function (v) { tr.appendChild(cell(v)); });
    var launched = cell(i.launched);
    if (!i.launched) { launched.textContent = ""; }
    tr.appendChild(launched);
    return tr;
  }

  function liveInstances(table) {
    var body = table.tBodies[0];
    var status = document.getElementById("live-status");
    poll(table.dataset.live, function (data) {
      if (data.error) { if (status) { status.textContent = data.error; } return; }
      var rows = document.createDocumentFragment();
      if (data.instances.length === 0) {
        var tr = document.createElement("tr");
        tr.className = "empty";
        var td = document.createElement("td");
        td.colSpan = 11;
        td.textContent = "No instances yet. ";
        var a = document.createElement("a");
        a.href = "/launch";
        a.textContent = "Launch one";
        td.appendChild(a);
        tr.appendChild(td);
        rows.appendChild(tr);
      }
      data.instances.forEach(function (i) { rows.appendChild(instanceRow(i)); });
      body.replaceChildren(rows);
      if (status) { status.textContent = "Updated " + new Date().toLocaleTimeString(); }
    });
  }

  function liveConsole(pre) {
    var state = document.getElementById("state");
    var when = document.getElementById("console-time");
    var forms = document.querySelectorAll("#actions form[data-action]");
    poll(pre.dataset.source, function (data) {
      if (data.error) { if (when) { when.textContent = data.error; } return; }
      var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      if (pre.textContent !== data.output) {
        pre.textContent = data.output;
        if (atBottom) { pre.scrollTop = pre.scrollHeight; }
      }
      if (when && data.timestamp) { when.textContent = "Read " + data.timestamp + " UTC."; }
      if (state && data.state) {
        state.textContent = data.state;
        state.className = "state " + data.stateClass;
      }
      forms.forEach(function (f) { f.hidden = data.actions.indexOf(f.dataset.action) < 0; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("instances");
    if (table && table.dataset.live) { liveInstances(table); }
    var pre = document.getElementById("console");
    if (pre && pre.dataset.source) { liveConsole(pre); }
  });
})();

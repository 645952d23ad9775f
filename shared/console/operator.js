/* callsteer console, operator pieces: the daily figures as a small chart (GET /api/stats) and a page to try the
 * simulate route (POST /api/rules:simulate). Same key handling as console.js (?code=..., sent as a header); every
 * piece of data goes into the page as text or SVG attributes, never as markup.
 */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var FIGURES = [["answered", "#1d7a46"], ["rejected", "#8a6d00"], ["redirected", "#0b5cad"], ["failed", "#b3261e"]];
  var key = new URLSearchParams(window.location.search).get("code") || "";
  var $ = function (id) { return document.getElementById(id); };

  function node(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) { n.className = cls; }
    if (text !== undefined && text !== null) { n.textContent = String(text); }
    return n;
  }

  function svg(tag, attrs, text) {
    var n = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) { n.textContent = String(text); }
    return n;
  }

  function request(method, path, body) {
    var headers = {"Accept": "application/json"};
    if (key) { headers["x-functions-key"] = key; }
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    return fetch(path, {method: method, headers: headers, cache: "no-store", credentials: "same-origin",
                        body: body === undefined ? undefined : JSON.stringify(body)}).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (data) { return {status: r.status, data: data}; });
    });
  }

  /* ---- daily figures ---------------------------------------------------------------------------------- */

  function totals(day) {
    var t = {offered: 0, answered: 0, rejected: 0, redirected: 0, failed: 0, ringAnswered: 0, ringUnanswered: 0};
    day.rules.forEach(function (r) {
      FIGURES.forEach(function (f) { t[f[0]] += r[f[0]]; });
      t.offered += r.offered;
      t.ringAnswered += r.ringGroups.answered;
      t.ringUnanswered += r.ringGroups.unanswered;
    });
    return t;
  }

  function chart(stats) {
    var box = $("stats-chart");
    box.textContent = "";
    var days = stats.daily, W = 46 * days.length + 40, H = 170, base = 140;
    var max = 1;
    days.forEach(function (d) { max = Math.max(max, totals(d).offered); });
    var root = svg("svg", {viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img",
                           "aria-labelledby": "stats-title"});
    root.appendChild(svg("line", {x1: 30, y1: base, x2: W - 6, y2: base, stroke: "#d6dae1"}));
    root.appendChild(svg("text", {x: 2, y: 14, "font-size": 11, fill: "#5b6475"}, max));
    days.forEach(function (d, i) {
      var t = totals(d), x = 36 + i * 46, y = base;
      FIGURES.forEach(function (f) {
        var h = Math.round((t[f[0]] / max) * 120);
        if (h > 0) {
          y -= h;
          var bar = svg("rect", {x: x, y: y, width: 30, height: h, fill: f[1], "data-figure": f[0]});
          bar.appendChild(svg("title", {}, d.day + ": " + t[f[0]] + " " + f[0]));
          root.appendChild(bar);
        }
      });
      root.appendChild(svg("text", {x: x + 15, y: base - 4 - Math.round((t.offered / max) * 120), "font-size": 11,
                                    "text-anchor": "middle", fill: "#1d2330", "class": "offered"}, t.offered));
      root.appendChild(svg("text", {x: x + 15, y: base + 14, "font-size": 10, "text-anchor": "middle",
                                    fill: "#5b6475"}, d.day.slice(5)));
    });
    box.appendChild(root);
    var legend = node("p", "legend");
    FIGURES.forEach(function (f) {
      var item = node("span", "legend-item " + f[0], f[0]);
      legend.appendChild(item);
    });
    box.appendChild(legend);
  }

  function table(stats) {
    var body = $("stats-rows");
    body.textContent = "";
    stats.daily.slice().reverse().forEach(function (d) {
      d.rules.forEach(function (r) {
        var tr = node("tr");
        [d.day, r.rule, r.offered, r.answered, r.rejected, r.redirected, r.failed, r.ringGroups.answered,
         r.ringGroups.unanswered,
         r.ringGroups.medianAnswerSeconds === null ? "-" : r.ringGroups.medianAnswerSeconds + " s"
        ].forEach(function (v) { tr.appendChild(node("td", null, v)); });
        body.appendChild(tr);
      });
    });
    $("stats-empty").hidden = body.children.length > 0;
  }

  function loadStats() {
    var days = $("stats-days").value || "7";
    return request("GET", "stats?days=" + encodeURIComponent(days)).then(function (r) {
      if (r.status !== 200) { throw new Error("stats answered " + r.status); }
      chart(r.data);
      table(r.data);
      $("stats-status").textContent = r.data.from + " to " + r.data.to + " (UTC days)";
      $("stats").setAttribute("data-ready", "true");
    }).catch(function (err) { $("stats-status").textContent = String(err.message || err); });
  }

  /* ---- simulate ---------------------------------------------------------------------------------------- */

  function simulationBody(form) {
    var body = {from: form.from.value.trim(), to: form.to.value.trim()};
    if (form.callerKind.value) { body.callerKind = form.callerKind.value; }
    if (form.at.value.trim()) { body.at = form.at.value.trim(); }
    var headers = {};
    form.headers.value.split("\n").forEach(function (line) {
      var at = line.indexOf(":");
      if (at > 0) { headers[line.slice(0, at).trim()] = line.slice(at + 1).trim(); }
    });
    if (Object.keys(headers).length) { body.headers = headers; }
    if (form.rules.value.trim()) { body.rules = JSON.parse(form.rules.value); }
    return body;
  }

  function showResult(r) {
    var out = $("sim-result");
    out.textContent = "";
    if (r.status !== 200) {
      var problem = r.data || {};
      out.appendChild(node("p", "sim-error", (problem.field ? problem.field + ": " : "") + (problem.detail || r.status)));
      return;
    }
    var d = r.data, verdict = d.action;
    if (d.reason) { verdict += " (" + d.reason + ")"; }
    if (d.target) { verdict += " to " + d.target; }
    out.appendChild(node("p", "sim-verdict", "Rule " + d.rule + ": " + verdict + " at " + d.at));
    if (d.then) { out.appendChild(node("p", "sim-then", "then " + JSON.stringify(d.then))); }
    var ol = node("ol", "sim-trace");
    d.evaluated.forEach(function (e) {
      var li = node("li", e.matched ? "matched" : "skipped",
                    e.rule + (e.matched ? ": matched" : ": failed " + e.failed.join(", ")));
      ol.appendChild(li);
    });
    out.appendChild(ol);
    if (d.rule === "default") { out.appendChild(node("p", "sim-default", "No rule matched: the default applies.")); }
  }

  $("simulate-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body;
    try { body = simulationBody(ev.target); } catch (err) {
      showResult({status: 400, data: {field: "rules", detail: "not valid JSON"}});
      return;
    }
    request("POST", "./rules:simulate", body)  /* "./": "rules:" alone would read as a URL scheme */.then(showResult).then(function () {
      $("simulate").setAttribute("data-ready", "true");
    });
  });
  $("stats-days").addEventListener("change", loadStats);
  loadStats();
}());

/* callsteer console: the call list, the selected call's diagram, polling, keyboard and shareable links.
 * Reads only the console's read-only data route (console/data), with the console key: the function key of that
 * route alone, which cannot place or end calls. The page asks for it when the route answers 401/403 and keeps it in
 * sessionStorage (this tab only), sends it as a header, and never writes it into a URL; a key given the old way
 * (?code=...) is moved there and taken out of the address bar at once.
 * Every piece of data goes into the page as text (textContent), never as markup.
 */
(function () {
  "use strict";

  var D = window.CallsteerDiagram;
  var FINAL = {transferred: 1, disconnected: 1, failed: 1, rejected: 1, redirected: 1};
  var DEFAULT_LIMIT = 100;
  var MAX_LIMIT = 500;   /* the most the listing returns in one page */
  var POLL_MS = 2000;
  var HEAD_READS = 3;    /* listing requests a poll may make to reach the older pages before it starts again */

  var KEY_STORE = "callsteer.console.key";
  var params = new URLSearchParams(window.location.search);
  /* Calls per page: ?limit=N (1 to 500, as the listing takes it), else 100. */
  var LIST_LIMIT = /^[1-9][0-9]{0,2}$/.test(params.get("limit") || "") ?
    Math.min(MAX_LIMIT, Number(params.get("limit"))) : DEFAULT_LIMIT;
  var key = "";
  try { key = window.sessionStorage.getItem(KEY_STORE) || ""; } catch (e) { key = ""; }

  function remember(value) {
    key = value || "";
    try {
      if (key) { window.sessionStorage.setItem(KEY_STORE, key); } else { window.sessionStorage.removeItem(KEY_STORE); }
    } catch (e) { /* storage off: the key stays in memory for this page */ }
  }

  /* A key in the address bar (?code=) is taken into the tab's storage and removed from the URL and its history entry. */
  if (params.has("code")) {
    remember(params.get("code") || key);
    params.delete("code");
    var rest = params.toString();
    window.history.replaceState(window.history.state, "", window.location.pathname + (rest ? "?" + rest : "") +
                                window.location.hash);
  }
  var state = {
    calls: [],
    head: [],        /* the calls above the older pages, polled: the first page and the calls that came since */
    headNext: null,  /* the first page's `next`, until older pages are loaded */
    paged: false,    /* whether older pages are loaded ("Older calls", the listing's `next`) */
    older: [],       /* the calls of those pages, below the head, read once */
    olderNext: null,
    next: null,
    selected: params.get("call") || "",
    detail: null,
    detailJson: "",
    listJson: "",
    running: null,
    tick: 0,
    error: ""
  };

  var $ = function (id) { return document.getElementById(id); };
  var list = $("call-list"), status = $("status"), stateFilter = $("filter-state"), dirFilter = $("filter-direction");
  stateFilter.value = params.get("state") || "";
  dirFilter.value = params.get("direction") || "";

  function node(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) { n.className = cls; }
    if (text !== undefined && text !== null) { n.textContent = String(text); }
    return n;
  }

  /* The key form: shown when the data route refuses the key (or has none); the key goes to sessionStorage only. */
  var keyForm = $("key-form"), keyInput = $("console-key");
  function askForKey(refused) {
    keyForm.hidden = false;
    $("key-why").textContent = refused ? "The console key was refused: enter it again." :
      "Enter the console key (the function key of console_data; it can read calls, not place or end them).";
    if (document.activeElement !== keyInput) { keyInput.focus(); }
  }
  keyForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    remember(keyInput.value.trim());
    keyInput.value = "";
    keyForm.hidden = true;
    state.listJson = "";
    refresh(true);
  });

  /* GET the console's data route relative to this page (/api/console -> /api/console/data?...). */
  function api(query) {
    var headers = {"Accept": "application/json"};
    if (key) { headers["x-functions-key"] = key; }
    return fetch("console/data?" + query, {headers: headers, cache: "no-store", credentials: "same-origin"})
      .then(function (r) {
        if (r.status === 404) { return null; }
        if (r.status === 401 || r.status === 403) {
          askForKey(!!key);
          throw new Error("the console key is " + (key ? "refused" : "needed"));
        }
        if (!r.ok) { throw new Error("the console's data route answered " + r.status); }
        keyForm.hidden = true;
        return r.json();
      });
  }

  function one(id) { return api("call=" + encodeURIComponent(id)); }

  function callKey(call) { return call.callConnectionId || call.correlationId || call.id; }

  function matches(call, wanted) {
    return !!wanted && (call.callConnectionId === wanted || call.correlationId === wanted || call.id === wanted);
  }

  /* The page's own URL for a call (with the filters and page size, or bare to share): never the key. */
  function link(call, withFilters) {
    var p = new URLSearchParams();
    if (stateFilter.value && withFilters) { p.set("state", stateFilter.value); }
    if (dirFilter.value && withFilters) { p.set("direction", dirFilter.value); }
    if (LIST_LIMIT !== DEFAULT_LIMIT && withFilters) { p.set("limit", String(LIST_LIMIT)); }
    if (call) { p.set("call", callKey(call)); }
    var query = p.toString();
    return window.location.pathname + (query ? "?" + query : "");
  }

  function when(iso) {
    var d = new Date(D.timeOf(iso));
    if (isNaN(d.getTime())) { return "-"; }
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    var time = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    var today = new Date();
    if (d.toDateString() === today.toDateString()) { return time; }
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + time;
  }

  function duration(call) {
    var start = D.timeOf(call.startedAt);
    var end = call.endedAt ? D.timeOf(call.endedAt) : (FINAL[call.state] ? D.timeOf(call.updatedAt) : Date.now());
    var ms = Math.max(0, end - start);
    if (ms < 1000) { return Math.round(ms) + " ms"; }
    if (ms < 60000) { return (ms / 1000).toFixed(1) + " s"; }
    var s = Math.round(ms / 1000);
    return Math.floor(s / 60) + " min " + (s % 60) + " s";
  }

  function decisionText(call) {
    var d = call.decision;
    if (!d) {
      if (call.direction !== "outbound") { return "-"; }
      return call.from || call.to ? "created by the app" : "joined by the app (connect)";
    }
    var extra = d.reason ? " " + d.reason : d.target ? " \u2192 " + D.mask(d.target.replace(/^4:/, "")) : "";
    return d.action + extra + (d.rule ? " \u00b7 rule " + d.rule : "");
  }

  function renderList() {
    var focusedKey = document.activeElement && document.activeElement.getAttribute("data-call");
    list.textContent = "";
    state.calls.forEach(function (call) {
      var item = node("li", "call");
      var a = node("a", "call-row state-" + call.state);
      a.href = link(call, true);
      a.setAttribute("data-call", callKey(call));
      if (matches(call, state.selected)) { a.setAttribute("aria-current", "true"); }
      var first = node("span", "line1");
      first.appendChild(node("span", "badge state " + call.state, call.state));
      first.appendChild(node("span", "dir", call.direction === "outbound" ? "\u2197 outbound" : "\u2199 inbound"));
      first.appendChild(node("span", "started", when(call.startedAt)));
      var second = node("span", "line2");
      second.appendChild(node("span", "parties", D.parties(call)));
      second.appendChild(node("span", "duration", FINAL[call.state] ? duration(call) : duration(call) + " \u2026"));
      var third = node("span", "line3", decisionText(call));
      if (call.error) { third.appendChild(node("span", "badge failed", "error")); }
      a.appendChild(first); a.appendChild(second); a.appendChild(third);
      a.addEventListener("click", function (ev) {
        if (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) { return; }
        ev.preventDefault();
        select(callKey(call), true);
      });
      item.appendChild(a);
      list.appendChild(item);
      if (focusedKey && focusedKey === callKey(call)) { a.focus(); }
    });
    $("empty").hidden = state.calls.length > 0;
  }

  function listQuery(cursor, limit) {
    var q = new URLSearchParams({limit: String(limit || LIST_LIMIT)});
    if (stateFilter.value) { q.set("state", stateFilter.value); }
    if (dirFilter.value) { q.set("direction", dirFilter.value); }
    if (cursor) { q.set("cursor", cursor); }
    return q.toString();
  }

  /* The head, then the older pages the operator asked for (each call once). */
  function showCalls() {
    var ids = {};
    state.head.forEach(function (c) { ids[c.id] = 1; });
    var calls = state.head.concat(state.older.filter(function (c) { return !ids[c.id]; }));
    state.next = state.paged ? state.olderNext : state.headNext;
    var json = JSON.stringify(calls) + "|" + state.next;
    $("more").hidden = !state.next;
    if (json !== state.listJson) {
      state.listJson = json;
      state.calls = calls;
      renderList();
    }
  }

  /* The first page; once older pages are loaded, every call above them instead. A new call pushes the first page's
   * last calls past its end: were only the first page polled, they would be shown neither there nor in the older
   * pages. So the head is read from the top down to the first call of the older pages (one request when no call
   * came since the last poll, two when up to a page came), and paging starts again past HEAD_READS requests. */
  function loadList() {
    if (!state.paged) {
      return api(listQuery()).then(function (body) {
        state.head = (body && body.calls) || [];
        state.headNext = (body && body.next) || null;
        showCalls();
      });
    }
    var below = {}, head = [], limit = Math.min(MAX_LIMIT, Math.max(LIST_LIMIT, state.head.length) + 1);
    state.older.forEach(function (c) { below[c.id] = 1; });
    function read(cursor, left) {
      return api(listQuery(cursor, limit)).then(function (body) {
        var calls = (body && body.calls) || [], next = (body && body.next) || null;
        for (var i = 0; i < calls.length; i++) {
          if (below[calls[i].id]) { return true; }
          head.push(calls[i]);
        }
        if (!next) {  /* the listing ends above the older pages: they are gone (purged, or out of the filter) */
          state.older = [];
          state.olderNext = null;
          return true;
        }
        return left > 1 ? read(next, left - 1) : false;
      });
    }
    return read(null, HEAD_READS).then(function (joined) {
      if (joined) {
        state.head = head;
        showCalls();
        return null;
      }
      restartPaging();
      return loadList();
    });
  }

  function restartPaging() {
    state.paged = false;
    state.older = [];
    state.olderNext = null;
    state.listJson = "";
  }

  function loadOlder() {
    return exclusive(function () {
      if (!state.next) { return Promise.resolve(); }
      return api(listQuery(state.next)).then(function (body) {
        state.paged = true;
        state.older = state.older.concat((body && body.calls) || []);
        state.olderNext = (body && body.next) || null;
        showCalls();
      }).then(function () { state.error = ""; }, function (err) { state.error = "Could not read calls: " + err.message; })
        .then(showStatus);
    });
  }

  /* Find the call the URL names (connection id, correlation id or listing id) and read it whole. */
  function resolve(wanted) {
    var found = state.calls.filter(function (c) { return matches(c, wanted); })[0];
    if (found) { return one(found.id); }
    return one(wanted).then(function (call) {
      if (call) { return call; }
      return api("limit=500").then(function (body) {
        var hit = ((body && body.calls) || []).filter(function (c) { return matches(c, wanted); })[0];
        return hit ? one(hit.id) : null;
      });
    });
  }

  function renderSummary(call) {
    var box = $("summary");
    box.textContent = "";
    var dl = node("dl", "facts");
    function fact(name, value, cls) {
      dl.appendChild(node("dt", null, name));
      dl.appendChild(node("dd", cls || null, value));
    }
    fact("State", call.state, "state " + call.state);
    fact("Direction", call.direction);
    fact("From \u2192 to", D.parties(call));
    fact("Decision", decisionText(call));
    fact("Started", when(call.startedAt));
    fact("Duration", duration(call) + (FINAL[call.state] ? "" : " (in progress)"));
    if (call.error) {
      fact("Error", [call.error.action, call.error.status, call.error.code, call.error.message]
        .filter(function (v) { return v !== null && v !== undefined && v !== ""; }).join(" \u00b7 "), "failed");
    }
    box.appendChild(dl);
    var share = node("p", "share");
    var a = node("a", null, "Link to this call");
    a.href = link(call, false);
    a.id = "share-link";
    share.appendChild(a);
    share.appendChild(node("span", "hint", " (no key in it: whoever opens it is asked for the console key)"));
    box.appendChild(share);
  }

  function renderDetail() {
    var call = state.detail;
    var title = $("detail-title"), diagram = $("diagram"), steps = $("steps"), stepsBox = $("steps-box");
    diagram.textContent = "";
    steps.textContent = "";
    if (!call) {
      $("summary").textContent = "";
      stepsBox.hidden = true;
      title.textContent = state.selected ? "No call " + state.selected : "Select a call";
      return;
    }
    title.textContent = "Call " + callKey(call);
    renderSummary(call);
    var path = D.flowPath(call);
    if (path.length) {
      // The path the call took through its flow, under the facts.
      var flow = node("ol", "flow-path");
      flow.id = "flow-path";
      flow.setAttribute("aria-label", "Flow path");
      path.forEach(function (text) { flow.appendChild(node("li", null, text)); });
      $("summary").appendChild(flow);
    }
    var model = D.build(call);
    var scroll = diagram.scrollLeft;
    diagram.appendChild(D.render(model, ($("detail").clientWidth || 620) - 28));
    diagram.scrollLeft = scroll;
    model.steps.forEach(function (s) {
      steps.appendChild(node("li", s.failed ? "failed" : null, D.describe(s, model.lifelines)));
    });
    stepsBox.hidden = false;
  }

  function loadDetail() {
    if (!state.selected) { return Promise.resolve(); }
    return resolve(state.selected).then(function (call) {
      var json = JSON.stringify(call);
      if (json !== state.detailJson) {
        state.detailJson = json;
        state.detail = call;
        renderDetail();
      }
    });
  }

  function showStatus() {
    if (state.error) {
      status.textContent = state.error;
      status.className = "status error";
      return;
    }
    status.className = "status";
    status.textContent = state.calls.length + " call" + (state.calls.length === 1 ? "" : "s") + " \u00b7 updated " +
      when(new Date().toISOString()) + (state.detail && !FINAL[state.detail.state] ? " \u00b7 following a live call" : "");
  }

  /* One read of the list or the call at a time (polls, "Older calls", filters): one asked for while another runs
   * waits for it, so that an answer for the filters before never lands in the list after. */
  function exclusive(job) {
    if (state.running) {
      return state.running.then(function () { return exclusive(job); });
    }
    state.running = job().then(function () { state.running = null; });
    return state.running;
  }

  function refresh(withList) {
    return exclusive(function () { return refreshNow(withList); });
  }

  function refreshNow(withList) {
    var work = withList ? loadList() : Promise.resolve();
    var needDetail = state.selected && (!state.detail || !matches(state.detail, state.selected) ||
                                        !FINAL[state.detail.state]);
    return work.then(function () { return needDetail ? loadDetail() : null; })
      .then(function () { state.error = ""; }, function (err) { state.error = "Could not read calls: " + err.message; })
      .then(showStatus);
  }

  function select(wanted, push) {
    state.selected = wanted;
    state.detail = null;
    state.detailJson = "";
    var call = state.calls.filter(function (c) { return matches(c, wanted); })[0];
    if (push) { window.history.pushState({call: wanted}, "", call ? link(call, true) : window.location.href); }
    Array.prototype.forEach.call(list.querySelectorAll("a[data-call]"), function (a) {
      if (a.getAttribute("data-call") === wanted) { a.setAttribute("aria-current", "true"); }
      else { a.removeAttribute("aria-current"); }
    });
    $("detail-title").textContent = "Loading call " + wanted + "\u2026";
    return refresh(false).then(function () {
      if (push && window.matchMedia("(max-width: 760px)").matches) { $("detail").focus(); }
    });
  }

  /* Arrow keys (and j/k) move between calls in the list; Enter follows the focused one. */
  list.addEventListener("keydown", function (ev) {
    var rows = Array.prototype.slice.call(list.querySelectorAll("a[data-call]"));
    var at = rows.indexOf(document.activeElement);
    var to = -1;
    if (ev.key === "ArrowDown" || ev.key === "j") { to = Math.min(rows.length - 1, at + 1); }
    else if (ev.key === "ArrowUp" || ev.key === "k") { to = Math.max(0, at - 1); }
    else if (ev.key === "Home") { to = 0; }
    else if (ev.key === "End") { to = rows.length - 1; }
    if (to >= 0 && rows[to]) { ev.preventDefault(); rows[to].focus(); }
  });

  function filtersChanged() {
    window.history.replaceState(null, "", link(state.detail, true));
    exclusive(function () {
      restartPaging();
      return refreshNow(true);
    });
  }
  stateFilter.addEventListener("change", filtersChanged);
  dirFilter.addEventListener("change", filtersChanged);
  $("filters").addEventListener("submit", function (ev) { ev.preventDefault(); });
  $("more").addEventListener("click", function () { loadOlder(); });

  window.addEventListener("popstate", function () {
    var wanted = new URLSearchParams(window.location.search).get("call") || "";
    select(wanted, false);
    renderList();
  });

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { if (state.detail) { renderDetail(); } }, 150);
  });

  function poll() {
    state.tick += 1;
    var p = document.hidden ? Promise.resolve() : refresh(state.tick % 2 === 0);
    p.then(function () { setTimeout(poll, POLL_MS); });
  }

  refresh(true).then(function () {
    if (!state.selected) { renderDetail(); }
    document.body.setAttribute("data-ready", "true");
    setTimeout(poll, POLL_MS);
  });
}());

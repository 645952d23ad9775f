/* callsteer console: a call's timeline as a sequence diagram. No framework, no network: pure model + SVG.
 *
 * CallsteerDiagram.build(call) turns a call of the state API into lifelines and steps (arrows):
 *   - lifelines: the app, ACS, and each participant once, keyed by its raw id ("4:+1425..." and "+1425..." are one
 *     phone): the caller, the callees of a create (each target of a group call), invitees, transfer and redirect
 *     targets, and whoever the events name. An operation's own ids and flags (an invitation id, a connect locator,
 *     hang-up's "everyone") are never lifelines;
 *   - an inbound call starts with the caller calling ACS and ACS handing the app an IncomingCall;
 *   - every action the app sent is an arrow app -> ACS: from `operations` when the call has them, else one
 *     arrow for the decision (answer, reject or redirect) at startedAt; an action that reached a participant
 *     (ring, invite, transfer, cancel an invitation, remove, redirect, reject) is followed by a dashed arrow
 *     ACS -> that participant; an action ACS refused (failed, never accepted) reached nobody and draws none;
 *   - every event that came back is an arrow ACS -> app, in the order the app received it;
 *   actions and events are merged by time, events keeping their received order.
 * CallsteerDiagram.render(model, width) draws it as an SVG element. CallsteerDiagram.parties(call) is the call's
 * "from -> to" in words, for the list. Identifiers are masked everywhere (all but the last four characters), as
 * in the app's logs.
 */
(function (global) {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";

  function mask(value) {
    if (!value) { return "-"; }
    var text = String(value);
    return (text.charAt(0) === "+" ? "+" : "") + "***" + text.slice(-4);
  }

  /* One key per identity: "4:+1425..." and "+1425..." are the same phone. */
  function norm(raw) {
    var text = String(raw || "");
    return text.indexOf("4:") === 0 ? text.slice(2) : text;
  }

  /* Whether a value is a participant's raw id (or the API's display form of one): a phone number, an ACS or Teams
   * user, a Teams app. Anything else an operation carries as its target (an invitation id, a locator, a flag) is not. */
  function isParticipant(raw) {
    return typeof raw === "string" && /^(?:(?:4:)?\+\d{2,20}|8:[a-z-]+:\S+|28:\S+)$/.test(raw);
  }

  /* The app writes a group call's targets as one text, "id1, id2": each is a callee. */
  function targetsOf(value) {
    return String(value || "").split(/,\s*/).filter(isParticipant);
  }

  var LOCATORS = {serverCall: "server call", groupCall: "group call", room: "room"};

  /* A connect's target is its locator, "groupCall:<id>": shown as "group call ***e6f", never as a lifeline. */
  function locatorText(target) {
    var match = /^(serverCall|groupCall|room):(.+)$/.exec(String(target || ""));
    return match ? LOCATORS[match[1]] + " " + mask(match[2]) : "";
  }

  function kindOf(raw) {
    var id = norm(raw);
    if (id.charAt(0) === "+") { return "phone"; }
    if (/^8:(acs|spool):/.test(id)) { return "ACS user"; }
    if (/^8:(orgid|teamsvisitor|gcch|dod|gcch-acs|dod-acs):/.test(id)) { return "Teams user"; }
    if (/^28:/.test(id)) { return "Teams app"; }
    return "participant";
  }

  /* ISO time to milliseconds, keeping the microseconds Python writes. */
  function timeOf(iso) {
    if (!iso) { return NaN; }
    var match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec(String(iso));
    if (!match) { return Date.parse(iso); }
    var base = Date.parse(match[1] + (match[3] || "Z"));
    var fraction = match[2] ? parseFloat("0." + match[2]) * 1000 : 0;
    return base + fraction;
  }

  function formatOffset(ms) {
    if (!isFinite(ms)) { return ""; }
    var sign = ms < 0 ? "-" : "+";
    var abs = Math.abs(ms);
    if (abs < 1000) { return sign + Math.round(abs) + " ms"; }
    if (abs < 60000) { return sign + (abs / 1000).toFixed(1) + " s"; }
    var minutes = Math.floor(abs / 60000);
    return sign + minutes + " min " + Math.round((abs % 60000) / 1000) + " s";
  }

  /* ACS results are {code, subCode, message}; the app's own errors are {status, code (a name), message}. */
  function resultText(info) {
    if (!info) { return ""; }
    var parts = [];
    if (typeof info.code === "number") {
      parts.push(info.code + (info.subCode !== undefined && info.subCode !== null ? "/" + info.subCode : ""));
    } else {
      if (info.status !== undefined && info.status !== null) { parts.push(String(info.status)); }
      if (info.code) { parts.push(String(info.code)); }
    }
    if (!parts.length && info.message) { parts.push(String(info.message)); }
    return parts.join(" ");
  }

  function resultFailed(info) {
    if (!info) { return false; }
    return (typeof info.code === "number" && info.code >= 400) ||
      (typeof info.status === "number" && info.status >= 400);
  }

  var ROLES = {createCall: "callee", addParticipant: "invitee", cancelAddParticipant: "invitee",
               transfer: "transfer target", removeParticipant: "participant", redirect: "redirect target"};

  var EFFECTS = {
    createCall: "rings",
    addParticipant: "invites",
    cancelAddParticipant: "cancels the invitation",
    transfer: "transfers the call to",
    removeParticipant: "removes",
    redirect: "rings (redirected)"
  };

  /* "from -> to" of a call in words: masked numbers, each target of a group call, the locator of a connect. */
  function parties(call) {
    if (!call.from && !call.to) {  // only a connect has neither: it joined a call that others started
      var connect = (call.operations || []).filter(function (op) { return op.action === "connect"; })[0];
      return "connects to " + ((connect && locatorText(connect.target)) || "a call");
    }
    var to = targetsOf(call.to);
    var callees = to.length ? to.map(function (t) { return mask(norm(t)); }).join(", ") : mask(call.to);
    return mask(norm(call.from)) + " \u2192 " + callees;
  }

  function build(call) {
    var lifelines = [
      {key: "app", label: "callsteer", role: "the app"},
      {key: "acs", label: "ACS", role: "Call Automation"}
    ];
    var byKey = {app: lifelines[0], acs: lifelines[1]};
    var start = timeOf(call.startedAt);

    var keyOf = {};  // identity -> opaque key (p1, p2, ...): no identifier goes into the page's markup
    function lifeline(raw, role) {
      if (!isParticipant(raw)) { return null; }
      var id = norm(raw);
      var key = keyOf[id] || (keyOf[id] = "p" + (lifelines.length - 1));
      if (!byKey[key]) {
        byKey[key] = {key: key, label: mask(id), role: role || kindOf(raw), kind: kindOf(raw)};
        lifelines.push(byKey[key]);
      }
      return key;
    }

    function step(fields) {
      fields.offset = formatOffset(fields.ms - start);
      fields.failed = !!fields.failed;
      return fields;
    }

    var inbound = call.direction !== "outbound";
    var caller = inbound ? lifeline(call.from, "caller") : null;
    var preamble = [];
    if (inbound) {
      preamble.push(step({from: caller, to: "acs", kind: "call", label: "calls " + mask(norm(call.to)), ms: start}));
      preamble.push(step({from: "acs", to: "app", kind: "event", label: "IncomingCall", note: "via Event Grid",
                          ms: start}));
    }

    // Actions: groups of [action arrow, effect arrows], each with the time it was sent. Without
    // `operations` (or without one for the decision), the decision stands for the action sent at startedAt.
    var operations = Array.isArray(call.operations) ? call.operations.slice() : [];
    var decision = call.decision || null;
    if (decision && decision.action &&
        !operations.some(function (op) { return op.action === decision.action; })) {
      var err = call.error && (!call.error.action || call.error.action === decision.action) ? call.error : null;
      var context = null;
      (call.events || []).some(function (e) {
        if (e.operationContext && /^(CallConnected|AnswerFailed)$/.test(e.type)) { context = e.operationContext; }
        return !!context;
      });
      operations.unshift({action: decision.action, target: decision.target, operationContext: context,
                          status: err ? "failed" : "succeeded", result: err, createdAt: call.startedAt});
    }
    var invitees = {};  // invitation id -> the invitee's raw id, for the cancels
    operations.forEach(function (op) {
      if (op.action === "addParticipant" && op.invitationId) { invitees[op.invitationId] = op.target; }
    });

    /* Whom an operation is about, as raw ids: never its invitation id, locator or flag. */
    function reachedBy(op) {
      if (op.action === "createCall") { return targetsOf(op.target); }
      if (op.action === "cancelAddParticipant") { return invitees[op.target] ? [invitees[op.target]] : []; }
      if (op.action === "reject") { return caller ? [call.from] : []; }
      return isParticipant(op.target) ? [op.target] : [];
    }

    function detailOf(op, ruled, reason) {
      if (op.action === "reject") { return "reason " + reason; }
      if (op.action === "connect") { return locatorText(op.target) ? "to " + locatorText(op.target) : ""; }
      if (op.action === "hangUp") {
        return op.target === "everyone" ? "for everyone" : op.target === "app" ? "the app only" : "";
      }
      if (op.action === "cancelAddParticipant") { return op.target ? "invitation " + mask(op.target) : ""; }
      var who = reachedBy(op);
      return who.length ? "to " + who.map(function (t) { return mask(norm(t)); }).join(", ") : "";
    }

    var actions = operations.map(function (op, i) {
      var when = timeOf(op.createdAt);
      var status = op.status || "pending";
      var failed = status === "failed" || resultFailed(op.result);
      var ruled = decision && decision.action === op.action;
      var reason = (ruled && decision.reason) || op.reason || "none";
      var group = [step({from: "app", to: "acs", kind: "action", label: op.action,
                         detail: detailOf(op, ruled, reason), rule: ruled ? decision.rule : null,
                         context: op.operationContext || null, result: resultText(op.result),
                         message: op.result && op.result.message, status: status, failed: failed,
                         ms: isFinite(when) ? when : start, order: i})];
      // A failed operation still reached its target when ACS had accepted it and reported the outcome later (an
      // invitation declined, a transfer that failed); one ACS refused outright was never accepted: it reached nobody.
      var refused = failed && !op.acceptedAt && !op.invitationId;
      var effect = op.action === "reject" ? "rejected (" + reason + ")" : EFFECTS[op.action];
      if (effect && !refused) {
        reachedBy(op).forEach(function (raw) {
          var who = op.action === "reject" ? caller : lifeline(raw, ROLES[op.action] || null);
          if (who) {
            group.push(step({from: "acs", to: who, kind: "effect", label: effect, status: status, ms: group[0].ms}));
          }
        });
      }
      if (op.transferee && !refused) { lifeline(op.transferee, "transferee"); }
      return group;
    }).sort(function (a, b) { return (a[0].ms - b[0].ms) || (a[0].order - b[0].order); });

    var events = (call.events || []).slice().sort(function (a, b) { return (a.seq || 0) - (b.seq || 0); })
      .map(function (e) {
        var marks = [];
        var names = [];
        if (Array.isArray(e.participants)) {
          e.participants.forEach(function (p) { marks.push(lifeline(p)); names.push(mask(norm(p))); });
        }
        if (e.participant) { marks.push(lifeline(e.participant)); }
        if (e.transferTarget) { marks.push(lifeline(e.transferTarget, "transfer target")); }
        if (e.transferee) { lifeline(e.transferee, "transferee"); }
        var result = e.resultInformation || null;
        var detail = Array.isArray(e.participants) ? "(" + names.length + ")"
          : e.participant ? mask(norm(e.participant)) : e.transferTarget ? "to " + mask(norm(e.transferTarget)) : "";
        return step({from: "acs", to: "app", kind: "event", label: e.type, detail: detail,
                     note: names.length ? names.join(", ") : null,
                     context: e.operationContext || null, result: resultText(result),
                     message: result && result.message, marks: marks,
                     failed: /Failed$/.test(e.type || "") || resultFailed(result),
                     // receivedAt is on the app's clock, like the actions' createdAt: no skew between them.
                     ms: timeOf(e.receivedAt || e.time), received: Boolean(e.receivedAt)});
      });

    // Merge: actions by time, events in the order received. At the same instant on the app's clock an event
    // goes first (a plan's steps are recorded with the event that caused them); on ACS's clock, the action.
    var steps = preamble.slice();
    var a = 0, v = 0;
    while (a < actions.length || v < events.length) {
      var takeAction = v >= events.length ||
        (a < actions.length && (actions[a][0].ms < events[v].ms ||
                                (actions[a][0].ms === events[v].ms && !events[v].received)));
      if (takeAction) { steps.push.apply(steps, actions[a++]); } else { steps.push(events[v++]); }
    }
    steps.forEach(function (s, i) { s.index = i + 1; });
    return {lifelines: lifelines, steps: steps};
  }

  /* A step in words, for the text timeline and the arrows' tooltips. */
  function describe(step, lifelines) {
    var names = {};
    lifelines.forEach(function (l) { names[l.key] = l.label; });
    var parts = [step.offset, names[step.from] + " \u2192 " + names[step.to] + ":", step.label];
    if (step.detail) { parts.push(step.detail); }
    if (step.rule) { parts.push("(rule " + step.rule + ")"); }
    if (step.context) { parts.push("context " + step.context); }
    if (step.result) { parts.push("result " + step.result); }
    if (step.status && step.status !== "succeeded") { parts.push("[" + step.status + "]"); }
    if (step.note) { parts.push("(" + step.note + ")"); }
    if (step.message) { parts.push("\u2014 " + step.message); }
    if (step.failed) { parts.unshift("FAILED"); }
    return parts.join(" ");
  }

  function el(name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] !== undefined && attrs[k] !== null) { node.setAttribute(k, String(attrs[k])); }
    });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function clip(text, px) {
    var max = Math.max(4, Math.floor(px / 6.6));
    return text.length > max ? text.slice(0, max - 1) + "\u2026" : text;
  }

  function render(model, width) {
    var gutter = 58, head = 52, row = 50, pad = 10;
    var n = model.lifelines.length;
    var lane = Math.max(104, Math.min(210, Math.floor(((width || 600) - gutter - pad) / n)));
    var total = gutter + lane * n + pad;
    var height = head + 16 + row * model.steps.length + 24;
    var x = {};
    model.lifelines.forEach(function (l, i) { x[l.key] = gutter + lane * i + lane / 2; });

    var svg = el("svg", {xmlns: SVG, "class": "seq", width: total, height: height,
                         viewBox: "0 0 " + total + " " + height, role: "img", "aria-labelledby": "seq-title"});
    svg.appendChild(el("title", {id: "seq-title"}, "Sequence diagram: " + model.lifelines.length +
      " lifelines, " + model.steps.length + " steps"));
    var defs = el("defs");
    ["ok", "fail", "effect"].forEach(function (kind) {
      var marker = el("marker", {id: "head-" + kind, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8,
                                 markerHeight: 8, orient: "auto-start-reverse"});
      marker.appendChild(el("path", {d: "M0,0 L10,5 L0,10 z", "class": "head head-" + kind}));
      defs.appendChild(marker);
    });
    svg.appendChild(defs);

    model.steps.forEach(function (s, i) {
      if (s.failed) {
        svg.appendChild(el("rect", {"class": "fail-band", x: 0, y: head + 12 + row * i, width: total, height: row}));
      }
    });
    model.lifelines.forEach(function (l) {
      var g = el("g", {"class": "lifeline lifeline-" + (l.key.charAt(0) === "p" ? "party" : l.key), "data-key": l.key,
                       "data-label": l.label, "data-role": l.role});
      g.appendChild(el("title", {}, l.label + " (" + l.role + (l.kind && l.kind !== l.role ? ", " + l.kind : "") + ")"));
      g.appendChild(el("line", {"class": "life", x1: x[l.key], x2: x[l.key], y1: head, y2: height - 6}));
      g.appendChild(el("rect", {"class": "box", x: x[l.key] - lane / 2 + 6, y: 4, width: lane - 12, height: head - 8,
                                rx: 6}));
      g.appendChild(el("text", {"class": "box-label", x: x[l.key], y: 24, "text-anchor": "middle"},
                       clip(l.label, lane - 16)));
      g.appendChild(el("text", {"class": "box-role", x: x[l.key], y: 39, "text-anchor": "middle"},
                       clip(l.role, lane - 16)));
      svg.appendChild(g);
    });

    model.steps.forEach(function (s, i) {
      var y = head + 12 + row * i + 24;
      var x1 = x[s.from], x2 = x[s.to];
      var classes = ["step", "step-" + s.kind];
      if (s.failed) { classes.push("failed"); }
      if (s.status && s.status !== "succeeded") { classes.push("status-" + s.status); }
      var g = el("g", {"class": classes.join(" "), "data-index": s.index, "data-from": s.from, "data-to": s.to,
                       "data-kind": s.kind, "data-label": s.label, "data-context": s.context || "",
                       "data-result": s.result || "", "data-failed": s.failed ? "true" : "false"});
      g.appendChild(el("title", {}, describe(s, model.lifelines)));
      g.appendChild(el("text", {"class": "offset", x: gutter - 6, y: y + 4, "text-anchor": "end"}, s.offset));
      var dir = x2 >= x1 ? 1 : -1;
      var head_ = s.failed ? "fail" : s.kind === "effect" || s.kind === "call" ? "effect" : "ok";
      g.appendChild(el("line", {"class": "arrow", x1: x1 + dir * 3, y1: y, x2: x2 - dir * 3, y2: y,
                                "marker-end": "url(#head-" + head_ + ")"}));
      // Labels centre on their arrow and may run past its ends, as far as the diagram leaves room.
      var span = Math.max(Math.abs(x2 - x1) - 8, 2 * Math.min((x1 + x2) / 2 - 4, total - (x1 + x2) / 2 - 4));
      var mid = (x1 + x2) / 2;
      var top = (s.failed ? "\u2715 " : "") + s.label + (s.detail ? " " + s.detail : "");
      g.appendChild(el("text", {"class": "label", x: mid, y: y - 6, "text-anchor": "middle"}, clip(top, span)));
      var bottom = [s.context ? "ctx " + s.context : "", s.result ? s.result : "",
                    s.kind === "action" && s.status && s.status !== "succeeded" ? s.status : ""]
        .filter(Boolean).join(" \u00b7 ");
      if (bottom) {
        g.appendChild(el("text", {"class": "meta", x: mid, y: y + 15, "text-anchor": "middle"}, clip(bottom, span)));
      }
      (s.marks || []).forEach(function (k) {
        if (x[k] !== undefined) { g.appendChild(el("circle", {"class": "about", "data-key": k, cx: x[k], cy: y, r: 5})); }
      });
      svg.appendChild(g);
    });
    return svg;
  }

  global.CallsteerDiagram = {build: build, render: render, describe: describe, mask: mask, timeOf: timeOf,
                             formatOffset: formatOffset, parties: parties};
}(window));

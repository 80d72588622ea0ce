// Keeps delivery progress live: one EventSource on /console/events, values set in place.
// Follows one alert when the page has data-follow-alert="ID" on an element (or data-alert="ID" on
// this script's tag), every alert of the dashboard otherwise. Text is only ever set with
// textContent, never as markup: titles and errors come from people and other systems.
(function () {
  "use strict";

  var script = document.currentScript;
  var marked = document.querySelector("[data-follow-alert]");
  var follow = (script && script.getAttribute("data-alert")) ||
    (marked && marked.getAttribute("data-follow-alert")) || "";
  var status = document.querySelector("[data-live-status]");
  var source = null;
  var delay = 5000;

  function say(key) {
    if (!status) {
      return;
    }
    var text = key ? status.getAttribute("data-" + key) || "" : "";
    status.textContent = text;
    status.hidden = !text;
  }

  function byAttribute(name) {
    var found = {};
    document.querySelectorAll("[" + name + "]").forEach(function (el) {
      var key = el.getAttribute(name);
      (found[key] = found[key] || []).push(el);
    });
    return found;
  }

  function setText(root, selector, value) {
    root.querySelectorAll(selector).forEach(function (el) {
      el.textContent = value === null || value === undefined ? "" : String(value);
    });
  }

  function updateChannel(row, ch) {
    Object.keys(ch.counts).forEach(function (state) {
      setText(row, '[data-count="' + state + '"]', ch.counts[state]);
    });
    var x = 0;
    ["sent", "failed", "superseded", "sending", "pending"].forEach(function (state) {
      var width = ch.total ? (ch.counts[state] || 0) * 100 / ch.total : 0;
      row.querySelectorAll('rect[data-seg="' + state + '"]').forEach(function (rect) {
        rect.setAttribute("x", x.toFixed(3));
        rect.setAttribute("width", width.toFixed(3));
      });
      x += width;
    });
    row.querySelectorAll('[role="progressbar"]').forEach(function (bar) {
      bar.setAttribute("aria-valuemax", String(ch.total));
      bar.setAttribute("aria-valuenow", String(ch.done));
    });
    setText(row, '[data-field="percent"]', ch.percent_text);
    setText(row, '[data-field="total"]', ch.total);
    setText(row, '[data-field="p50"]', ch.p50);
    setText(row, '[data-field="p95"]', ch.p95);
    setText(row, '[data-field="retry"]', ch.next_retry);
    setText(row, '[data-field="error"]', ch.last_error);
  }

  function update(data) {
    var rows = byAttribute("data-progress");
    var states = byAttribute("data-alert-state");
    var unseen = false;
    data.alerts.forEach(function (alert) {
      if (!states[alert.id]) {
        unseen = true;
        return;
      }
      states[alert.id].forEach(function (el) {
        el.textContent = alert.state_label;
      });
      alert.channels.forEach(function (ch) {
        (rows[alert.id + ":" + ch.channel] || []).forEach(function (row) {
          updateChannel(row, ch);
        });
      });
    });
    if (data.pending_approvals !== null && data.pending_approvals !== undefined) {
      setText(document, '[data-live="pending"]', data.pending_approvals);
    }
    say(unseen && !follow ? "new" : "");
  }

  function connect() {
    source = new EventSource("/console/events" + (follow ? "?alert=" + encodeURIComponent(follow) : ""));
    source.addEventListener("progress", function (event) {
      delay = 5000;
      update(JSON.parse(event.data));
    });
    source.addEventListener("error", function () {
      say("lost");
      if (source.readyState === EventSource.CLOSED) {
        // refused (503, an ended session): the browser gives up, so try again later ourselves
        source.close();
        window.setTimeout(connect, delay);
        delay = Math.min(delay * 2, 60000);
      }
    });
  }

  if (window.EventSource && (follow || document.querySelector("[data-progress]") || status)) {
    connect();
  }
})();

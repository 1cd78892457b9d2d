// gym-call-agent web console: live updates for the server-rendered pages. Everything works
// without it except the live parts (transcript, statuses, campaign progress, file reading).
"use strict";

function text(element, value) { if (element) { element.textContent = value; } }
function label(status) { return String(status || "").replace(/_/g, " "); }

// A campaign's CSV file is read into the form's text area (the form posts text, not multipart).
function setupFileInputs() {
  document.querySelectorAll("input[type=file][data-fills]").forEach(function (input) {
    input.addEventListener("change", function () {
      var target = document.getElementById(input.dataset.fills);
      var file = input.files && input.files[0];
      if (!target || !file) { return; }
      if (file.size > 256 * 1024) { alert("The file is larger than 256 KiB."); input.value = ""; return; }
      file.text().then(function (content) { target.value = content; });
    });
  });
}

var LINE_KINDS = { agent_said: ["agent", "Agent"], callee_said: ["callee", "Gym"] };
var STATUS_KINDS = ["queued", "dialing", "ringing", "in_progress", "retry_scheduled", "canceled", "failed", "ended"];

// The call page: the transcript grows from the call's events; the result panel is fetched when
// the result is out.
function setupCallPage() {
  var transcript = document.querySelector("#transcript[data-events]");
  if (!transcript || !window.EventSource) { return; }
  var status = document.getElementById("call-status");
  var live = document.getElementById("live-state");
  var source = new EventSource(transcript.dataset.events);
  text(live, "Following the call live.");
  source.addEventListener("call", function (message) {
    var event = JSON.parse(message.data);
    var line = LINE_KINDS[event.kind];
    if (line) {
      var item = document.createElement("li");
      item.className = line[0];
      var who = document.createElement("span");
      who.className = "who";
      who.textContent = line[1];
      item.appendChild(who);
      item.appendChild(document.createTextNode(" " + event.detail));
      transcript.appendChild(item);
      transcript.scrollTop = transcript.scrollHeight;
    } else if (STATUS_KINDS.indexOf(event.kind) >= 0) {
      text(status, label(event.kind === "ended" ? "ended (" + event.detail + ")" : event.kind));
      if (event.kind === "ended" || event.kind === "failed" || event.kind === "canceled") {
        text(live, "The call ended; waiting for its result.");
        fetchPanel(source, 30);
      }
    } else if (event.kind === "field") {
      text(live, "Field: " + event.detail);
    }
  });
  source.addEventListener("result", function () { fetchPanel(source, 30); });
  source.addEventListener("closing", function () { source.close(); text(live, "The gateway is restarting: reload the page in a moment."); });
}

var panelLoading = false;
function fetchPanel(source, triesLeft) {
  var section = document.querySelector("#result[data-panel]");
  if (!section || panelLoading) { return; }
  panelLoading = true;
  fetch(section.dataset.panel, { credentials: "same-origin" }).then(function (response) {
    panelLoading = false;
    if (response.status === 200) {
      return response.text().then(function (html) {
        section.outerHTML = html;
        var full = document.getElementById("final-transcript");
        var transcript = document.getElementById("transcript");
        if (full && transcript && full.content.children.length > transcript.children.length) {
          transcript.replaceChildren(full.content.cloneNode(true));
        }
        text(document.getElementById("live-state"), "The call is over.");
        setupRecording();
        source.close();
      });
    }
    if (triesLeft > 0) {
      setTimeout(function () { fetchPanel(source, triesLeft - 1); }, 1000);
    } else {
      text(document.getElementById("result-waiting"), "This call has no result (it ended before a conversation).");
    }
  }, function () {
    panelLoading = false;
    if (triesLeft > 0) { setTimeout(function () { fetchPanel(source, triesLeft - 1); }, 2000); }
  });
}

// The recording is written when the call ends: a player that finds none yet tries again a few times.
function setupRecording() {
  var audio = document.getElementById("recording");
  if (!audio || audio.dataset.watched) { return; }
  audio.dataset.watched = "1";
  var tries = 0;
  var base = audio.getAttribute("src");
  audio.addEventListener("error", function () {
    tries += 1;
    if (tries <= 10) {
      setTimeout(function () { audio.src = base + "?try=" + tries; audio.load(); }, 1500);
    } else {
      text(document.getElementById("recording-note"), "No recording is available for this call.");
    }
  });
}

// The call list: statuses change live; a new call shows a reload link.
function setupCallList() {
  var table = document.querySelector("#calls[data-events]");
  if (!table || !window.EventSource) { return; }
  var source = new EventSource(table.dataset.events);
  source.addEventListener("call", function (message) {
    var event = JSON.parse(message.data);
    var row = table.querySelector('tr[data-call-id="' + CSS.escape(event.call_id) + '"]');
    if (row) {
      text(row.querySelector(".call-status"), label(event.kind));
    } else if (event.kind === "queued") {
      var notice = document.getElementById("new-calls");
      if (notice) { notice.hidden = false; }
    }
  });
  source.addEventListener("closing", function () { source.close(); });
}

// A campaign's page: progress, counts and row statuses every two seconds until every call is done.
function setupCampaign() {
  var section = document.querySelector("#campaign[data-progress]");
  if (!section) { return; }
  function poll() {
    fetch(section.dataset.progress, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (progress) {
      var bar = document.getElementById("campaign-progress");
      bar.max = progress.total;
      bar.value = progress.done;
      text(document.getElementById("progress-text"),
        progress.done + " of " + progress.total + " done" + (progress.done === progress.total ? " (finished)" : ""));
      var counts = document.getElementById("counts");
      counts.textContent = "";
      Object.keys(progress.counts).forEach(function (status) {
        var item = document.createElement("li");
        item.textContent = label(status) + ": " + progress.counts[status];
        counts.appendChild(item);
      });
      progress.rows.forEach(function (row) {
        var cell = section.querySelector('tr[data-row="' + row.row + '"] .row-status');
        text(cell, label(row.status));
      });
      if (progress.done < progress.total) { setTimeout(poll, 2000); }
    }).catch(function () { setTimeout(poll, 5000); });
  }
  poll();
}

document.addEventListener("DOMContentLoaded", function () {
  setupFileInputs();
  setupCallPage();
  setupRecording();
  setupCallList();
  setupCampaign();
});

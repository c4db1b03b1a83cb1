/* The queue page: replace the rows whenever the server says the queue changed (server-sent events). */
(function () {
  "use strict";
  var rows = document.getElementById("queue-rows");
  var count = document.getElementById("queue-count");
  var status = document.getElementById("live-status");
  if (!rows || !window.EventSource) { return; }

  function cell(text) { var td = document.createElement("td"); td.textContent = text; return td; }

  function render(items) {
    var known = {};
    Array.prototype.forEach.call(rows.querySelectorAll("tr[data-ticket]"), function (tr) { known[tr.dataset.ticket] = true; });
    rows.textContent = "";
    if (!items.length) {
      var empty = document.createElement("tr"); empty.className = "empty";
      var td = cell("Nobody is waiting. New handoffs appear here at once."); td.colSpan = 7;
      empty.appendChild(td); rows.appendChild(empty);
    }
    items.forEach(function (item) {
      var tr = document.createElement("tr");
      tr.dataset.ticket = item.ticket_id;
      if (!known[item.ticket_id]) { tr.className = "new"; }
      var prio = cell(""); var span = document.createElement("span"); span.className = "prio"; span.textContent = item.priority; prio.appendChild(span);
      var who = cell(""); var link = document.createElement("a"); link.href = "/tickets/" + item.ticket_id; link.textContent = item.customer; who.appendChild(link);
      if (item.order_number) { who.appendChild(document.createElement("br")); var small = document.createElement("small"); small.textContent = item.order_number; who.appendChild(small); }
      var summary = cell(item.summary); summary.className = "summary";
      [prio, who, cell(item.reason.replace(/_/g, " ")), cell(Math.floor(item.waiting_s / 60) + " min"), cell(item.channel),
       cell(item.assigned_to || "nobody yet"), summary].forEach(function (td) { tr.appendChild(td); });
      rows.appendChild(tr);
    });
    count.textContent = items.length;
  }

  var source = new EventSource("/api/queue/stream");
  source.addEventListener("queue", function (event) {
    render(JSON.parse(event.data));
    status.textContent = "Live: updated " + new Date().toLocaleTimeString() + ".";
  });
  source.onerror = function () { status.textContent = "Reconnecting to the live queue…"; };
}());

/* The live queue, on the queue page (a table) and in the workspace's left pane (a list): redrawn from
   the server's snapshots (server-sent events: /api/queue/stream?show=... on the queue page; on the
   workspace, the ticket's stream, which ticket.js passes on as "careline:queue" events). The words (channel,
   reason, waiting time) come from the server; the DOM is built with textContent only. */
(function () {
  "use strict";
  var rows = document.getElementById("queue-rows");
  var list = document.getElementById("queue-list");
  var count = document.getElementById("queue-count");
  var phoneCount = document.getElementById("to-queue-count");
  var status = document.getElementById("live-status");
  var holder = rows || list;
  if (!holder || !window.EventSource) { return; }
  var show = (rows ? rows.closest("table").dataset.show : list.dataset.show) || "all";
  var current = list ? list.dataset.current : "";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function link(item) {
    var a = el("a");
    a.href = "/tickets/" + encodeURIComponent(item.ticket_id) + "?show=" + encodeURIComponent(show);
    return a;
  }

  function cell(label, className, text) {  // data-label: what the cell holds, shown when a row is a card (phones)
    var td = el("td", className, text);
    td.dataset.label = label;
    return td;
  }

  function tableRow(item) {
    var tr = el("tr");
    var prio = cell("Priority", "q-prio"); prio.appendChild(el("span", "prio", item.priority));
    var who = cell("Customer", "q-customer"); var a = link(item); a.textContent = item.customer; who.appendChild(a);
    if (item.detail) { who.appendChild(el("br")); who.appendChild(el("small", "q-detail", item.detail)); }
    [prio, who, cell("Why", "", item.reason_title), cell("Waiting", "", item.waiting), cell("Channel", "", item.channel_name),
     cell("With", "", item.assigned_to || "Nobody yet"), cell("Summary", "summary", item.summary)].forEach(function (td) { tr.appendChild(td); });
    return tr;
  }

  function listItem(item) {
    var li = el("li");
    var a = link(item);
    var top = el("span", "q-top");
    top.appendChild(el("span", "q-who", item.customer));
    top.appendChild(el("span", "q-wait", item.waiting));
    a.appendChild(top);
    if (item.detail) { a.appendChild(el("span", "q-detail", item.detail)); }
    a.appendChild(el("span", "q-why", item.reason_title));
    a.appendChild(el("span", "q-meta", item.channel_name + " · " + (item.assigned_to || "Nobody yet")));
    if (String(item.ticket_id) === current) { li.className = "current"; a.setAttribute("aria-current", "page"); }
    li.appendChild(a);
    return li;
  }

  function render(items) {
    var known = {};
    Array.prototype.forEach.call(holder.querySelectorAll("[data-ticket]"), function (node) { known[node.dataset.ticket] = true; });
    holder.textContent = "";
    if (!items.length) {
      var empty = el(rows ? "tr" : "li", "empty");
      if (rows) { var td = el("td", "", holder.dataset.empty); td.colSpan = 7; empty.appendChild(td); }
      else { empty.textContent = holder.dataset.empty; }
      holder.appendChild(empty);
    }
    items.forEach(function (item) {
      var node = rows ? tableRow(item) : listItem(item);
      node.dataset.ticket = item.ticket_id;
      if (!known[item.ticket_id]) { node.classList.add("new"); }
      holder.appendChild(node);
    });
    if (count) { count.textContent = items.length; }
    if (phoneCount) { phoneCount.textContent = items.length; }
  }

  var slowMs = 0;  // the desk refused this tab a live stream (too many per session): fetched this often instead

  function update(items) {
    render(items);
    if (status) {
      var at = new Date().toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
      status.textContent = slowMs ? "Updated " + at + ". Too many desk tabs are live: this one refreshes every " +
        slowMs / 1000 + " s." : "Live: updated " + at + ".";
    }
  }
  function reconnecting() { if (status && !slowMs) { status.textContent = "Reconnecting to the live queue…"; } }

  if (list) {  // the workspace: ticket.js's stream brings the queue's snapshots (one connection per tab)
    document.addEventListener("careline:queue", function (event) { update(event.detail); });
    document.addEventListener("careline:offline", reconnecting);
    document.addEventListener("careline:slow", function (event) { slowMs = event.detail; });
    return;
  }
  var source = new EventSource("/api/queue/stream?show=" + encodeURIComponent(show));
  source.addEventListener("queue", function (event) { update(JSON.parse(event.data)); });
  source.onerror = function () {
    if (source.readyState !== EventSource.CLOSED) { reconnecting(); return; }
    slowMs = 5000;  // refused (e.g. 429: too many live tabs of this session): poll instead
    function poll() {
      fetch("/api/queue?show=" + encodeURIComponent(show), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (answer) { return answer.ok ? answer.json() : null; })
        .then(function (items) { if (items) { update(items); } })
        .catch(function () { /* the next round tries again */ });
    }
    poll();
    setInterval(poll, slowMs);
  };
}());

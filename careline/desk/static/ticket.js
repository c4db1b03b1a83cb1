/* The ticket workspace: the live transcript (server-sent events from /api/tickets/<id>/stream), the
   unread marker, the reply box (Reply / Internal note, sent with fetch), "typing" pokes and saved
   replies ("/" opens the list, Alt+1..9 insert one). Everything shown is built with textContent. */
(function () {
  "use strict";
  var workspace = document.getElementById("workspace");
  if (!workspace) { return; }
  var ticketId = workspace.dataset.ticket;
  var csrf = workspace.dataset.csrf;
  var me = workspace.dataset.me;
  var firstStatus = workspace.dataset.status;
  var firstAssigned = workspace.dataset.assigned;
  var scroller = document.getElementById("transcript-scroll");
  var list = document.getElementById("transcript");
  var unreadButton = document.getElementById("unread");
  var notes = document.getElementById("notes");
  var composer = document.getElementById("composer");
  var box = document.getElementById("reply-text");
  var label = document.getElementById("composer-label");
  var sendButton = document.getElementById("send");
  var statusLine = document.getElementById("composer-status");
  var menu = document.getElementById("macro-menu");
  var hint = document.getElementById("composer-hint");
  var opener = document.getElementById("macro-open");
  var ACTIVE = { open: true, assigned: true };
  var NEAR_BOTTOM_PX = 48;
  var TYPING_EVERY_MS = 2000;
  var TYPING_IDLE_MS = 6000;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  /* --- times: <time datetime> in the agent's own time zone ------------------------------------ */
  function sameDay(a, b) { return a.toDateString() === b.toDateString(); }
  function localize(root) {
    Array.prototype.forEach.call(root.querySelectorAll("time[datetime]"), function (node) {
      var when = new Date(node.getAttribute("datetime"));
      if (isNaN(when.getTime())) { return; }
      var withDate = node.dataset.format === "datetime" || !sameDay(when, new Date());
      node.textContent = when.toLocaleString([], withDate
        ? { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" }
        : { hour: "numeric", minute: "2-digit" });
      node.title = when.toLocaleString();
    });
  }
  function timeNode(iso, clock) {
    var node = el("time", "", clock);
    node.setAttribute("datetime", iso);
    return node;
  }

  /* --- the transcript ----------------------------------------------------------------------- */
  var unread = 0;
  var ownPending = false;

  function atBottom() { return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= NEAR_BOTTOM_PX; }
  function toBottom() { scroller.scrollTop = scroller.scrollHeight; }
  function clearUnread() {
    unread = 0;
    unreadButton.hidden = true;
    var divider = list.querySelector(".unread-divider");
    if (divider) { divider.parentNode.removeChild(divider); }
  }
  function showUnread() {
    unreadButton.textContent = (unread === 1 ? "1 new message" : unread + " new messages") + " ↓";
    unreadButton.hidden = false;
  }

  function lineNode(line) {
    var li = el("li", "line from-" + line.role);
    li.dataset.key = line.key;
    if (line.role === "system") {
      li.appendChild(el("span", "sys-text", line.text));
      if (line.iso) { li.appendChild(document.createTextNode(" ")); li.appendChild(timeNode(line.iso, line.clock)); }
    } else {
      var meta = el("div", "meta");
      meta.appendChild(el("span", "who", line.who));
      if (line.iso) { meta.appendChild(document.createTextNode(" ")); meta.appendChild(timeNode(line.iso, line.clock)); }
      li.appendChild(meta);
      li.appendChild(el("div", "text", line.text));
      if (line.buttons && line.buttons.length) {
        var chips = el("ul", "chips");
        chips.setAttribute("aria-label", "Buttons offered");
        line.buttons.forEach(function (title) { chips.appendChild(el("li", "", title)); });
        li.appendChild(chips);
      }
    }
    localize(li);
    return li;
  }

  function renderLines(lines) {
    var shown = Array.prototype.map.call(list.querySelectorAll("li.line"), function (node) { return node.dataset.key; });
    var extends_ = shown.length <= lines.length && shown.every(function (key, i) { return lines[i].key === key; });
    var wasAtBottom = atBottom();
    var own = ownPending;
    if (!extends_) {  // not only new lines (e.g. the saved copy became the live one): draw all, keep the place
      var fromBottom = scroller.scrollHeight - scroller.scrollTop;
      list.textContent = "";
      lines.forEach(function (line) { list.appendChild(lineNode(line)); });
      unread = 0;
      unreadButton.hidden = true;
      if (wasAtBottom || own) { toBottom(); } else { scroller.scrollTop = scroller.scrollHeight - fromBottom; }
      ownPending = false;
      return;
    }
    var fresh = lines.slice(shown.length);
    if (!fresh.length) { return; }
    ownPending = false;
    if (wasAtBottom || own) {
      fresh.forEach(function (line) { list.appendChild(lineNode(line)); });
      clearUnread();
      toBottom();
      return;
    }
    if (!list.querySelector(".unread-divider")) {  // the agent is reading older messages: leave them there
      var divider = el("li", "unread-divider", "New messages");
      divider.setAttribute("role", "separator");
      list.appendChild(divider);
    }
    fresh.forEach(function (line) { list.appendChild(lineNode(line)); });
    unread += fresh.length;
    showUnread();
  }

  function renderNotes(items) {
    notes.textContent = "";
    if (!items.length) { notes.appendChild(el("li", "empty", notes.dataset.empty)); return; }
    items.forEach(function (note) {
      var li = el("li");
      var meta = el("span", "meta");
      meta.appendChild(el("span", "who", note.agent));
      if (note.iso) { meta.appendChild(timeNode(note.iso, note.clock)); }
      li.appendChild(meta);
      li.appendChild(el("span", "text", note.text));
      localize(li);
      notes.appendChild(li);
    });
  }

  function renderTicket(ticket) {
    var badge = document.getElementById("ticket-status");
    var withText = document.getElementById("ticket-with");
    badge.textContent = ticket.status;
    badge.className = "status status-" + ticket.status;
    withText.textContent = ticket.assigned_to ? "with " + ticket.assigned_to : "nobody has it yet";
    var take = document.getElementById("take-form");
    if (take) { take.hidden = ticket.assigned_to === me; }
    var takenByOther = ticket.assigned_to && ticket.assigned_to !== me && ticket.assigned_to !== firstAssigned;
    var finishedElsewhere = ACTIVE[firstStatus] && !ACTIVE[ticket.status] && !finishing;
    document.getElementById("changed").hidden = !(takenByOther || finishedElsewhere);
  }

  function apply(snapshot) {
    renderLines(snapshot.lines || []);
    renderNotes(snapshot.notes || []);
    renderTicket(snapshot.ticket);
    document.getElementById("saved-copy").hidden = !snapshot.saved_copy;
  }

  function refresh() {
    return fetch("/api/tickets/" + encodeURIComponent(ticketId), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (data) { if (data) { apply(data); } })
      .catch(function () { /* the stream or the next refresh tries again */ });
  }

  localize(document);
  toBottom();
  scroller.addEventListener("scroll", function () { if (unread && atBottom()) { clearUnread(); } });
  unreadButton.addEventListener("click", function () { toBottom(); clearUnread(); box.focus(); });

  if (window.EventSource) {  // one connection per tab: the ticket's stream brings the queue's snapshots too
    var show = document.getElementById("queue-list").dataset.show;
    var source = new EventSource("/api/tickets/" + encodeURIComponent(ticketId) + "/stream?show=" + encodeURIComponent(show));
    source.addEventListener("ticket", function (event) { apply(JSON.parse(event.data)); });
    source.addEventListener("queue", function (event) {
      document.dispatchEvent(new CustomEvent("careline:queue", { detail: JSON.parse(event.data) }));
    });
    source.onerror = function () {
      document.dispatchEvent(new CustomEvent("careline:offline"));
      if (source.readyState === EventSource.CLOSED) { slowly(show); }  // refused, e.g. 429: too many live tabs
    };
  } else {
    setInterval(refresh, 2000);
  }

  /* Without a live stream (the desk refuses more than a few per session: one per tab), the ticket and
     the queue are fetched every SLOW_MS instead; queue.js says so under the queue. */
  function slowly(show) {
    var SLOW_MS = 5000;
    document.dispatchEvent(new CustomEvent("careline:slow", { detail: SLOW_MS }));
    function again() {
      refresh();
      fetch("/api/queue?show=" + encodeURIComponent(show), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (answer) { return answer.ok ? answer.json() : null; })
        .then(function (items) { if (items) { document.dispatchEvent(new CustomEvent("careline:queue", { detail: items })); } })
        .catch(function () { /* the next round tries again */ });
    }
    again();
    setInterval(again, SLOW_MS);
  }

  var finishing = false;
  Array.prototype.forEach.call(document.querySelectorAll(".conv-actions form"), function (form) {
    form.addEventListener("submit", function () { finishing = true; });
  });

  /* --- the reply box: Reply or Internal note -------------------------------------------------- */
  var mode = composer.dataset.mode;
  var tabs = composer.querySelectorAll(".mode-tab");
  if (tabs.length > 1) { Array.prototype.forEach.call(tabs, function (tab) { tab.hidden = false; }); }

  function setStatus(kind, text) {
    statusLine.className = "composer-status" + (kind ? " is-" + kind : "");
    statusLine.textContent = text;
  }

  function setMode(next) {
    if (next === mode) { return; }
    if (mode === "reply") { stopTyping(); }
    mode = next;
    composer.dataset.mode = next;
    composer.classList.toggle("mode-note", next === "note");
    composer.classList.toggle("mode-reply", next === "reply");
    composer.setAttribute("action", composer.dataset.base + "/" + next);
    Array.prototype.forEach.call(tabs, function (tab) { tab.setAttribute("aria-pressed", String(tab.dataset.mode === next)); });
    label.textContent = label.dataset[next];
    sendButton.textContent = sendButton.dataset[next];
    hint.textContent = hint.dataset[next];
    if (opener) { opener.hidden = next !== "reply"; }
    closeMenu();
    setStatus("", "");
    box.focus();
  }
  Array.prototype.forEach.call(tabs, function (tab) {
    tab.addEventListener("click", function () { setMode(tab.dataset.mode); });
  });

  function post(path, body) {
    return fetch(composer.dataset.base + "/" + path, {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf }
    });
  }

  var sending = false;
  function send() {
    var text = box.value.trim();
    if (sending) { return; }
    if (!text) { setStatus("err", mode === "note" ? "Write the note first." : "Write the reply first."); box.focus(); return; }
    sending = true;
    sendButton.disabled = true;
    var sentMode = mode;
    if (sentMode === "reply") { stopTyping(); }
    setStatus("", sentMode === "note" ? "Adding the note…" : "Sending…");
    post(sentMode, { text: text })
      .then(function (answer) {
        return answer.json().catch(function () { return {}; }).then(function (body) { return { ok: answer.ok, body: body }; });
      })
      .then(function (result) {
        if (result.ok) {
          if (box.value.trim() === text) { box.value = ""; }
          setStatus("ok", result.body.message || "Done.");
          if (sentMode === "reply") { ownPending = true; }
          refresh();
        } else {
          setStatus("err", (result.body && result.body.detail) || "Not sent. Your text is still in the box.");
        }
      })
      .catch(function () { setStatus("err", "Not sent: the desk could not be reached. Your text is still in the box."); })
      .then(function () { sending = false; sendButton.disabled = false; box.focus(); });
  }
  composer.addEventListener("submit", function (event) { event.preventDefault(); send(); });

  /* --- "the agent is typing" for the customer's widget (at most every 2 s; stopped on send or blur) */
  var typingSentAt = 0;
  var typingOn = false;
  var idleTimer = null;
  function poke(flag) { post("typing", { typing: flag }).catch(function () { /* a courtesy only */ }); }
  function stopTyping() {
    clearTimeout(idleTimer);
    if (typingOn) { typingOn = false; typingSentAt = 0; poke(false); }
  }
  function typed() {
    if (mode !== "reply") { return; }
    if (!box.value.trim()) { stopTyping(); return; }
    var now = Date.now();
    if (!typingOn || now - typingSentAt >= TYPING_EVERY_MS) { typingOn = true; typingSentAt = now; poke(true); }
    clearTimeout(idleTimer);
    idleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }
  box.addEventListener("blur", function () { setTimeout(function () { if (document.activeElement !== box) { stopTyping(); } }, 200); });

  /* --- saved replies: "/" at the start of the box, arrows + Enter; Alt+1..9 ------------------------ */
  var options = menu ? Array.prototype.slice.call(menu.querySelectorAll("li.macro")) : [];
  var none = menu ? menu.querySelector(".macro-none") : null;
  var activeOption = null;

  function usable(option) { return option.getAttribute("aria-disabled") !== "true"; }
  function visible() { return options.filter(function (option) { return !option.hidden; }); }
  function highlight(option) {
    options.forEach(function (o) { o.setAttribute("aria-selected", "false"); });
    activeOption = option;
    if (option) {
      option.setAttribute("aria-selected", "true");
      box.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      box.removeAttribute("aria-activedescendant");
    }
  }
  function closeMenu() {
    if (!menu || menu.hidden) { return; }
    menu.hidden = true;
    box.setAttribute("aria-expanded", "false");
    highlight(null);
  }
  function openMenu(query) {
    if (!menu || mode !== "reply") { return; }
    var words = query.toLowerCase();
    options.forEach(function (option) {
      option.hidden = words !== "" && option.dataset.name.toLowerCase().indexOf(words) === -1 &&
        (option.dataset.text || "").toLowerCase().indexOf(words) === -1;
    });
    none.hidden = visible().length > 0;
    menu.hidden = false;
    box.setAttribute("aria-expanded", "true");
    if (!activeOption || activeOption.hidden) { highlight(visible().filter(usable)[0] || null); }
  }
  function move(step) {
    var choices = visible().filter(usable);
    if (!choices.length) { return; }
    var at = choices.indexOf(activeOption);
    highlight(choices[(at + step + choices.length) % choices.length]);
  }
  function insert(option) {
    if (!usable(option)) { setStatus("err", option.querySelector(".macro-why").textContent); return; }
    box.value = option.dataset.text;
    closeMenu();
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
    setStatus("", "Saved reply “" + option.dataset.name + "” inserted: check it, then send.");
    typed();
  }
  function slashQuery() {
    var value = box.value;
    return value.charAt(0) === "/" && value.indexOf("\n") === -1 ? value.slice(1) : null;
  }

  box.addEventListener("input", function () {
    var query = slashQuery();
    if (query !== null && options.length) { openMenu(query); } else { closeMenu(); }
    typed();
  });
  box.addEventListener("keydown", function (event) {
    if (event.isComposing) { return; }
    if (menu && !menu.hidden) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") { event.preventDefault(); move(event.key === "ArrowDown" ? 1 : -1); return; }
      if (event.key === "Enter" || event.key === "Tab") {
        if (activeOption) { event.preventDefault(); insert(activeOption); return; }
        if (event.key === "Enter") { event.preventDefault(); return; }
      }
      if (event.key === "Escape") { event.preventDefault(); closeMenu(); return; }
    }
    if (event.altKey && /^Digit[1-9]$/.test(event.code) && mode === "reply") {
      var wanted = options.filter(function (option) { return option.dataset.shortcut === event.code.slice(5); })[0];
      if (wanted) { event.preventDefault(); insert(wanted); }
      return;
    }
    if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      send();
    }
  });
  options.forEach(function (option) {
    option.addEventListener("mousedown", function (event) { event.preventDefault(); });
    option.addEventListener("click", function () { insert(option); });
  });
  if (opener) {
    opener.addEventListener("click", function () {
      if (menu.hidden) {
        if (!box.value) { box.value = "/"; }
        openMenu(slashQuery() || "");
      } else {
        closeMenu();
      }
      box.focus();
    });
  }
  document.addEventListener("click", function (event) {
    if (menu && !menu.hidden && !composer.contains(event.target)) { closeMenu(); }
  });
}());

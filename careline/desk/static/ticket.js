/* The ticket workspace: the live transcript (server-sent events from /api/tickets/<id>/stream), the
   unread marker, the reply box (Reply / Internal note, sent with fetch; each mode's draft kept per
   ticket in this tab's sessionStorage until sent; a counter near the limit, longer text refused with
   the reason), "typing" pokes, saved replies ("/" opens the list, Alt+1..9 insert one where the
   cursor is, undoable) and the close confirmation. Everything shown is built with textContent. */
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
  var counter = document.getElementById("composer-count");
  var tooLong = document.getElementById("composer-too-long");
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

  /* --- drafts: each mode's unsent text, per ticket, for this tab (cleared when sent) ----------- */
  var DRAFTS = "careline:desk:draft:";  // static/session.js clears them all on sign-out
  var drafts = null;
  try { drafts = window.sessionStorage; drafts.getItem(DRAFTS); } catch (e) { drafts = null; }
  function draftKey(which) { return DRAFTS + ticketId + ":" + which; }
  function readDraft(which) {
    try { return (drafts && drafts.getItem(draftKey(which))) || ""; } catch (e) { return ""; }
  }
  function keepDraft(which, text) {
    if (!drafts) { return; }
    try {
      if (text.trim()) { drafts.setItem(draftKey(which), text); } else { drafts.removeItem(draftKey(which)); }
    } catch (e) { /* storage full or refused: the text is still in the box */ }
  }

  /* --- the reply box: Reply or Internal note -------------------------------------------------- */
  var mode = composer.dataset.mode;
  var tabs = composer.querySelectorAll(".mode-tab");
  var modes = composer.querySelector(".modes");
  if (modes) { modes.hidden = false; }

  function setStatus(kind, text) {
    statusLine.className = "composer-status" + (kind ? " is-" + kind : "");
    statusLine.textContent = text;
  }

  function setMode(next, quiet) {
    if (next === mode) { return; }
    if (mode === "reply") { stopTyping(); }
    keepDraft(mode, box.value);
    mode = next;
    keepDraft("mode", next === "note" ? "note" : "");
    composer.dataset.mode = next;
    composer.classList.toggle("mode-note", next === "note");
    composer.classList.toggle("mode-reply", next === "reply");
    composer.setAttribute("action", composer.dataset.base + "/" + next);
    Array.prototype.forEach.call(tabs, function (tab) { tab.setAttribute("aria-pressed", String(tab.dataset.mode === next)); });
    label.textContent = label.dataset[next];
    sendButton.textContent = sendButton.dataset[next];
    hint.textContent = hint.dataset[next];
    if (opener) { opener.hidden = next !== "reply"; }
    box.value = readDraft(next);  // each mode has its own draft: a note never turns into a reply
    closeMenu();
    showLength();
    setStatus("", "");
    if (!quiet) { box.focus(); }
  }
  Array.prototype.forEach.call(tabs, function (tab) {
    tab.addEventListener("click", function () { setMode(tab.dataset.mode); });
  });

  /* --- the length: a counter near the limit; longer text is refused with the reason, never cut ---- */
  var MAX_CHARS = parseInt(box.dataset.max, 10) || 2000;
  var COUNT_FROM = Math.floor(MAX_CHARS * 0.8);
  function charCount(text) { return Array.from(text).length; }  // as the server counts: code points
  function showLength() {
    var size = charCount(box.value.trim());
    var over = size > MAX_CHARS;
    counter.hidden = size < COUNT_FROM;
    counter.textContent = size + " / " + MAX_CHARS;
    counter.classList.toggle("is-over", over);
    tooLong.hidden = !over;
    tooLong.textContent = over ? "Too long to send: " + size + " characters, the limit is " + MAX_CHARS +
      ". Please shorten it or send it in parts." : "";
    if (over) { box.setAttribute("aria-invalid", "true"); } else { box.removeAttribute("aria-invalid"); }
    return over;
  }

  function post(path, body) {
    return fetch(composer.dataset.base + "/" + path, {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf }
    });
  }

  /* One reply or note is on its way at a time. It leaves the box as it goes, so what the agent types
     meanwhile is the next one; Send pressed meanwhile is kept, and the box as it was then goes right after
     it, in order (changed since, it waits for Send again). A text that was not sent goes back into its box,
     before what was typed since, and what was pressed after it waits. */
  var sending = false;
  var leaving = false;
  window.addEventListener("pagehide", function () { leaving = true; });
  window.addEventListener("pageshow", function () { leaving = false; });  // back from the page cache
  var queued = null;  // {mode, text}: Send pressed while the last one was on its way
  function send() {
    if (sending) {
      if (!box.value.trim()) { return; }  // pressed twice for the one on its way
      queued = { mode: mode, text: box.value };
      setStatus("", (mode === "note" ? "Adding the note…" : "Sending…") + " The next one goes right after it.");
      return;
    }
    var text = box.value.trim();
    if (!text) { setStatus("err", mode === "note" ? "Write the note first." : "Write the reply first."); box.focus(); return; }
    if (showLength()) { setStatus("", ""); box.focus(); return; }
    sending = true;
    sendButton.setAttribute("aria-busy", "true");
    var sentMode = mode;
    if (sentMode === "reply") { stopTyping(); }
    box.value = "";
    showLength();
    keepDraft(sentMode, "");
    keepDraft(sentMode + ":sending", text);  // should the page be left before the answer (see below)
    setStatus("", sentMode === "note" ? "Adding the note…" : "Sending…");
    var unknown = false;  // cut off by leaving the page: whether it went is not known here
    function notSent(why) {
      queued = null;  // what was pressed after it must not overtake it
      putBack(sentMode, text);
      setStatus("err", why + (sentMode === mode ? "" : " It is back in the " + sentMode + " box."));
    }
    post(sentMode, { text: text })
      .then(function (answer) {
        return answer.json().catch(function () { return {}; }).then(function (body) { return { ok: answer.ok, body: body }; });
      })
      .then(function (result) {
        if (result.ok) {
          setStatus("ok", result.body.message || "Done.");
          if (sentMode === "reply") { ownPending = true; }
          refresh();
        } else {
          notSent((result.body && result.body.detail) || "Not sent. Your text is still in the box.");
        }
      })
      .catch(function () {
        if (leaving) { unknown = true; return; }  // the page is going: the next one puts it back
        notSent("The desk did not answer, so it may not have been sent: check the transcript before sending it " +
          "again. Your text is back in the box.");
      })
      .then(function () {
        sending = false;
        if (!unknown) { keepDraft(sentMode + ":sending", ""); }
        sendButton.removeAttribute("aria-busy");
        var at = document.activeElement;
        if (!at || at === document.body || composer.contains(at)) { box.focus(); }  // not out of another field
        var next = queued;
        queued = null;
        if (next === null) { return; }
        if (next.mode === mode && next.text === box.value) { send(); return; }
        setStatus("err", statusLine.textContent + (next.mode === mode  // typed on after Send, or switched boxes
          ? " Your next " + next.mode + " changed after you pressed Send: it waits in the box, send it when it is ready."
          : " Your next " + next.mode + " was not " + (next.mode === "note" ? "added" : "sent") + ": it is still in the " +
            next.mode + " box."));
      });
  }
  function putBack(which, text) {
    var now = which === mode ? box.value : readDraft(which);
    var back = now.trim() ? text + "\n\n" + now : text;
    if (which === mode) { box.value = back; showLength(); }
    keepDraft(which, back);
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

  /* --- saved replies: "/" (at the start or after a space) opens the list, arrows + Enter; Alt+1..9.
     A saved reply goes in where the cursor is (replacing only the "/words" typed, or the selection),
     as typing would: Ctrl+Z takes it out again. ------------------------------------------------- */
  var options = menu ? Array.prototype.slice.call(menu.querySelectorAll("li.macro")) : [];
  var none = menu ? menu.querySelector(".macro-none") : null;
  var activeOption = null;
  var menuRange = null;  // the part of the box a chosen reply replaces: {start, end}
  var inserting = false;

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
    menuRange = null;
    if (!menu || menu.hidden) { return; }
    menu.hidden = true;
    box.setAttribute("aria-expanded", "false");
    highlight(null);
  }
  function matches(query) {
    var words = query.toLowerCase();
    return options.filter(function (option) {
      return words === "" || option.dataset.name.toLowerCase().indexOf(words) !== -1 ||
        (option.dataset.text || "").toLowerCase().indexOf(words) !== -1;
    });
  }
  function openMenu(query, range) {
    if (!menu || mode !== "reply") { return; }
    var found = matches(query);
    options.forEach(function (option) { option.hidden = found.indexOf(option) === -1; });
    none.hidden = found.length > 0;
    menuRange = range;
    menu.hidden = false;
    box.setAttribute("aria-expanded", "true");
    if (!activeOption || activeOption.hidden) { highlight(found.filter(usable)[0] || null); }
  }
  function move(step) {
    var choices = visible().filter(usable);
    if (!choices.length) { return; }
    var at = choices.indexOf(activeOption);
    highlight(choices[(at + step + choices.length) % choices.length]);
  }
  function selection() { return { start: box.selectionStart, end: box.selectionEnd }; }

  /* Put `text` in place of box.value[start:end] as typing would (undoable; an input event follows),
     with a space either side where it would touch a word. */
  function putText(text, start, end) {
    var before = box.value.slice(0, start);
    var after = box.value.slice(end);
    if (before && !/\s$/.test(before)) { text = " " + text; }
    if (after && !/^\s/.test(after)) { text += " "; }
    box.focus();
    box.setSelectionRange(start, end);
    inserting = true;
    var done = false;
    try { done = document.execCommand("insertText", false, text); } catch (e) { done = false; }
    if (!done) {  // no editing commands here: the same, without the undo step
      box.setRangeText(text, start, end, "end");
      box.dispatchEvent(new Event("input", { bubbles: true }));
    }
    inserting = false;
  }
  function insert(option, range) {
    if (!usable(option)) { setStatus("err", option.querySelector(".macro-why").textContent); return; }
    var where = range || menuRange || selection();
    closeMenu();
    putText(option.dataset.text, where.start, where.end);
    setStatus("", "Saved reply “" + option.dataset.name + "” inserted: check it, then send.");
  }
  /* The "/words" just before the cursor: a "/" at the start or after a space, then no line break. */
  function slashQuery() {
    if (box.selectionStart !== box.selectionEnd) { return null; }
    var before = box.value.slice(0, box.selectionStart);
    var at = before.lastIndexOf("/");
    if (at < 0 || (at > 0 && !/\s/.test(before.charAt(at - 1)))) { return null; }
    var query = before.slice(at + 1);
    if (/[\n\r]/.test(query) || /^\s/.test(query) || query.length > 40) { return null; }
    return { start: at, end: box.selectionStart, query: query };
  }

  box.addEventListener("input", function () {
    keepDraft(mode, box.value);
    showLength();
    if (!inserting) {
      var slash = options.length ? slashQuery() : null;
      // after other words, a "/" that matches no saved reply is only a slash: the list stays shut
      if (slash && (slash.start === 0 || matches(slash.query).length)) { openMenu(slash.query, slash); } else { closeMenu(); }
    }
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
      if (wanted) { event.preventDefault(); insert(wanted, selection()); }
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
    opener.addEventListener("mousedown", function (event) { event.preventDefault(); });  // keep the cursor where it is
    opener.addEventListener("click", function () {
      if (menu.hidden) { openMenu("", selection()); } else { closeMenu(); }
      box.focus();
    });
  }
  document.addEventListener("click", function (event) {
    if (menu && !menu.hidden && !composer.contains(event.target)) { closeMenu(); }
  });

  /* --- the draft of this ticket, back where it was left ---------------------------------------- */
  box.value = readDraft(mode);
  if (readDraft("mode") === "note" && mode === "reply" && tabs.length > 1) { setMode("note", true); }
  showLength();
  /* a reply or note that was on its way when this page was left: whether it went is unknown */
  ["reply", "note"].forEach(function (which) {
    var left = readDraft(which + ":sending");
    if (!left.trim()) { return; }
    keepDraft(which + ":sending", "");
    putBack(which, left.trim());
    setStatus("err", "A " + which + " on its way when the page was left may not have " +
      (which === "note" ? "been added" : "gone") + ": check the " + (which === "note" ? "notes" : "transcript") +
      " before sending it again. It is back in the " + which + " box.");
  });

  /* --- "Close conversation": a second step, "Confirm close" (it tells the customer) ---------------- */
  var closing = document.getElementById("close-confirm");
  if (closing) {
    var cancel = closing.querySelector(".close-cancel");
    cancel.hidden = false;
    cancel.addEventListener("click", function () { closing.open = false; closing.querySelector("summary").focus(); });
    closing.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && closing.open) { closing.open = false; closing.querySelector("summary").focus(); }
    });
    document.addEventListener("click", function (event) {
      if (closing.open && !closing.contains(event.target)) { closing.open = false; }
    });
  }
}());

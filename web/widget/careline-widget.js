/*
 * Careline chat widget: talks to Rasa's socket.io channel (channels/webchat.py, protocol in its docstring).
 * Needs window.io (vendor/socket.io.min.js) and window.CARELINE = {socketUrl, socketPath, maxChars}.
 *
 * - The server issues the session token; it lives in localStorage so a reload keeps the conversation,
 *   and the server sends the history back. A page that finds a token connects at once (panel closed),
 *   so replies that come while the customer browses the shop show as an unread badge on the launcher.
 * - Who is talking: bot messages carry a "Bot" tag, an agent's messages their name and initials,
 *   system lines ("Ana joined the chat") are centred; screen readers hear who said each message.
 * - `conversation_state` says whether a person has (or will take) the conversation: then no bot typing
 *   animation, a header state ("Waiting for the team · about 5 min", "Ana Rivera is here", "Our team is
 *   offline · back ..."), and out of hours a small form for an email address if we have none.
 *   `agent_typing` shows the typing indicator only while an agent really types.
 * - `seen` tells the server the newest message the customer has had on screen (panel open, page visible),
 *   so replies they never saw can go by email.
 * - Messages typed while the connection is down wait in `pending`, marked "Not sent yet", and are sent
 *   once the history of the reconnected session is on screen (sending before would let the history wipe
 *   them from view); "Sending…" until the server acknowledges them (socket.io ack: it has handled them).
 *   A message sent just before the connection dropped and missing from the history afterwards is never
 *   sent again by itself (the server may still be handling it): it says so and offers "Send again".
 *   While the connection is down the header says so instead of who is answering.
 * - The log stays at its newest line when anything changes its size (the header's state, the email form,
 *   the status line, typing, a growing message box) as long as the customer was there; a customer who
 *   scrolled up to read is never moved: new messages then show a "New messages" button instead.
 * - Order numbers (CL-123) and tracking numbers never break across lines.
 * Everything is built with DOM calls (no innerHTML), so nothing a message contains can run as code.
 */
(function () {
  "use strict";

  var TOKEN_KEY = "careline.session";
  var SEEN_KEY = "careline.seen";                 /* localStorage: `at` of the newest message seen */
  var OPEN_KEY = "careline.open";                 /* sessionStorage: the panel was open on this tab */
  var TYPING_TIMEOUT_MS = 20000;                  /* the bot's typing dots never stay longer */
  var AGENT_TYPING_TIMEOUT_MS = 8000;             /* the desk renews "typing" about every 2 s */
  var HISTORY_TIMEOUT_MS = 5000;                  /* confirmed but no history: send what waits anyway */
  var SEEN_DEBOUNCE_MS = 400;
  var MAX_LINES = 5;                              /* the message box grows up to this, then scrolls */
  var STICK_PX = 48;                              /* this close to the newest line counts as there */
  var config = window.CARELINE || {};
  var MAX_CHARS = config.maxChars || 1000;
  var COUNTER_FROM = Math.floor(MAX_CHARS * 0.8);
  var GREETING = "Hi! I'm Careline, the Harbor & Pine assistant. Ask me about an order, a return, a refund or a charge.";
  var URL_PATTERN = /(https?:\/\/[^\s<>"')\]]+[^\s<>"')\].,;:!?])/g;
  var ORDER_PATTERN = /\b(CL-\d+)\b/i;          /* an order number: kept on one line */
  var MARK_OFFLINE = "Not sent yet – will send when the connection is back";
  var MARK_SENDING = "Sending…";
  var MARK_UNSURE = "Not confirmed yet – waiting for the connection";
  var MARK_UNKNOWN = "This message may not have been sent.";
  /* The address the bot will keep (careline/shared/patterns.py EMAIL_WHOLE). */
  var EMAIL_PATTERN = /^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}$/;

  var socket = null;
  var ready = false;          /* the session's history is on screen: messages may go */
  var pending = [];           /* typed, not sent yet: {payload, shown, bubble, mark, unknown} */
  var inFlight = [];          /* sent, not acknowledged by the server yet */
  var connection = "";        /* the header's words while the connection is down, else "" */
  var stuck = true;           /* the log shows its newest line: keep it there */
  var rebuilding = false;     /* the history is being put on screen */
  var pinnedAt = 0;           /* the log's scrollTop where the widget last put (or found) the newest line */
  var historyTimer = null;
  var typingTimer = null;
  var typingMode = null;      /* null, "bot" or "agent" */
  var seenTimer = null;
  var newestAt = 0;           /* `at` of the newest message on screen */
  var seenSent = 0;
  var unread = 0;
  var lastSpeaker = null;
  var emailSent = false;      /* an address went since the latest conversation_state */
  var state = { waiting: false, team_open: true, eta_minutes: null, back: null, agent: null, initials: null,
                email_known: false };
  var stateRevision = null;   /* the `revision` of that state: an older one arriving late is dropped */
  var ui = {};

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; }
      else if (key === "className") { node.className = attrs[key]; }
      else if (key === "hidden") { node.hidden = attrs[key]; }
      else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  function storage(kind) {
    try { return window[kind]; } catch (e) { return null; }
  }

  function remember(key, value, kind) {
    var store = storage(kind || "localStorage");
    if (!store) { return; }
    try { if (value === null) { store.removeItem(key); } else { store.setItem(key, value); } } catch (e) { /* private mode */ }
  }

  function recall(key, kind) {
    var store = storage(kind || "localStorage");
    try { return store ? store.getItem(key) : null; } catch (e) { return null; }
  }

  /* Characters as the server counts them (code points, not UTF-16 units). */
  function charCount(text) { return Array.from(text).length; }

  function initialsOf(name) {
    var parts = String(name || "").trim().split(/\s+/).filter(Boolean);
    if (!parts.length) { return ""; }
    return (parts[0].charAt(0) + (parts.length > 1 ? parts[parts.length - 1].charAt(0) : "")).toUpperCase();
  }

  function isHttps(url) {
    try { return new URL(url).protocol === "https:"; } catch (e) { return false; }
  }

  function link(url, text, title) {
    var attrs = { href: url, target: "_blank", rel: "noopener noreferrer", text: text };
    if (title) { attrs.title = title; }
    return el("a", attrs);
  }

  /* Plain text with its order numbers in spans that never break (white-space: nowrap). */
  function orderNumbersKept(fragment, text) {
    text.split(ORDER_PATTERN).forEach(function (part, index) {
      if (index % 2 === 1) { fragment.appendChild(el("span", { className: "cl-nowrap", text: part })); }
      else if (part) { fragment.appendChild(document.createTextNode(part)); }
    });
  }

  /* Plain text with its web addresses turned into links. */
  function addressesLinked(fragment, text) {
    String(text || "").split(URL_PATTERN).forEach(function (part, index) {
      if (index % 2 === 1) { fragment.appendChild(link(part, part)); }
      else if (part) { orderNumbersKept(fragment, part); }
    });
  }

  /* Text with the server's `links` ([{text, url}]: exact substrings, https only) and its addresses as links. */
  function richText(text, links) {
    var fragment = document.createDocumentFragment();
    var usable = (Array.isArray(links) ? links : []).filter(function (item) {
      return item && typeof item.text === "string" && item.text && typeof item.url === "string" && isHttps(item.url);
    });
    var rest = String(text || "");
    while (rest) {
      var best = null;
      usable.forEach(function (item) {
        var at = rest.indexOf(item.text);
        if (at >= 0 && (!best || at < best.at || (at === best.at && item.text.length > best.item.text.length))) {
          best = { at: at, item: item };
        }
      });
      if (!best) { addressesLinked(fragment, rest); break; }
      addressesLinked(fragment, rest.slice(0, best.at));
      var tracking = link(best.item.url, best.item.text, "Track the parcel (opens the carrier's page)");
      tracking.className = "cl-nowrap";
      fragment.appendChild(tracking);
      rest = rest.slice(best.at + best.item.text.length);
    }
    return fragment;
  }

  /* ---- the log's scroll position ---- */

  function fromBottom() { return ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight; }

  /* To the newest line, and stay there. */
  function scrollDown() {
    ui.log.scrollTop = ui.log.scrollHeight;
    pinnedAt = ui.log.scrollTop;
    stuck = true;
    ui.jump.hidden = true;
  }

  /* The customer moved up from the newest line and the scroll event saying so has not come yet (it
   * comes with the next frame): an answer or a confirmation in between must not pull them back down. */
  function movedUp() {
    return ui.log.scrollTop < pinnedAt - 1 && fromBottom() > STICK_PX;
  }

  /* After anything that may change the log's size or content: at the newest line if the customer was. */
  function follow() {
    if (!stuck || rebuilding) { return; }
    if (movedUp()) { stuck = false; return; }
    ui.log.scrollTop = ui.log.scrollHeight;
    pinnedAt = ui.log.scrollTop;
  }

  /* The customer scrolled (or the log did): are they at the newest line? */
  function onLogScroll() {
    if (ui.panel.hidden || rebuilding) { return; }
    stuck = fromBottom() <= STICK_PX;
    if (stuck) { pinnedAt = ui.log.scrollTop; }
    if (stuck && !ui.jump.hidden) { ui.jump.hidden = true; markSeen(); }
  }

  /* A message arrived: show it, or tell a customer who reads older ones that it is there. */
  function showNewest(mine) {
    if (rebuilding) { return; }
    if (mine) { scrollDown(); return; }
    follow();
    if (!stuck && !ui.panel.hidden) { ui.jump.hidden = false; }
  }

  function clearQuickReplies() {
    Array.prototype.forEach.call(ui.log.querySelectorAll(".cl-quick"), function (group) { group.remove(); });
  }

  function roleOf(message) {
    if (message.system) { return "system"; }
    return message.agent ? "agent" : "bot";
  }

  function avatar(name, initials, extra) {
    return el("span", { className: "cl-avatar" + (extra ? " " + extra : ""), "aria-hidden": "true",
      text: initials || initialsOf(name) });
  }

  function timeTitle(at) {
    return at ? new Date(at * 1000).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : null;
  }

  /* One message (or system line) at the end of the log; `role`: customer, bot, agent or system. */
  function addEntry(role, message) {
    var at = typeof message.at === "number" ? message.at : 0;
    if (at > newestAt) { newestAt = at; }
    if (role === "system") {
      var line = el("p", { className: "cl-system", text: message.text || "" });
      ui.log.appendChild(line);
      lastSpeaker = null;
      showNewest(false);
      return line;
    }
    var speaker = role === "agent" ? "agent:" + message.agent : role;
    var first = speaker !== lastSpeaker;
    lastSpeaker = speaker;
    var who = role === "customer" ? "You" : (role === "agent" ? message.agent + " (Careline team)" : "Careline assistant (bot)");
    var bubble = el("div", { className: "cl-msg cl-" + role + (message.error ? " cl-notice" : "") });
    var title = timeTitle(at);
    if (title) { bubble.title = title; }
    bubble.appendChild(el("span", { className: "cl-sr", text: who + ": " }));
    if (first && role === "bot") {
      bubble.appendChild(el("span", { className: "cl-meta", "aria-hidden": "true" }, [
        document.createTextNode("Careline"), el("span", { className: "cl-tag", text: "Bot" })]));
    } else if (first && role === "agent") {
      bubble.appendChild(el("span", { className: "cl-meta", "aria-hidden": "true", text: message.agent }));
    }
    if (message.text) { bubble.appendChild(richText(message.text, message.links)); }
    var image = message.image || (message.attachment && message.attachment.type === "image" &&
      message.attachment.payload && message.attachment.payload.src);
    if (image && /^https?:\/\//.test(image)) {
      var picture = el("img", { src: image, alt: "Image from Careline", loading: "lazy" });
      picture.addEventListener("load", follow);
      bubble.appendChild(picture);
    }
    if (role === "agent") {
      ui.log.appendChild(el("div", { className: "cl-entry" + (first ? "" : " cl-cont") }, [
        avatar(message.agent, message.initials), bubble]));
    } else {
      ui.log.appendChild(bubble);
    }
    var replies = message.quick_replies || message.buttons || [];
    if (replies.length && role !== "customer") {
      clearQuickReplies();
      var group = el("div", { className: "cl-quick", role: "group", "aria-label": "Suggested replies" });
      replies.forEach(function (reply) {
        var button = el("button", { type: "button", text: reply.title });
        button.addEventListener("click", function () {
          send(reply.payload || reply.title, reply.title);
          ui.input.focus();
        });
        group.appendChild(button);
      });
      ui.log.appendChild(group);
      lastSpeaker = null;
    }
    showNewest(role === "customer");
    return bubble;
  }

  /* The typing indicator: the bot's dots after a message, or an agent who really types. */
  function setTyping(mode, who) {
    clearTimeout(typingTimer);
    typingMode = mode;
    ui.typing.hidden = !mode;
    ui.typingAvatar.textContent = "";
    ui.typingAvatar.hidden = mode !== "agent";
    ui.typingLabel.hidden = mode !== "agent";
    if (mode === "agent") {
      ui.typingAvatar.textContent = who.initials || initialsOf(who.agent);
      ui.typingLabel.textContent = who.agent + " is typing";
      ui.typingSr.textContent = "";
    } else {
      ui.typingLabel.textContent = "";
      ui.typingSr.textContent = "Careline is typing";
    }
    if (mode) {
      typingTimer = setTimeout(function () { setTyping(null); },
        mode === "agent" ? AGENT_TYPING_TIMEOUT_MS : TYPING_TIMEOUT_MS);
    }
    follow();
  }

  /* The connection: `text` for the status line under the header, `header` for the header's state line
   * (instead of who answers, which the widget cannot know while it is cut off); "" when connected. */
  function setStatus(text, header) {
    ui.status.textContent = text;
    ui.panel.classList.toggle("cl-offline", Boolean(text));
    connection = header || "";
    showState();
    showMarks();
  }

  /* The header's line on who will answer, from the latest conversation_state (or the connection's state
   * while it is down). Waiting while the team is at work: the expected wait, or when the reply would run
   * past closing time (no estimate then, `back` set) when the team is back if nobody gets to it today. */
  function showState() {
    var line = "";
    var kind = "";
    if (connection) {
      line = connection;
      kind = "connection";
    } else if (state.waiting && state.agent) {
      line = state.agent + " is here";
      kind = "agent";
    } else if (state.waiting && state.team_open) {
      line = "Waiting for the team";
      if (typeof state.eta_minutes === "number") { line += " · about " + state.eta_minutes + " min"; }
      else if (state.back) { line += " · if not today, back " + state.back; }
      kind = "waiting";
    } else if (state.waiting) {
      line = "Our team is offline" + (state.back ? " · back " + state.back : "");
      kind = "offline";
    }
    ui.stateText.textContent = line;
    ui.stateAvatar.hidden = kind !== "agent";
    ui.stateAvatar.textContent = kind === "agent" ? (state.initials || initialsOf(state.agent)) : "";
    ui.stateLine.className = "cl-state" + (kind ? " cl-state-" + kind : "");
    ui.stateLine.hidden = !line;
    /* An address for the reply when nobody may get to the customer before the team is off: out of
     * hours, or when the wait runs past closing (the bot's own message invites it then too). */
    var mayWaitTillTomorrow = !state.team_open || (typeof state.eta_minutes !== "number" && Boolean(state.back));
    var askEmail = state.waiting && !state.agent && mayWaitTillTomorrow && !state.email_known && !emailSent;
    if (ui.email.hidden === askEmail) {
      ui.email.hidden = !askEmail;
      if (askEmail) { ui.emailError.textContent = ""; ui.emailInput.removeAttribute("aria-invalid"); }
    }
    follow();  /* the header or the form changed size (the ResizeObserver would, a frame later) */
  }

  /* [tickets, events] counts: true when `revision` comes before `than` */
  function older(revision, than) {
    return revision[0] < than[0] || (revision[0] === than[0] && revision[1] < than[1]);
  }

  function onState(data) {
    if (!data || typeof data !== "object") { return; }
    /* Each message and each desk action sends a state, read off the event loop (and with several servers
     * by any of them), so one read before a person joined may arrive after the one read after. */
    var revision = Array.isArray(data.revision) && data.revision.length === 2 &&
      typeof data.revision[0] === "number" && typeof data.revision[1] === "number" ? data.revision : null;
    if (revision && stateRevision && older(revision, stateRevision)) { return; }
    if (revision) { stateRevision = revision; }
    state = {
      waiting: data.waiting === true,
      team_open: data.team_open !== false,
      eta_minutes: typeof data.eta_minutes === "number" ? data.eta_minutes : null,
      back: typeof data.back === "string" ? data.back : null,
      agent: typeof data.agent === "string" && data.agent ? data.agent : null,
      initials: typeof data.initials === "string" ? data.initials : null,
      email_known: data.email_known === true
    };
    emailSent = false;
    if (state.waiting && typingMode === "bot") { setTyping(null); }
    showState();
  }

  function onAgentTyping(data) {
    if (!data || typeof data.agent !== "string" || !data.agent) { return; }
    if (data.typing === true) { setTyping("agent", data); }
    else if (typingMode === "agent") { setTyping(null); }
  }

  /* ---- unread badge and the `seen` mark ---- */

  function looking() {
    return !ui.panel.hidden && document.visibilityState !== "hidden";
  }

  function showUnread() {
    ui.badge.textContent = unread > 9 ? "9+" : String(unread);
    ui.badge.hidden = unread === 0;
    ui.launcher.setAttribute("aria-label", unread ? "Chat with us, " + unread + " unread" : "Chat with us");
  }

  function markSeen() {
    if (!looking()) { return; }
    if (unread) { unread = 0; showUnread(); }
    if (!stuck || movedUp()) { return; }  /* reading older messages: the newest, further down, are not seen yet */
    if (newestAt > Number(recall(SEEN_KEY) || 0)) { remember(SEEN_KEY, String(newestAt)); }
    clearTimeout(seenTimer);
    seenTimer = setTimeout(function () {
      if (ready && socket && socket.connected && looking() && stuck && newestAt > seenSent) {
        seenSent = newestAt;
        socket.emit("seen", { at: newestAt });
      }
    }, SEEN_DEBOUNCE_MS);
  }

  /* ---- sending ---- */

  /* The words under a customer's message that has not reached the server (with "Send again" when it
   * may be lost), from its state and the connection's. */
  function showMark(item) {
    var words = item.unknown ? MARK_UNKNOWN : (socket && socket.connected ? MARK_SENDING :
      (inFlight.indexOf(item) >= 0 ? MARK_UNSURE : MARK_OFFLINE));
    if (!item.mark) {
      item.mark = el("p", { className: "cl-pending" });
      ui.log.insertBefore(item.mark, item.bubble.nextSibling);
      item.bubble.classList.add("cl-unsent");
    }
    item.mark.textContent = words;
    if (item.unknown) {
      var again = el("button", { type: "button", className: "cl-again", text: "Send again" });
      again.addEventListener("click", function () { sendAgain(item); });
      item.mark.appendChild(document.createTextNode(" "));
      item.mark.appendChild(again);
    }
    follow();
  }

  function clearMark(item) {
    if (item.mark) { item.mark.remove(); item.mark = null; }
    item.bubble.classList.remove("cl-unsent");
    follow();
  }

  /* Every message still on its way says where it is (after the connection changed). */
  function showMarks() {
    pending.concat(inFlight).forEach(function (item) { if (item.mark || !socket || !socket.connected) { showMark(item); } });
  }

  /* The server acknowledged the message: it has handled it. */
  function delivered(item) {
    var at = inFlight.indexOf(item);
    if (at < 0) { return; }
    inFlight.splice(at, 1);
    clearMark(item);
  }

  function flush() {
    while (ready && socket && socket.connected && pending.length) {
      var item = pending.shift();
      inFlight.push(item);
      if (item.mark) { showMark(item); }
      socket.emit("user_uttered", item.payload, delivered.bind(null, item));
      if (!state.waiting) { setTyping("bot"); }
    }
  }

  function sendAgain(item) {
    item.unknown = false;
    pending.push(item);
    showMark(item);
    flush();
    ui.input.focus();
  }

  /* The counter near the limit and, past it, the reason the text cannot go (`size`: of another text). */
  function showLength(size) {
    var boxSize = charCount(ui.input.value.trim());
    size = typeof size === "number" ? size : boxSize;
    var over = size > MAX_CHARS;
    ui.count.hidden = boxSize < COUNTER_FROM;
    ui.count.textContent = boxSize + " / " + MAX_CHARS;
    ui.count.classList.toggle("cl-over", over);
    ui.hint.textContent = over ? "Too long to send: " + size + " characters, the limit is " + MAX_CHARS +
      ". Please shorten it or send it in parts." : "";
    if (over) { ui.input.setAttribute("aria-invalid", "true"); } else { ui.input.removeAttribute("aria-invalid"); }
  }

  /* The box grows with its text up to MAX_LINES lines, then scrolls. */
  function fitInput() {
    var box = ui.input;
    var style = window.getComputedStyle(box);
    var lineHeight = parseFloat(style.lineHeight) || 20;
    var chrome = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom) +
      parseFloat(style.borderTopWidth) + parseFloat(style.borderBottomWidth);
    var most = lineHeight * MAX_LINES + chrome;
    box.style.height = "auto";
    var wanted = box.scrollHeight + parseFloat(style.borderTopWidth) + parseFloat(style.borderBottomWidth);
    box.style.height = Math.min(wanted, most) + "px";
    box.style.overflowY = wanted > most + 1 ? "auto" : "hidden";
  }

  /* Send a customer message; false (and the reason shown) when it cannot go. */
  function send(text, display) {
    text = String(text || "").trim();
    if (!text) { return false; }
    if (charCount(text) > MAX_CHARS) {  /* refused, never cut: the text stays where it was typed */
      showLength(charCount(text));
      return false;
    }
    clearQuickReplies();
    var message = { message: text };
    if (display) { message.metadata = { display: display }; }
    var item = { payload: message, shown: display || text, bubble: null, mark: null, unknown: false };
    item.bubble = addEntry("customer", { text: item.shown });
    pending.push(item);
    flush();
    if (pending.indexOf(item) >= 0) { showMark(item); }  /* it could not go yet */
    return true;
  }

  function submitBox() {
    if (send(ui.input.value)) {
      ui.input.value = "";
      fitInput();
      showLength();
    } else {
      ui.input.focus();
    }
  }

  function submitEmail() {
    var address = ui.emailInput.value.trim();
    var valid = address && ui.emailInput.checkValidity() && EMAIL_PATTERN.test(address);
    if (!valid) {
      ui.emailError.textContent = address ? "That doesn't look like an email address. Please check it (like name@example.com)."
        : "Please enter your email address.";
      ui.emailInput.setAttribute("aria-invalid", "true");
      ui.emailInput.focus();
      return;
    }
    ui.emailInput.removeAttribute("aria-invalid");
    ui.emailError.textContent = "";
    if (send(address)) {
      ui.emailInput.value = "";
      emailSent = true;
      showState();
      ui.input.focus();
    }
  }

  /* ---- the socket ---- */

  /* Messages sent just before the connection dropped, unacknowledged: those in the history (the last
   * customer lines) are done; the others may be lost, or the server may still be handling them, so they
   * are never sent again by themselves: the customer decides ("Send again"). */
  function settleInFlight(items) {
    var theirs = items.filter(function (item) { return item && item.role === "customer"; })
      .map(function (item) { return String(item.text || ""); }).slice(-inFlight.length);
    var unsure = [];
    inFlight.forEach(function (item) {
      var at = theirs.indexOf(item.shown);
      if (at >= 0) { theirs.splice(at, 1); } else { item.unknown = true; unsure.push(item); }
    });
    inFlight = [];
    return unsure;
  }

  function showHistory(items) {
    clearTimeout(historyTimer);
    items = Array.isArray(items) ? items : [];
    var keep = stuck ? null : ui.log.scrollTop;  /* a customer reading older messages stays there */
    rebuilding = true;
    ui.log.textContent = "";
    newestAt = 0;
    seenSent = 0;
    lastSpeaker = null;
    addEntry("bot", { text: GREETING });
    var seen = Number(recall(SEEN_KEY) || 0);
    var unseen = 0;
    var unsure = inFlight.length ? settleInFlight(items) : [];
    items.forEach(function (item) {
      if (!item || typeof item !== "object") { return; }
      var role = ["customer", "bot", "agent", "system"].indexOf(item.role) >= 0 ? item.role : "bot";
      if (role === "bot" || role === "agent") {
        role = roleOf(item);
        if ((role === "bot" || role === "agent") && seen && typeof item.at === "number" && item.at > seen) { unseen += 1; }
      }
      addEntry(role, item);
    });
    unsure.concat(pending).forEach(function (item) {
      item.bubble = addEntry("customer", { text: item.shown });
      item.mark = null;
      showMark(item);
    });
    rebuilding = false;
    if (keep === null) { scrollDown(); } else { ui.log.scrollTop = keep; }
    if (typingMode === "bot") { setTyping(null); }
    if (!looking()) { unread = unseen; showUnread(); }
    ready = true;
    flush();
    markSeen();
  }

  function requestSession() {
    ready = false;
    socket.emit("session_request", { session_id: recall(TOKEN_KEY) });
  }

  function connect() {
    if (socket || typeof window.io !== "function") { return; }
    socket = window.io(config.socketUrl || "", {
      path: config.socketPath || "/socket.io",
      transports: ["websocket", "polling"],
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000
    });
    socket.on("connect", function () {
      setStatus("");
      requestSession();
    });
    socket.on("session_confirm", function (token) {
      /* the server left the old conversation's room before confirming (and sends the history and the state
       * after): what follows is of this conversation, which may count from (0, 0) */
      stateRevision = null;
      remember(TOKEN_KEY, token);
      clearTimeout(historyTimer);  /* the history follows; should it not come, what waits still goes */
      historyTimer = setTimeout(function () { ready = true; flush(); }, HISTORY_TIMEOUT_MS);
    });
    socket.on("history", showHistory);
    socket.on("bot_uttered", function (message) {
      message = message && typeof message === "object" ? message : {};
      var role = roleOf(message);
      if (role === "agent" || typingMode === "bot") { setTyping(null); }
      addEntry(role, message);
      if (role !== "system" && !looking()) { unread += 1; showUnread(); }
      markSeen();
    });
    socket.on("conversation_state", onState);
    socket.on("agent_typing", onAgentTyping);
    socket.on("session_required", function () {
      /* the server had no session for this socket: what it has not acknowledged yet it refused (its
       * acknowledgement follows this), so those go again once the new session's history is on screen */
      pending = inFlight.concat(pending);
      inFlight = [];
      showMarks();
      requestSession();
    });
    socket.on("disconnect", function () {
      ready = false;
      clearTimeout(historyTimer);
      if (typingMode) { setTyping(null); }
      setStatus("Connection lost. Reconnecting…", "Not connected · reconnecting…");
    });
    socket.on("connect_error", function () {
      setStatus("Can't reach Careline right now. Trying again…", "Not connected · trying again…");
    });
  }

  /* ---- the panel ---- */

  function open(focus) {
    ui.panel.hidden = false;
    ui.root.classList.add("cl-open");
    ui.launcher.setAttribute("aria-expanded", "true");
    remember(OPEN_KEY, "1", "sessionStorage");
    connect();
    if (focus) { ui.input.focus(); }
    scrollDown();
    markSeen();
  }

  function close() {
    ui.panel.hidden = true;
    ui.root.classList.remove("cl-open");
    ui.launcher.setAttribute("aria-expanded", "false");
    remember(OPEN_KEY, null, "sessionStorage");
    ui.launcher.focus();
  }

  function buildComposer() {
    ui.input = el("textarea", { id: "cl-input", rows: "1", autocomplete: "off", placeholder: "Type your message…",
      "aria-describedby": "cl-count cl-hint", enterkeyhint: "send" });
    ui.count = el("span", { id: "cl-count", className: "cl-count", hidden: true });
    ui.hint = el("p", { id: "cl-hint", className: "cl-hint", "aria-live": "polite" });
    var form = el("form", { className: "cl-form" }, [
      el("div", { className: "cl-compose" }, [
        el("label", { "for": "cl-input", className: "cl-sr", text: "Your message" }),
        ui.input,
        el("button", { type: "submit", className: "cl-send", text: "Send" })
      ]),
      el("div", { className: "cl-foot" }, [ui.hint, ui.count])
    ]);
    form.addEventListener("submit", function (event) { event.preventDefault(); submitBox(); });
    ui.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        submitBox();
      }
    });
    ui.input.addEventListener("input", function () { fitInput(); showLength(); });
    return form;
  }

  function buildEmailForm() {
    ui.emailInput = el("input", { id: "cl-email-input", type: "email", autocomplete: "email", inputmode: "email",
      required: "", placeholder: "name@example.com", "aria-describedby": "cl-email-error" });
    ui.emailError = el("p", { id: "cl-email-error", className: "cl-error", "aria-live": "assertive" });
    ui.email = el("form", { className: "cl-email", novalidate: "", hidden: true }, [
      el("label", { "for": "cl-email-input", text: "Leave your email and we'll send the reply there too" }),
      el("div", { className: "cl-email-row" }, [
        ui.emailInput, el("button", { type: "submit", className: "cl-send", text: "Save email" })
      ]),
      ui.emailError
    ]);
    ui.email.addEventListener("submit", function (event) { event.preventDefault(); submitEmail(); });
    return ui.email;
  }

  function build() {
    ui.badge = el("span", { className: "cl-badge", "aria-hidden": "true", hidden: true });
    ui.launcher = el("button", { type: "button", className: "cl-launcher", "aria-controls": "cl-panel",
      "aria-expanded": "false", "aria-label": "Chat with us" }, [document.createTextNode("Chat with us"), ui.badge]);
    ui.status = el("p", { className: "cl-status", role: "status", "aria-live": "polite" });
    ui.log = el("div", { className: "cl-log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
      "aria-label": "Conversation", tabindex: "0" });
    ui.jump = el("button", { type: "button", className: "cl-jump", hidden: true }, [
      el("span", { "aria-hidden": "true", text: "↓ " }), document.createTextNode("New messages")]);
    ui.typingAvatar = el("span", { className: "cl-avatar cl-avatar-small", "aria-hidden": "true", hidden: true });
    ui.typingLabel = el("span", { className: "cl-typing-label", hidden: true });
    ui.typingSr = el("span", { className: "cl-sr", text: "Careline is typing" });
    ui.typing = el("div", { className: "cl-typing", hidden: true }, [
      ui.typingAvatar, ui.typingSr,
      el("span", { className: "cl-dots", "aria-hidden": "true" }, [
        el("span", { className: "cl-dot" }), el("span", { className: "cl-dot" }), el("span", { className: "cl-dot" })
      ]),
      ui.typingLabel
    ]);
    ui.stateAvatar = el("span", { className: "cl-avatar cl-avatar-small", "aria-hidden": "true", hidden: true });
    ui.stateText = el("span", { className: "cl-state-text" });
    ui.stateLine = el("p", { className: "cl-state", role: "status", hidden: true }, [ui.stateAvatar, ui.stateText]);
    var closeButton = el("button", { type: "button", className: "cl-close", "aria-label": "Close chat", text: "×" });
    ui.panel = el("section", { id: "cl-panel", className: "cl-panel", role: "dialog", "aria-modal": "false",
      "aria-labelledby": "cl-title", hidden: true }, [
      el("header", { className: "cl-header" }, [
        el("div", { className: "cl-heading" }, [el("h2", { id: "cl-title", text: "Careline support" }), ui.stateLine]),
        closeButton
      ]),
      ui.status, el("div", { className: "cl-logbox" }, [ui.log, ui.jump]), ui.typing, buildEmailForm(), buildComposer()
    ]);
    ui.launcher.addEventListener("click", function () { if (ui.panel.hidden) { open(true); } else { close(); } });
    closeButton.addEventListener("click", close);
    ui.log.addEventListener("scroll", onLogScroll, { passive: true });
    ui.jump.addEventListener("click", function () { scrollDown(); markSeen(); ui.log.focus(); });
    if (typeof window.ResizeObserver === "function") { new window.ResizeObserver(follow).observe(ui.log); }
    ui.panel.addEventListener("keydown", function (event) { if (event.key === "Escape") { close(); } });
    document.addEventListener("visibilitychange", markSeen);
    ui.root = el("div", { className: "cl-root" }, [ui.panel, ui.launcher]);
    document.body.appendChild(ui.root);
    if (recall(OPEN_KEY, "sessionStorage") === "1") { open(false); }
    else if (recall(TOKEN_KEY)) { connect(); }  /* a conversation exists: its replies show as unread */
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", build); } else { build(); }
  window.CarelineChat = { open: open, close: close, send: send, socket: function () { return socket; } };
}());

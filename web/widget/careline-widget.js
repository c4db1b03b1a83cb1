/*
 * Careline chat widget: talks to Rasa's socket.io channel (channels/webchat.py).
 * Needs window.io (vendor/socket.io.min.js) and window.CARELINE = {socketUrl}.
 * The server issues the session token; it lives in localStorage so a reload keeps the conversation,
 * and the server sends the history back. Everything is built with DOM calls (no innerHTML), so
 * nothing a message contains can run as code.
 */
(function () {
  "use strict";

  var TOKEN_KEY = "careline.session";
  var OPEN_KEY = "careline.open";
  var TYPING_TIMEOUT_MS = 20000;
  var MAX_CHARS = (window.CARELINE && window.CARELINE.maxChars) || 1000;
  var GREETING = "Hi! I'm Careline, the Harbor & Pine assistant. Ask me about an order, a return, a refund or a charge.";
  var URL_PATTERN = /(https?:\/\/[^\s<>"')\]]+)/g;

  var config = window.CARELINE || {};
  var socket = null;
  var ready = false;
  var pending = [];
  var typingTimer = null;
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

  /* Text with its web addresses turned into links. */
  function richText(text) {
    var fragment = document.createDocumentFragment();
    String(text || "").split(URL_PATTERN).forEach(function (part, index) {
      if (index % 2 === 1) {
        fragment.appendChild(el("a", { href: part, target: "_blank", rel: "noopener noreferrer", text: part }));
      } else if (part) {
        fragment.appendChild(document.createTextNode(part));
      }
    });
    return fragment;
  }

  function scrollDown() { ui.log.scrollTop = ui.log.scrollHeight; }

  function clearQuickReplies() {
    Array.prototype.forEach.call(ui.log.querySelectorAll(".cl-quick"), function (group) { group.remove(); });
  }

  function addMessage(role, message) {
    var who = role === "customer" ? "You" : (message.agent ? message.agent + " (Careline team)" : "Careline");
    var bubble = el("div", { className: "cl-msg cl-" + role + (message.error ? " cl-notice" : "") });
    bubble.appendChild(el("span", { className: "cl-sr", text: who + ": " }));
    if (message.text) { bubble.appendChild(richText(message.text)); }
    var image = message.image || (message.attachment && message.attachment.type === "image" &&
      message.attachment.payload && message.attachment.payload.src);
    if (image && /^https?:\/\//.test(image)) {
      bubble.appendChild(el("img", { src: image, alt: "Image from Careline", loading: "lazy" }));
    }
    ui.log.appendChild(bubble);
    var replies = message.quick_replies || message.buttons || [];
    if (replies.length && role === "bot") {
      clearQuickReplies();
      var group = el("div", { className: "cl-quick", role: "group", "aria-label": "Suggested replies" });
      replies.forEach(function (reply) {
        var button = el("button", { type: "button", text: reply.title });
        button.addEventListener("click", function () { send(reply.payload || reply.title, reply.title); });
        group.appendChild(button);
      });
      ui.log.appendChild(group);
    }
    scrollDown();
  }

  function setTyping(on) {
    clearTimeout(typingTimer);
    ui.typing.hidden = !on;
    if (on) { typingTimer = setTimeout(function () { ui.typing.hidden = true; }, TYPING_TIMEOUT_MS); }
    scrollDown();
  }

  function setStatus(text) {
    ui.status.textContent = text;
    ui.panel.classList.toggle("cl-offline", Boolean(text));
  }

  function flush() {
    while (ready && pending.length) { socket.emit("user_uttered", pending.shift()); }
  }

  function send(text, display) {
    text = String(text || "").trim();
    if (!text) { return; }
    if (text.length > MAX_CHARS) {
      addMessage("bot", { text: "That message is a bit long for me (" + text.length + " characters; the limit is " +
        MAX_CHARS + "). Could you shorten it?", error: "message_too_long" });
      return;
    }
    clearQuickReplies();
    addMessage("customer", { text: display || text });
    var message = { message: text };
    if (display) { message.metadata = { display: display }; }
    pending.push(message);
    setTyping(true);
    flush();
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
      socket.emit("session_request", { session_id: recall(TOKEN_KEY) });
    });
    socket.on("session_confirm", function (token) {
      remember(TOKEN_KEY, token);
      ready = true;
      flush();
    });
    socket.on("history", function (items) {
      var hadPending = pending.length > 0;
      ui.log.textContent = "";
      addMessage("bot", { text: GREETING });
      (items || []).forEach(function (item) { addMessage(item.role, item); });
      pending.forEach(function (message) { addMessage("customer", { text: (message.metadata || {}).display || message.message }); });
      if (!hadPending) { setTyping(false); }
    });
    socket.on("bot_uttered", function (message) {
      setTyping(false);
      addMessage("bot", message || {});
    });
    socket.on("session_required", function () {
      ready = false;
      socket.emit("session_request", { session_id: recall(TOKEN_KEY) });
    });
    socket.on("disconnect", function () {
      ready = false;
      setStatus("Connection lost. Reconnecting…");
    });
    socket.on("connect_error", function () {
      setStatus("Can't reach Careline right now. Trying again…");
    });
  }

  function open(focus) {
    ui.panel.hidden = false;
    ui.launcher.setAttribute("aria-expanded", "true");
    remember(OPEN_KEY, "1", "sessionStorage");
    connect();
    if (focus) { ui.input.focus(); }
    scrollDown();
  }

  function close() {
    ui.panel.hidden = true;
    ui.launcher.setAttribute("aria-expanded", "false");
    remember(OPEN_KEY, null, "sessionStorage");
    ui.launcher.focus();
  }

  function build() {
    ui.launcher = el("button", { type: "button", className: "cl-launcher", "aria-controls": "cl-panel",
      "aria-expanded": "false", text: "Chat with us" });
    ui.status = el("p", { className: "cl-status", role: "status", "aria-live": "polite" });
    ui.log = el("div", { className: "cl-log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
      "aria-label": "Conversation", tabindex: "0" });
    ui.typing = el("div", { className: "cl-typing", hidden: true }, [
      el("span", { className: "cl-sr", text: "Careline is typing" }),
      el("span", { className: "cl-dot", "aria-hidden": "true" }),
      el("span", { className: "cl-dot", "aria-hidden": "true" }),
      el("span", { className: "cl-dot", "aria-hidden": "true" })
    ]);
    ui.input = el("input", { id: "cl-input", type: "text", autocomplete: "off", maxlength: String(MAX_CHARS),
      placeholder: "Type your message…" });
    var form = el("form", { className: "cl-form" }, [
      el("label", { "for": "cl-input", className: "cl-sr", text: "Your message" }),
      ui.input,
      el("button", { type: "submit", className: "cl-send", text: "Send" })
    ]);
    var closeButton = el("button", { type: "button", className: "cl-close", "aria-label": "Close chat", text: "×" });
    ui.panel = el("section", { id: "cl-panel", className: "cl-panel", role: "dialog", "aria-modal": "false",
      "aria-labelledby": "cl-title", hidden: true }, [
      el("header", { className: "cl-header" }, [el("h2", { id: "cl-title", text: "Careline support" }), closeButton]),
      ui.status, ui.log, ui.typing, form
    ]);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      send(ui.input.value);
      ui.input.value = "";
    });
    ui.launcher.addEventListener("click", function () { if (ui.panel.hidden) { open(true); } else { close(); } });
    closeButton.addEventListener("click", close);
    ui.panel.addEventListener("keydown", function (event) { if (event.key === "Escape") { close(); } });
    var root = el("div", { className: "cl-root" }, [ui.panel, ui.launcher]);
    document.body.appendChild(root);
    if (recall(OPEN_KEY, "sessionStorage") === "1") { open(false); }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", build); } else { build(); }
  window.CarelineChat = { open: open, close: close, send: send, socket: function () { return socket; } };
}());

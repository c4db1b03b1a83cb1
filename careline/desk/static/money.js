/* Money on a ticket without a page reload. A form's "Review" asks the policy with fetch() (nothing
   is applied) and shows its answer under the form: "Refund $28.95 on CL-100001 - allowed: ..." with
   Confirm and Cancel, or the refusal in words (red). Confirm applies it once (the form's one-time
   key: a double click or a replay does nothing twice), exactly as reviewed (it sends the review's
   token and the values the review showed), and tells the customer when "Tell the customer" is
   ticked; then the form gets a fresh key and the decisions table is drawn again.
   Everything shown is built with textContent. Without JavaScript the same forms post and the review
   is a page of its own (money_review.html). */
(function () {
  "use strict";
  var panel = document.getElementById("money");
  if (!panel || !window.fetch || !window.JSON) { return; }
  var ticketId = panel.getAttribute("data-ticket");

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function button(text, className) {
    var node = el("button", className || "", text);
    node.type = "button";
    return node;
  }

  function csrfOf(form) {
    var field = form.querySelector("input[name=csrf]");
    return field ? field.value : "";
  }

  function fieldsOf(form) {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || field.name === "csrf") { return; }
      if (field.type === "checkbox") {
        if (field.checked) { data[field.name] = field.value || "1"; }
      } else {
        data[field.name] = field.value;
      }
    });
    return data;
  }

  /* POST a JSON object; resolves with the desk's {"ok", "message", "result"}, rejects with its words. */
  function post(url, body, csrf) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Accept": "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (answer) {
      return answer.json().catch(function () { return {}; }).then(function (data) {
        if (!answer.ok || !data.ok) {
          var error = new Error(data.detail ? "Not done: " + data.detail : "The desk answered " + answer.status + "; try again.");
          error.refused = answer.status < 500 && Boolean(data.detail);  // the desk said no: nothing was done
          throw error;
        }
        return data;
      });
    });
  }

  function boxOf(form) { return document.getElementById(form.getAttribute("data-review-box")); }

  function close(form, box) {
    box.textContent = "";
    box.hidden = true;
    var submit = form.querySelector("button[type=submit]");
    if (submit) { submit.focus(); }
  }

  function said(box, text, good) {
    var line = el("p", "verdict " + (good ? "allowed" : "refused"), text);
    line.setAttribute("role", good ? "status" : "alert");
    box.appendChild(line);
    return line;
  }

  /* `again`: a confirm whose answer did not come (it may have been applied): "Try again" sends the same
     confirm, which the desk applies once (a used key answers its first decision). */
  function problem(form, box, error, again) {
    box.textContent = "";
    box.hidden = false;
    said(box, again ? error.message + " It may have gone through: check the decisions below, or try again " +
      "(it is applied once)." : error.message, false);
    var actions = el("div", "actions");
    if (again) {
      var retry = button("Try again", "primary");
      retry.addEventListener("click", function () { retry.disabled = true; again(); });
      actions.appendChild(retry);
    }
    var dismiss = button("Close");
    dismiss.addEventListener("click", function () { close(form, box); });
    actions.appendChild(dismiss);
    box.appendChild(actions);
  }

  /* --- the decisions table, drawn again from the ticket's JSON ------------------------------ */
  var COLUMNS = [["When", "at"], ["Who", "who"], ["What", "what"], ["Outcome", "outcome_words"],
                 ["Amount", "amount"], ["Why", "why"], ["Reference", "reference"]];

  /* "Tell the customer": once told, says so; when the message could not go (the bot server did not
     answer), says why in red and the button stays, to try again. */
  function tellButton(reference, where) {
    var tell = button("Tell the customer");
    var note = el("span", "refused");
    function failed(text) { tell.disabled = false; note.textContent = " " + text; where.appendChild(note); }
    tell.addEventListener("click", function () {
      tell.disabled = true;
      post("/tickets/" + ticketId + "/tell", { reference: reference }, csrfOf(panel.querySelector("form")))
        .then(function (data) {
          if (data.result && data.result.error) { failed(data.message); return; }
          where.textContent = ""; where.appendChild(el("span", "told", " · " + data.message)); refreshDecisions();
        })
        .catch(function (error) { failed(error.message); });
    });
    return tell;
  }

  function row(decision) {
    var tr = el("tr", decision.allowed ? "allowed" : "refused");
    COLUMNS.forEach(function (column) {
      var td = el("td");
      td.setAttribute("data-label", column[0]);
      var value = decision[column[1]];
      if (column[1] === "at") {
        var when = el("time", "", String(value).slice(0, 16).replace("T", " ") + " UTC");
        when.setAttribute("datetime", value + "Z");
        td.appendChild(when);
      } else if (column[1] === "amount") {
        td.textContent = value === "$0.00" ? "-" : value;
      } else {
        td.textContent = value || "-";
      }
      if (column[1] === "outcome_words") { td.className = "outcome"; }
      if (column[1] === "reference") {
        if (decision.label_url && /^https?:\/\//.test(decision.label_url)) {
          td.appendChild(document.createTextNode(" · "));
          var link = el("a", "", "return label (PDF)");
          link.href = decision.label_url; link.target = "_blank"; link.rel = "noopener noreferrer";
          td.appendChild(link);
        }
        if (decision.tellable && decision.told) { td.appendChild(el("span", "told", " · customer told")); }
        else if (decision.tellable) { var slot = el("span"); slot.appendChild(tellButton(decision.reference, slot)); td.appendChild(slot); }
      }
      tr.appendChild(td);
    });
    return tr;
  }

  function drawDecisions(decisions) {
    var history = document.getElementById("decision-history");
    var heading = document.getElementById("decisions");
    if (!history || !heading) { return; }
    while (heading.nextSibling) { history.removeChild(heading.nextSibling); }
    if (!decisions.length) { history.appendChild(el("p", "", "None.")); return; }
    var table = el("table", "decisions");
    table.setAttribute("aria-labelledby", "decisions");
    var head = el("thead"), titles = el("tr");
    COLUMNS.forEach(function (column) { var th = el("th", "", column[0]); th.scope = "col"; titles.appendChild(th); });
    head.appendChild(titles);
    var body = el("tbody");
    body.id = "decision-rows";
    decisions.forEach(function (decision) { body.appendChild(row(decision)); });
    table.appendChild(head); table.appendChild(body);
    history.appendChild(table);
  }

  function refreshDecisions() {
    return fetch("/api/tickets/" + ticketId, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (data) { if (data && data.decisions) { drawDecisions(data.decisions); } })
      .catch(function () { /* the page's own refresh shows it later */ });
  }

  /* --- review, confirm, outcome -------------------------------------------------------------- */
  /* After a decision the form's key is used (a confirm with it only replays that decision): the form asks
     for a fresh one, and a review sent meanwhile waits for it (or asks again, should that have failed).
     While a confirm is on its way the form cannot be reviewed; should its answer not come, the form keeps
     its key, so trying again cannot pay twice. */
  function freshKey(form) {
    form.keyUsed = true;
    form.newKey = post("/tickets/" + ticketId + "/form-key", {}, csrfOf(form)).then(function (data) {
      form.querySelector("input[name=form_key]").value = data.result.form_key;
      form.keyUsed = false;
      form.newKey = null;
    }, function (error) {
      form.newKey = null;
      throw error;
    });
    return form.newKey;
  }
  function keyReady(form) {
    if (form.newKey) { return form.newKey; }
    return form.keyUsed ? freshKey(form) : Promise.resolve();
  }

  function outcome(form, box, result, message) {
    box.textContent = "";
    box.hidden = false;
    said(box, message, result.allowed);
    var actions = el("div", "actions");
    if (result.allowed && !result.told && !result.replayed && result.reference) {
      var where = el("span");
      where.appendChild(tellButton(result.reference, where));
      actions.appendChild(where);
    }
    var dismiss = button("Close");
    dismiss.addEventListener("click", function () { close(form, box); });
    actions.appendChild(dismiss);
    box.appendChild(actions);
    if (result.allowed && result.kind === "waiver") { form.hidden = true; }  /* the fee is waived: nothing left to waive */
  }

  function confirm(form, box, asked, shown, tell, buttons) {
    buttons.forEach(function (each) { each.disabled = true; });
    var submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    var body = { form_key: asked.form_key, review_token: shown.review_token, amount: shown.amount,
                 tell: tell.checked ? "1" : "" };
    if (shown.kind === "goodwill") { body.goodwill = "1"; }
    if (shown.reason) { body.reason = shown.reason; }
    if (shown.charge_id !== null && shown.charge_id !== undefined) { body.charge_id = String(shown.charge_id); }
    if (shown.override_cap) { body.override_cap = "1"; }
    post(form.getAttribute("data-confirm"), body, csrfOf(form))
      .then(function (data) {
        outcome(form, box, data.result, data.message);
        freshKey(form).catch(function () { /* the next review asks again */ });
      })
      .catch(function (error) {
        problem(form, box, error, error.refused ? null : function () { confirm(form, box, asked, shown, tell, buttons); });
      })
      .then(function () { submit.disabled = false; return refreshDecisions(); });
  }

  function review(form, box, asked, shown) {
    box.textContent = "";
    box.hidden = false;
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "Review: " + shown.headline);
    box.appendChild(el("p", "headline", shown.headline));
    said(box, shown.verdict, shown.allowed);
    var actions = el("div", "actions");
    var cancel = button("Cancel");
    cancel.addEventListener("click", function () { close(form, box); });
    var first = cancel;
    if (shown.allowed) {
      var label = el("label", "check");
      var tell = document.createElement("input");
      tell.type = "checkbox"; tell.name = "tell"; tell.checked = true;
      label.appendChild(tell);
      label.appendChild(document.createTextNode(" Tell the customer"));
      box.appendChild(label);
      var go = button(shown.confirm, "primary");
      go.addEventListener("click", function () {
        if (!go.disabled) { confirm(form, box, asked, shown, tell, [go, cancel, tell]); }
      });
      actions.appendChild(go);
      first = go;
    }
    actions.appendChild(cancel);
    box.appendChild(actions);
    first.focus();
  }

  Array.prototype.forEach.call(panel.querySelectorAll("form.money-form"), function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var box = boxOf(form);
      var submit = form.querySelector("button[type=submit]");
      if (!box || submit.disabled) { return; }
      var asked = null;
      submit.disabled = true;
      box.textContent = "";  // the last review's Confirm is gone before this one is asked for
      box.hidden = true;
      keyReady(form)
        .then(function () { asked = fieldsOf(form); return post(form.action, asked, csrfOf(form)); })
        .then(function (data) { review(form, box, asked, data.result); })
        .catch(function (error) { problem(form, box, error); })
        .then(function () { submit.disabled = false; });
    });
  });
}());

/* On every desk page: signing out forgets this tab's drafts (static/ticket.js keeps each ticket's
   unsent reply and note in sessionStorage), so the next person at this browser never sees them. */
(function () {
  "use strict";
  var PREFIX = "careline:desk:";
  var signOut = document.querySelector("form.account");
  if (!signOut) { return; }
  signOut.addEventListener("submit", function () {
    try {
      var store = window.sessionStorage;
      for (var i = store.length - 1; i >= 0; i -= 1) {
        var key = store.key(i);
        if (key && key.indexOf(PREFIX) === 0) { store.removeItem(key); }
      }
    } catch (e) { /* no storage: nothing kept */ }
  });
}());

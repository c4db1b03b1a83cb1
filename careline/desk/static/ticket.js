/* The conversation view: refresh the transcript every few seconds so new customer messages show. */
(function () {
  "use strict";
  var list = document.getElementById("transcript");
  var match = location.pathname.match(/^\/tickets\/(\d+)/);
  if (!list || !match) { return; }
  function refresh() {
    fetch("/api/tickets/" + match[1], { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (data) {
        if (!data || !data.live) { return; }
        list.textContent = "";
        data.live.forEach(function (line) {
          var li = document.createElement("li"); li.className = "from-" + line.role;
          var who = document.createElement("span"); who.className = "who"; who.textContent = line.agent || line.role;
          li.appendChild(who); li.appendChild(document.createTextNode(" " + line.text)); list.appendChild(li);
        });
        list.scrollTop = list.scrollHeight;
      })
      .catch(function () { /* try again next time */ });
  }
  setInterval(refresh, 3000);
}());

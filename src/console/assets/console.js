// class-sync console: on a group's page, a Restore press is sent without leaving the page, and each
// link's state is followed while a restore runs, so the page reads "restoring" and then "restored"
// without a reload. Plain script, no build step; without it the forms post as usual and the page
// shows the state when it loads.
(function () {
  "use strict";
  var table = document.querySelector("table.links[data-group]");
  if (!table) { return; }
  var group = table.getAttribute("data-group");
  var cell = function (attr, target) { return document.querySelector("[" + attr + '="' + target + '"]'); };
  var busy = function () {
    return table.querySelector('[data-state="restoring"], [data-state="pending"]') !== null;
  };
  var polls = 0;
  var polling = false;
  var poll = function () {
    polls += 1;
    fetch("/groups/" + encodeURIComponent(group) + "/state", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (links) {
        links.forEach(function (l) {
          var state = cell("data-state-of", l.target);
          if (state) { state.setAttribute("data-state", l.state); state.textContent = l.label; }
          var mis = cell("data-mis-of", l.target);
          if (mis) { mis.textContent = l.mis; }
          var err = cell("data-error-of", l.target);
          if (err && l.error) { err.textContent = l.error; }
          if (l.state !== "archived") {
            var button = cell("data-restore", l.target);
            if (button && button.form) { button.form.remove(); }
          }
        });
      })
      .catch(function () {})
      .then(function () {
        if (busy() && polls < 600) { setTimeout(poll, 1000); } else { polling = false; }
      });
  };
  var follow = function () { if (!polling) { polling = true; setTimeout(poll, 300); } };
  Array.prototype.forEach.call(table.querySelectorAll("form"), function (form) {
    var button = form.querySelector("button[data-restore]");
    if (!button) { return; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      fetch(form.action, { method: "POST", credentials: "same-origin", body: new URLSearchParams(new FormData(form)) })
        .then(function (r) {
          if (!r.ok) {
            // A refusal (403, 409, …): its page says why.
            return r.text().then(function (html) { document.open(); document.write(html); document.close(); });
          }
          var target = button.getAttribute("data-restore");
          var state = cell("data-state-of", target);
          if (state) { state.setAttribute("data-state", "restoring"); state.textContent = table.getAttribute("data-restoring"); }
          form.remove();
          follow();
        })
        .catch(function () { form.submit(); });
    });
  });
  if (busy()) { follow(); }
})();

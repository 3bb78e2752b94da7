// A single-page host: mounts Margin itself with getToken, follows its own navigation with setRecord,
// and inserts drafts through onInsertDraft.
(function () {
  "use strict";
  var app = document.getElementById("app");
  var title = document.getElementById("record-title");
  var body = document.getElementById("reply-body");

  function getToken() {
    // The host backend mints a short-lived Margin token for the signed-in user.
    return fetch("/token").then(function (r) { return r.json(); }).then(function (j) { return j.token; });
  }

  function start() {
    window.Margin.mount({
      server: app.dataset.server,
      getToken: getToken,
      record: { type: "deal", id: "D-1001" },
      onInsertDraft: function (text) {
        body.value = text;
        body.dispatchEvent(new Event("input", { bubbles: true }));
      },
    });
  }

  document.getElementById("records").addEventListener("click", function (event) {
    var link = event.target.closest("a[data-id]");
    if (!link) return;
    event.preventDefault();
    document.querySelectorAll("#records a").forEach(function (a) { a.removeAttribute("aria-current"); });
    link.setAttribute("aria-current", "page");
    title.textContent = link.dataset.id;
    if (window.Margin) window.Margin.setRecord({ type: link.dataset.type, id: link.dataset.id });
  });

  if (window.Margin) start();
  else window.addEventListener("margin:ready", start, { once: true });
})();

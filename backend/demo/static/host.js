// The demo host apps' own behaviour: an external file, so their strict Content-Security-Policy
// allows it. Margin is embedded by its one script tag; this file only talks to it through its
// public API (Margin.mount, Margin.setRecord) and its events.
(function () {
  "use strict";

  // Make room for the Margin panel while it is open, so it does not cover the page.
  window.addEventListener("margin:open", function () { document.body.classList.add("margin-open"); });
  window.addEventListener("margin:close", function () { document.body.classList.remove("margin-open"); });
  window.addEventListener("margin:unmount", function () { document.body.classList.remove("margin-open"); });

  // Record pages: the compose box (e-mail or case reply) adds what is sent to the activity list.
  var form = document.getElementById("compose");
  if (form) {
    var body = form.elements.body;
    var counter = document.getElementById("counter");
    var toast = document.getElementById("toast");
    var count = function () {
      counter.textContent = body.value.length + " characters";
    };
    body.addEventListener("input", count);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = body.value.trim();
      if (!text) {
        toast.textContent = "Write a message first.";
        body.focus();
        return;
      }
      var meta = [form.dataset.author];
      if (form.dataset.role) meta.push(form.dataset.role);
      meta.push(form.elements.kind.value, "just now");
      var item = document.createElement("li");
      var head = document.createElement("div");
      var para = document.createElement("p");
      item.className = "entry kind-" + form.elements.kind.value + " sent";
      head.className = "meta";
      head.textContent = meta.join(" · ");
      para.textContent = text;
      item.append(head, para);
      document.getElementById("timeline").prepend(item);
      toast.textContent = form.dataset.sent;
      body.value = "";
      count();
    });
    count();
  }

  // The case page's triage form: the host's own fields. Margin's Apply fills them (onApplyTriage
  // below); the agent reviews them and saves, as with any edit.
  var triage = document.getElementById("triage");
  var applyTriage = function (values) {
    var fields = triage.elements;
    var filled = [];
    var set = function (field, value) {
      if (value == null || field.value === value) return;
      var before = field.value;
      field.value = value;
      if (field.tagName === "SELECT" && field.value !== value) {
        field.value = before; // not one of the host's options: keep what was there
        return;
      }
      field.classList.add("filled");
      filled.push(field.labels[0].firstChild.textContent.trim());
      field.dispatchEvent(new Event("change", { bubbles: true }));
    };
    set(fields.category, values.category);
    set(fields.priority, values.priority);
    if (values.tags.length) set(fields.tags, values.tags.join(", "));
    document.getElementById("triage-toast").textContent = filled.length
      ? "Margin filled in " + filled.join(", ").toLowerCase() + ": review, then save."
      : "Margin's suggestions match the case already.";
  };
  if (triage) {
    triage.addEventListener("input", function (event) { event.target.classList.remove("filled"); });
    triage.addEventListener("submit", function (event) {
      event.preventDefault();
      var tags = triage.elements.tags;
      tags.value = tags.value.split(",").map(function (t) { return t.trim(); }).filter(Boolean).join(", ");
      for (var i = 0; i < triage.elements.length; i++) triage.elements[i].classList.remove("filled");
      document.getElementById("triage-toast").textContent = triage.dataset.saved;
    });
  }

  // Record pages that mount Margin from script (the case page: its onApplyTriage is a callback,
  // which a data attribute cannot carry). The settings come from the page, as the tag's would.
  var config = document.getElementById("margin-config");
  if (config) {
    var mountFromConfig = function () {
      var d = config.dataset;
      window.Margin.mount({
        server: d.server,
        token: d.token,
        record: { type: d.recordType, id: d.recordId },
        insertTarget: d.insertTarget,
        onApplyTriage: triage ? applyTriage : undefined,
      });
    };
    if (window.Margin) mountFromConfig();
    else window.addEventListener("margin:ready", mountFromConfig, { once: true });
  }

  // List pages: selecting a row shows its preview, and Margin follows the selected record.
  var table = document.getElementById("records");
  if (table) {
    var type = table.dataset.recordType;
    var selected = function () {
      return table.querySelector("tbody tr[aria-current]");
    };
    var select = function (row) {
      var current = selected();
      if (row === current) return;
      current.classList.remove("selected");
      current.removeAttribute("aria-current");
      document.getElementById("preview-" + current.dataset.id).hidden = true;
      row.classList.add("selected");
      row.setAttribute("aria-current", "true");
      document.getElementById("preview-" + row.dataset.id).hidden = false;
      if (window.Margin) window.Margin.setRecord({ type: type, id: row.dataset.id });
    };
    table.addEventListener("click", function (event) {
      var row = event.target.closest("tbody tr");
      if (!row) return;
      // A plain click on a title selects the row; a modified click or a double click opens the record.
      var link = event.target.closest("a");
      if (link && (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey)) return;
      if (link) event.preventDefault();
      select(row);
    });
    table.addEventListener("dblclick", function (event) {
      var row = event.target.closest("tbody tr");
      if (row) window.location.href = row.querySelector("a").href;
    });
    var getToken = function () {
      // The host backend mints a short-lived Margin token for the signed-in user.
      return fetch("/demo/token", { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (j) { return j.token; });
    };
    var start = function () {
      window.Margin.mount({ getToken: getToken, record: { type: type, id: selected().dataset.id } });
    };
    if (window.Margin) start();
    else window.addEventListener("margin:ready", start, { once: true });
  }
})();

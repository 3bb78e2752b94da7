// The host app's own behaviour (an external file, so a strict Content-Security-Policy allows it).
(function () {
  "use strict";
  var log = document.getElementById("log-call");
  var timeline = document.getElementById("timeline");
  var form = document.getElementById("compose");
  var body = document.getElementById("reply-body");
  var counter = document.getElementById("counter");
  var toast = document.getElementById("toast");
  var clicks = 0;
  if (log) {
    log.addEventListener("click", function () {
      clicks += 1;
      var item = document.createElement("li");
      item.textContent = "Call logged (" + clicks + ")";
      item.className = "logged";
      timeline.prepend(item);
    });
  }
  function count() {
    counter.textContent = body.value.length + " characters";
  }
  body.addEventListener("input", count);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    toast.textContent = "Sent: " + body.value.length + " characters";
    body.value = "";
    count();
  });
  count();
})();

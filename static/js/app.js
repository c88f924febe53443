// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Countdowns: <span data-countdown="ISO moment">...</span> shows "in 7 min 05 s" / "overdue 2 min".
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-countdown"));
      if (isNaN(due)) return;
      var seconds = Math.round((due - Date.now()) / 1000);
      var abs = Math.abs(seconds);
      var text = Math.floor(abs / 60) + " min " + String(abs % 60).padStart(2, "0") + " s";
      el.textContent = seconds >= 0 ? "in " + text : "overdue by " + text;
      el.classList.toggle("overdue", seconds < 0);
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);

  // Copy buttons: <button data-copy="text">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button || !navigator.clipboard) return;
    navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
      button.textContent = "Copied";
    });
  });
})();

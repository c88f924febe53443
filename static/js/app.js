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

  // What works only with this script is shown by it: the copy buttons (where the browser
  // lets a page copy) and the live timeline's "updates by itself".
  document.addEventListener("DOMContentLoaded", function () {
    if (navigator.clipboard) {
      document.querySelectorAll("[data-copy][hidden]").forEach(function (b) { b.hidden = false; });
    }
    document.querySelectorAll("[data-live][hidden]").forEach(function (el) { el.hidden = false; });
    // A form sent back with errors: the summary at the top takes the focus, so a keyboard or
    // screen reader user starts from it and its links to each field.
    var summary = document.querySelector(".error-summary[tabindex]");
    if (summary) summary.focus();
  });

  // Copy buttons: <button data-copy="text">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button || !navigator.clipboard) return;
    navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
      button.textContent = "Copied";
    });
  });

  // Forms that must act once (<form data-once>): the button is disabled once the form is on
  // its way, so a double click sends it once. The server refuses a repeat anyway.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-once")) return;
    setTimeout(function () {
      form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (b) {
        b.disabled = true;
      });
    }, 0);
  });
  // Each htmx request carries the CSRF token as it is now: signing in again (in another tab,
  // after the session ended) gives a new one, and the one written into the page when it was
  // drawn would be refused from then on.
  document.addEventListener("htmx:configRequest", function (event) {
    var found = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (found) event.detail.headers["X-CSRFToken"] = decodeURIComponent(found[1]);
  });

  // A save the server refused outright (403 once the post-mortem went to someone else or the
  // session's token changed, a 500) or never got: htmx swaps nothing then, so the box that
  // says "Saved at ..." would go on saying it. Say it was not saved, and what to do.
  function notSaved(event, why) {
    var box = event.detail.target;
    if (!box || !box.hasAttribute("data-save-status")) return;
    var span = document.createElement("span");
    span.className = "overdue";
    span.textContent = "Not saved (" + why + "): copy your text, then reload the page.";
    box.replaceChildren(span);
  }
  document.addEventListener("htmx:responseError", function (event) {
    notSaved(event, "the server answered " + event.detail.xhr.status);
  });
  document.addEventListener("htmx:sendError", function (event) {
    notSaved(event, "the server could not be reached");
  });

  // A page brought back by the back button keeps its disabled buttons: enable them again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-once] button[disabled]").forEach(function (b) {
      b.disabled = false;
    });
  });
})();

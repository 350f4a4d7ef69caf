// Portal page behaviour: no inline script anywhere, so the CSP can forbid it.
"use strict";
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  // One click, one request: a double submit must not act twice.
  var buttons = form.querySelectorAll("button[type=submit]");
  if (form.dataset.submitted === "1") { ev.preventDefault(); return; }
  form.dataset.submitted = "1";
  setTimeout(function () { buttons.forEach(function (b) { b.disabled = true; }); }, 0);
});
// A page restored from the back/forward cache accepts its forms again.
window.addEventListener("pageshow", function (ev) {
  if (!ev.persisted) return;
  document.querySelectorAll("form[data-submitted]").forEach(function (f) {
    delete f.dataset.submitted;
    f.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
  });
});

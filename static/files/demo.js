// Demo controls: the panel's stories run without leaving the page, so the
// audience watches the page change by itself. Demo mode only; no inline script.
"use strict";
(function () {
  function status(text) {
    var s = document.querySelector('[data-testid="demo-status"]');
    if (s) s.textContent = text;
  }
  // editing tells whether someone is filling in a form on the page, which a
  // refresh must never replace.
  function editing(main) {
    return Array.prototype.some.call(main.querySelectorAll("input, select, textarea"), function (f) {
      if (f.type === "hidden") return false;
      if (f.tagName === "SELECT") return Array.prototype.some.call(f.options, function (o) { return o.selected !== o.defaultSelected; });
      if (f.type === "checkbox" || f.type === "radio") return f.checked !== f.defaultChecked;
      return f.value !== f.defaultValue;
    });
  }
  // refreshMain re-renders the page's content from the server in place. A
  // page with a live region asks htmx to refresh it (morphed in place, and
  // htmx keeps polling it while something is in motion); other pages get
  // their main part replaced, handed to htmx so its attributes work.
  function refreshMain() {
    var live = document.getElementById("live");
    if (live && window.htmx) window.htmx.trigger(live, "refresh");
    return fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("main"), cur = document.querySelector("main");
        if (!live && fresh && cur && !editing(cur)) {
          var next = document.importNode(fresh, true);
          cur.replaceWith(next);
          if (window.htmx) window.htmx.process(next);
        }
        // The panel tells the story it is in: the platform's state changed too.
        var story = doc.querySelector('[data-testid="demo-story"]'), shown = document.querySelector('[data-testid="demo-story"]');
        if (story && shown) shown.textContent = story.textContent;
      });
  }
  function release(form) {
    delete form.dataset.submitted;
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
  }
  // The answer stays until it is clicked away or the next one comes.
  document.addEventListener("click", function (ev) {
    var s = ev.target.closest ? ev.target.closest('[data-testid="demo-status"]') : null;
    if (s) s.textContent = "";
  });
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.hasAttribute || !form.hasAttribute("data-demo-fetch") || ev.defaultPrevented) return;
    ev.preventDefault();
    var label = (ev.submitter || form.querySelector("button")).textContent;
    status(label + "…");
    // Close the panel so the audience sees the page change underneath; the
    // answer shows next to the panel's button.
    var panel = form.closest("details");
    if (panel) panel.open = false;
    fetch(form.action, {
      method: "POST", credentials: "same-origin",
      headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(new FormData(form)).toString()
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) throw new Error(body.error || "That did not work. Reload the page and try again.");
        return body;
      });
    }).then(function (body) {
      status(body.message || "Done.");
      return refreshMain();
    }).catch(function (err) {
      status(err.message);
    }).then(function () { release(form); });
  });
})();

// Live region: the part of a page in motion (#live) refreshes itself with
// htmx while something in it moves (the server renders its timer only then),
// and idiomorph morphs it in place, so focus and scroll stay where they were.
// Anything may ask for one refresh with a "portal:refresh" event on document;
// the Link glue does when a flow ends. A refresh never replaces a form the
// person is filling in. No inline script: the CSP forbids it.
"use strict";
(function () {
  function editing(region) {
    var a = document.activeElement;
    if (a && a !== document.body && region.contains(a) && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName)) return true;
    return Array.prototype.some.call(region.querySelectorAll("input, select, textarea"), function (f) {
      if (f.type === "hidden") return false;
      if (f.tagName === "SELECT") return Array.prototype.some.call(f.options, function (o) { return o.selected !== o.defaultSelected; });
      if (f.type === "checkbox" || f.type === "radio") return f.checked !== f.defaultChecked;
      return f.value !== f.defaultValue;
    });
  }
  // One refresh on request (a flow ended); pages without a live region show
  // the result on reload.
  document.addEventListener("portal:refresh", function () {
    var live = document.getElementById("live");
    if (live && window.htmx) { window.htmx.trigger(live, "refresh"); return; }
    setTimeout(function () { location.reload(); }, 1500);
  });
  // A refresh asks for the rows in the order the page shows them, so a row
  // whose state changes stays where it was.
  document.addEventListener("htmx:configRequest", function (ev) {
    if (!ev.target || ev.target.id !== "live") return;
    var guids = Array.prototype.map.call(ev.target.querySelectorAll('[data-testid="account-row"][data-guid]'), function (r) { return r.getAttribute("data-guid"); });
    if (guids.length) ev.detail.parameters.order = guids.join(",");
  });
  // The timer's polls (no triggering event) end after 10 minutes on the page,
  // so a row stuck in Pending does not poll for ever; a refresh asked for
  // with portal:refresh still runs.
  var pollStop = Date.now() + 10 * 60 * 1000;
  document.addEventListener("htmx:confirm", function (ev) {
    var el = ev.target;
    if (!el || el.id !== "live") return;
    if (editing(el) || (!ev.detail.triggeringEvent && Date.now() > pollStop)) ev.preventDefault();
  });
  // An answer without the live region (signed out meanwhile: the sign-in
  // page) must not blank the page: it is left alone.
  document.addEventListener("htmx:beforeSwap", function (ev) {
    if (ev.target && ev.target.id === "live" && String(ev.detail.serverResponse || "").indexOf('id="live"') < 0) ev.detail.shouldSwap = false;
  });
})();

// Link glue: opens Plaid Link (or the offline Link simulator, same interface)
// with a token the server fetched, reports every callback to the server, and
// finishes the flow on the server. No inline script: the CSP forbids it.
"use strict";
(function () {
  var STORE_KEY = "portal.link";
  var LOAD_BOUND = 20000; // Link must show itself within this, or we say so
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function $(id) { return document.querySelector('[data-testid="' + id + '"]'); }

  // show displays one of the three status messages (and hides the others).
  // The progress message keeps its spinner; text replaces what follows it.
  function show(id, text) {
    ["link-progress", "link-error", "link-done"].forEach(function (k) {
      var el = $(k);
      if (el && k !== id) el.classList.add("hidden");
    });
    var el = $(id);
    if (!el) return null;
    if (text !== undefined) {
      if (id === "link-progress") {
        var spinner = el.querySelector(".spinner");
        el.textContent = "";
        if (spinner) el.appendChild(spinner);
        el.appendChild(document.createTextNode(" " + text));
      } else {
        el.textContent = text;
      }
    }
    el.classList.remove("hidden");
    return el;
  }
  function hideAll() { show(""); }

  var OFFLINE = "We could not reach the portal. Check your connection and try again.";

  function api(method, url, body) {
    var opts = { method: method, credentials: "same-origin", headers: { "Accept": "application/json", "X-CSRF-Token": csrf } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
      opts.keepalive = true;
    }
    return fetch(url, opts).catch(function () {
      var err = new Error(OFFLINE);
      err.status = 0;
      throw err;
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) {
          var err = new Error(data.error || "Something went wrong. Please try again.");
          err.status = res.status; err.data = data;
          throw err;
        }
        return data;
      });
    });
  }

  // report sends one Link callback. A request with a body is sent with
  // keepalive (see api), so it is delivered even when the page is going away;
  // sendBeacon is not used because it cannot send the CSRF header, and the
  // token is never put in a URL.
  function report(session, payload) {
    return api("POST", "/link/sessions/" + session.id + "/callbacks", payload).catch(function () { return {}; });
  }

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  // waitForToken polls the portal (which polls the platform) with backoff,
  // within a bound; a dropped connection or a server hiccup is retried.
  function waitForToken(id) {
    var deadline = Date.now() + 45000, delay = 250;
    function again() {
      if (Date.now() > deadline) throw new Error("Preparing the connection took too long. Please try again.");
      return sleep(delay).then(function () { delay = Math.min(delay * 1.6, 1500); return poll(); });
    }
    function poll() {
      return api("GET", "/link/sessions/" + id).then(function (s) {
        if (s.state === "ready" && s.link_token) return s;
        if (s.state === "failed") throw new Error(s.message || "The bank connection could not be prepared. Please try again.");
        return again();
      }, function (err) {
        if (err.status === 0 || err.status >= 500) return again();
        throw err;
      });
    }
    return poll();
  }

  // flow is the one state of the glue: whether a flow runs, Link's handler,
  // the control that opened Link (focus returns to it) and the connection
  // whose row the finished flow's message follows.
  var flow = { busy: false, handler: null, lastButton: null, watched: null };

  function remember(session, extra) {
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify({ id: session.id, mode: session.mode, account_guid: session.account_guid || "",
        returnTo: (extra && extra.returnTo) || location.pathname }));
    } catch (e) { /* storage may be off: OAuth resume then starts over */ }
  }
  function recall() {
    try { return JSON.parse(sessionStorage.getItem(STORE_KEY) || "null"); } catch (e) { return null; }
  }
  function forget() { try { sessionStorage.removeItem(STORE_KEY); } catch (e) { } }

  function setButtons(disabled) {
    document.querySelectorAll("[data-link-mode]").forEach(function (b) { b.disabled = disabled; });
  }

  // idle ends a flow: the page is usable again and focus goes back to the
  // control that opened Link (or, when that is gone, to the message).
  function idle() {
    flow.busy = false;
    pageInert(false);
    setButtons(false);
    if (flow.lastButton && document.body.contains(flow.lastButton)) { flow.lastButton.focus(); return; }
    var msg = ["link-done", "link-error"].map($).filter(function (el) { return el && !el.classList.contains("hidden"); })[0];
    if (msg && flow.lastButton) { msg.setAttribute("tabindex", "-1"); msg.focus(); }
  }

  function finish(msg) {
    idle();
    if (msg) show("link-error", msg); else hideAll();
  }

  function offerReconnect(guid) {
    var el = $("link-error");
    if (!el || !guid) return;
    var b = document.createElement("button");
    b.type = "button"; b.className = "secondary"; b.textContent = "Reconnect it";
    b.setAttribute("data-link-mode", "update"); b.setAttribute("data-guid", guid); b.setAttribute("data-testid", "reconnect-existing");
    el.appendChild(document.createTextNode(" "));
    el.appendChild(b);
  }

  // keptNotice says a refused Link result was kept for the next sign-in and
  // offers the way there (the start page signs in, then finishes it).
  function keptNotice(msg) {
    var el = show("link-error", msg);
    if (!el) return;
    var a = document.createElement("a");
    a.href = "/"; a.textContent = "Continue"; a.setAttribute("data-testid", "link-kept");
    el.appendChild(document.createTextNode(" "));
    el.appendChild(a);
  }

  // doneText keys on the connection's state (data-state's values), never on
  // its display label, which is only shown.
  function doneText(mode, res) {
    if (mode === "update") {
      return res.state === "completed" ? "Reconnected: the connection works again." :
        "Reconnected. The bank platform now reports this connection as " + (res.label || "pending") + ".";
    }
    return res.state === "completed" ? "Connected: the account is ready to use." : "Linked: " + (res.label || "pending") + ".";
  }

  // openLink runs Link for a ready session; opts.retried says whether a fresh
  // token was already tried, opts.onDone is called when the flow ends well.
  function openLink(session, opts) {
    if (!window.Plaid || !window.Plaid.create) { finish("The secure bank connection could not be loaded. Check your connection and try again."); return; }
    if (flow.handler) { flow.handler.destroy(); flow.handler = null; }
    remember(session, opts);
    var succeeded = false, loaded = false;
    var loadTimer = setTimeout(function () {
      if (loaded || succeeded) return;
      if (flow.handler) { flow.handler.destroy(); flow.handler = null; }
      finish("The secure bank connection did not open. Check your connection and try again.");
    }, LOAD_BOUND);
    var config = {
      token: session.link_token,
      onLoad: function () { loaded = true; clearTimeout(loadTimer); hideAll(); },
      onEvent: function (name, metadata) { report(session, { kind: "event", name: name, metadata: metadata || {} }); },
      onExit: function (error, metadata) {
        loaded = true; clearTimeout(loadTimer);
        var reported = report(session, { kind: "exit", error: error, metadata: metadata || {} });
        if (succeeded) return; // Link may close after onSuccess: the completion speaks for itself
        reported.then(function (s) {
          if (error && error.error_code === "INVALID_LINK_TOKEN" && !opts.retried) {
            // The token died (too many tries, or too long in the flow): get a new one and reopen, once.
            start(session.mode, session.account_guid, { retried: true });
            return;
          }
          forget();
          var msg = s && s.message ? s.message : (error ? (error.display_message || "Connecting to your bank did not work. Nothing was changed; try again.") : "");
          finish(msg);
          if (!msg && opts.onDone) opts.onDone();
        });
      },
      onSuccess: function (publicToken, metadata) {
        succeeded = true; loaded = true; clearTimeout(loadTimer);
        report(session, { kind: "success", name: "SUCCESS", metadata: { link_session_id: metadata && metadata.link_session_id, institution: metadata && metadata.institution } });
        show("link-progress", "Finishing with your bank…");
        api("POST", "/link/sessions/" + session.id + "/complete", { public_token: publicToken, metadata: metadata }).then(function (res) {
          forget();
          if (res.next) { idle(); location.assign(res.next); return; }
          if (res.status === "finishing") {
            show("link-done", "Almost done: we are finishing with the bank platform. This page updates by itself.");
          } else if (session.mode === "update" && res.state === "refresh_required") {
            // The platform checked with the bank after the reconnect: the login still does not work.
            show("link-error", "Your bank still reports the login as not working, so this connection still needs a refresh. Choose Reconnect to try again.");
          } else {
            show("link-done", doneText(session.mode, res));
          }
          flow.watched = res.account_guid ? { guid: res.account_guid, mode: session.mode } : null;
          idle();
          if (opts.onDone) opts.onDone(); else refreshList();
        }).catch(function (err) {
          forget();
          if (err.data && err.data.code === "kept") { idle(); keptNotice(err.message); return; }
          finish(err.message);
          if (err.data && err.data.existing_guid) offerReconnect(err.data.existing_guid);
        });
      }
    };
    if (opts.receivedRedirectUri) config.receivedRedirectUri = opts.receivedRedirectUri;
    flow.handler = window.Plaid.create(config);
    pageInert(true);
    flow.handler.open();
  }

  function start(mode, accountGUID, opts) {
    opts = opts || {};
    flow.busy = true;
    setButtons(true);
    show("link-progress", "Preparing a secure connection to your bank…");
    api("POST", "/link/sessions", { mode: mode, account_guid: accountGUID || "" })
      .then(function (s) { return waitForToken(s.id); })
      .then(function (s) { openLink(s, opts); })
      .catch(function (err) { finish(err.message); });
  }

  document.addEventListener("click", function (ev) {
    var b = ev.target.closest ? ev.target.closest("[data-link-mode]") : null;
    if (!b || b.disabled || flow.busy) return;
    ev.preventDefault();
    flow.lastButton = b;
    start(b.getAttribute("data-link-mode"), b.getAttribute("data-guid") || "");
  });

  // refreshList asks the page's live region (live.js) to show the result.
  function refreshList() { document.dispatchEvent(new CustomEvent("portal:refresh")); }

  // After the live region refreshed, buttons stay off while a flow runs and
  // the flow's message follows its row.
  document.addEventListener("htmx:afterSettle", function () {
    if (flow.busy) setButtons(true);
    follow();
  });

  // follow keeps the message of a finished flow in step with its row: a new
  // account goes from Pending to Connected while the page refreshes itself.
  function follow() {
    if (!flow.watched) return;
    var g = CSS.escape(flow.watched.guid);
    var row = document.querySelector('[data-testid="account-row"][data-guid="' + g + '"], [data-testid="account-detail"][data-guid="' + g + '"]');
    if (!row) return;
    var state = row.getAttribute("data-state");
    if (row.querySelector('[data-testid="finishing"]')) {
      show("link-done", "Almost done: we are finishing with the bank platform. This page updates by itself.");
      return;
    }
    var badge = row.querySelector('[data-testid="state-badge"]'); // the server's word for the state
    var text = doneText(flow.watched.mode, { state: state, label: badge ? badge.textContent.trim() : "" });
    if (state === "storing") text += " The bank platform is checking it; this page updates by itself.";
    show("link-done", text);
    if (state !== "storing" && state !== "deleting") flow.watched = null;
  }

  // While Link is open the page behind it is inert: Tab cannot reach it and
  // screen readers do not read it. Link's own frame is the SDK's iframe, a
  // child of body, so every other child of body is made inert.
  function pageInert(on) {
    Array.prototype.forEach.call(document.body.children, function (el) {
      if (el.tagName === "IFRAME" || el.tagName === "SCRIPT") return;
      if (on) el.setAttribute("inert", ""); else el.removeAttribute("inert");
    });
  }

  // waitForPlaid gives Plaid's script (loaded with defer) a moment to arrive.
  function waitForPlaid() {
    var deadline = Date.now() + 15000;
    function check() {
      if (window.Plaid && window.Plaid.create) return Promise.resolve();
      if (Date.now() > deadline) return Promise.reject(new Error("The secure bank connection could not be loaded. Check your connection and try again."));
      return sleep(100).then(check);
    }
    return check();
  }

  function resumeOAuth() {
    var saved = recall();
    var gone = "That bank connection can no longer be resumed. Start again from your connections.";
    if (!saved || !saved.id) { finish(gone); return; }
    flow.busy = true;
    api("GET", "/link/sessions/" + saved.id).then(function (s) {
      if (!s.link_token) throw new Error(gone);
      return waitForPlaid().then(function () {
        openLink(s, { retried: true, receivedRedirectUri: window.location.href, returnTo: saved.returnTo,
          onDone: function () { setTimeout(function () { location.assign(saved.returnTo || "/"); }, 800); } });
      });
    }).catch(function (err) { finish(err.status === 404 ? gone : err.message); });
  }

  function init() {
    if (document.querySelector('[data-testid="oauth-return"]')) { resumeOAuth(); return; }
  }
  // A page restored from the back/forward cache starts idle again.
  window.addEventListener("pageshow", function (ev) {
    if (!ev.persisted) return;
    if (flow.handler) { flow.handler.destroy(); flow.handler = null; }
    pageInert(false);
    flow.busy = false; setButtons(false); hideAll();
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();

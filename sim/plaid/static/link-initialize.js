// Link simulator: window.Plaid with the web SDK's interface. The UI lives in
// an iframe served by the Plaid stand-in (its own origin); the two sides
// talk with postMessage and check each other's origin.
(function () {
  'use strict';
  if (window.Plaid && window.Plaid.simulator) {
    return;
  }
  var script = document.currentScript;
  var plaidOrigin = new URL(script ? script.src : '/', window.location.href).origin;
  // Like Plaid's SDK, the simulator puts a style element of its own into the
  // host page (carrying the nonce of its script tag, so a CSP with a nonce
  // allows it) and sets inline style attributes on its iframe (allowed only
  // by style-src-attr): the page's CSP is tested as Plaid's script tests it.
  var nonce = script ? script.nonce || script.getAttribute('nonce') || '' : '';
  var noop = function () {};

  function injectStyle() {
    if (document.querySelector('style[data-plaid-link-style]')) {
      return;
    }
    var el = document.createElement('style');
    el.setAttribute('data-plaid-link-style', '');
    if (nonce) {
      el.setAttribute('nonce', nonce);
    }
    el.textContent = 'iframe[data-testid="plaid-link-iframe"]{position:fixed;top:0;left:0;width:100%;height:100%;' +
      'border:0;z-index:2147483647;background:transparent;display:none}';
    (document.head || document.documentElement).appendChild(el);
  }

  function create(config) {
    if (!config || typeof config.token !== 'string' || config.token === '') {
      throw new Error('Plaid.create: token is required');
    }
    var onSuccess = config.onSuccess || noop;
    var onExit = config.onExit || noop;
    var onEvent = config.onEvent || noop;
    var onLoad = config.onLoad || noop;
    var ready = false;
    var wantOpen = false;
    var isOpen = false;
    var destroyed = false;

    var iframe = document.createElement('iframe');
    iframe.setAttribute('data-testid', 'plaid-link-iframe');
    iframe.setAttribute('title', 'Plaid Link');
    iframe.src = plaidOrigin + '/link/frame?origin=' + encodeURIComponent(window.location.origin);
    injectStyle();
    iframe.setAttribute('style', 'display:none');

    function send(msg) {
      if (iframe.contentWindow) {
        iframe.contentWindow.postMessage(msg, plaidOrigin);
      }
    }

    function hide() {
      isOpen = false;
      iframe.setAttribute('style', 'display:none');
    }

    function doOpen() {
      isOpen = true;
      iframe.setAttribute('style', 'display:block');
      iframe.focus(); // keyboard focus moves into Link, as with Plaid's SDK
      send({
        type: 'open',
        token: config.token,
        receivedRedirectUri: config.receivedRedirectUri || ''
      });
    }

    function onMessage(e) {
      if (e.origin !== plaidOrigin || e.source !== iframe.contentWindow || destroyed) {
        return;
      }
      var m = e.data || {};
      switch (m.type) {
        case 'ready':
          ready = true;
          onLoad();
          if (wantOpen) {
            wantOpen = false;
            doOpen();
          }
          break;
        case 'event':
          onEvent(m.eventName, m.metadata);
          break;
        case 'success':
          hide();
          onSuccess(m.publicToken, m.metadata);
          break;
        case 'exit':
          hide();
          onExit(m.error, m.metadata);
          break;
        case 'oauth_redirect':
          window.location.assign(m.url);
          break;
      }
    }
    window.addEventListener('message', onMessage);

    function attach() {
      document.body.appendChild(iframe);
    }
    if (document.body) {
      attach();
    } else {
      document.addEventListener('DOMContentLoaded', attach);
    }

    return {
      open: function () {
        if (destroyed || isOpen) {
          return;
        }
        if (ready) {
          doOpen();
        } else {
          wantOpen = true;
        }
      },
      exit: function (opts) {
        if (!isOpen) {
          return;
        }
        send({ type: 'exit', force: !!(opts && opts.force) });
      },
      destroy: function () {
        destroyed = true;
        window.removeEventListener('message', onMessage);
        if (iframe.parentNode) {
          iframe.parentNode.removeChild(iframe);
        }
      },
      submit: function (data) {
        send({ type: 'submit', data: data || {} });
      }
    };
  }

  window.Plaid = { create: create, simulator: true, version: 'local-simulator' };
})();

// Link simulator UI, inside the iframe at the Plaid stand-in's origin. The
// server keeps the flow's state; this script renders views and reports
// events to the page that embeds it.
(function () {
  'use strict';
  var params = new URLSearchParams(window.location.search);
  var parentOrigin = params.get('origin') || '';
  var root = document.getElementById('root');
  var st = {};

  // Where the user is when they leave, per view (onExit's metadata.status).
  var exitStatus = {
    SELECT_INSTITUTION: 'institution_not_found',
    CREDENTIAL: 'requires_credentials',
    MFA: 'requires_code',
    OAUTH: 'requires_oauth',
    SELECT_ACCOUNT: 'requires_account_selection'
  };

  function post(msg) {
    window.parent.postMessage(msg, parentOrigin);
  }

  function institutionField(name) {
    return st.institution ? st.institution[name] : null;
  }

  function emit(eventName, extra) {
    var md = {
      error_code: null,
      error_message: null,
      error_type: null,
      exit_status: null,
      institution_id: institutionField('institution_id'),
      institution_name: institutionField('name'),
      institution_search_query: null,
      is_update_mode: !!st.isUpdate,
      link_session_id: st.sessionId || null,
      mfa_type: null,
      request_id: st.requestId || null,
      selection: null,
      timestamp: new Date().toISOString(),
      view_name: null
    };
    Object.keys(extra || {}).forEach(function (k) { md[k] = extra[k]; });
    post({ type: 'event', eventName: eventName, metadata: md });
  }

  function api(path, body) {
    body.link_session_id = st.sessionId;
    var gen = st.generation;
    return fetch('/link/api/' + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'omit'
    }).then(function (r) {
      return r.json().then(function (j) {
        if (gen !== st.generation) {
          throw { stale: true };
        }
        if (j.request_id) {
          st.requestId = j.request_id;
        }
        if (j.link_session_id) {
          st.sessionId = j.link_session_id;
        }
        if (!r.ok) {
          throw j;
        }
        return j;
      });
    }, function () {
      throw {
        error: {
          error_type: 'API_ERROR',
          error_code: 'INTERNAL_SERVER_ERROR',
          error_message: 'the Link simulator could not reach the Plaid stand-in',
          display_message: 'Something went wrong. Please try again later.'
        }
      };
    });
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') {
        node.textContent = attrs[k];
      } else if (k === 'testid') {
        node.setAttribute('data-testid', attrs[k]);
      } else if (k === 'class') {
        node.className = attrs[k];
      } else {
        node.setAttribute(k, attrs[k]);
      }
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }

  function render(children) {
    root.textContent = '';
    var close = el('button', { type: 'button', class: 'close', testid: 'plaid-close', 'aria-label': 'Close', text: '\u00d7' });
    close.addEventListener('click', function () { exitLink(); });
    root.appendChild(close);
    children.forEach(function (c) { root.appendChild(c); });
    var first = root.querySelector('input, .institution') || close;
    first.focus();
  }

  function transition(view) {
    st.view = view;
    if (view in exitStatus) {
      st.step = view;
    }
    emit('TRANSITION_VIEW', { view_name: view });
  }

  function primary(label, onClick) {
    var b = el('button', { type: 'submit', class: 'primary', testid: 'plaid-submit', text: label });
    b.addEventListener('click', function (e) {
      e.preventDefault();
      if (!b.disabled) {
        onClick(b);
      }
    });
    return b;
  }

  function busy(button, promise) {
    button.disabled = true;
    return promise.catch(function (err) {
      button.disabled = false;
      throw err;
    });
  }

  function next(r) {
    if (r.institution) {
      st.institution = r.institution;
    }
    switch (r.view) {
      case 'SELECT_INSTITUTION':
        showInstitutions(r.institutions || []);
        break;
      case 'CREDENTIAL':
        showCredentials();
        break;
      case 'MFA':
        showMFA(r.mfa_type);
        break;
      case 'OAUTH':
        showOAuth();
        break;
      case 'SELECT_ACCOUNT':
        showAccounts(r.accounts || [], r.selected_account_ids || [], !!r.multiple);
        break;
      case 'CONNECTED':
        finish([]);
        break;
    }
  }

  function showInstitutions(all) {
    transition('SELECT_INSTITUTION');
    var list = el('ul', { class: 'list' });
    var search = el('input', { type: 'search', testid: 'plaid-search', placeholder: 'Search', 'aria-label': 'Search institutions', autocomplete: 'off' });
    function fill(q) {
      list.textContent = '';
      var needle = q.trim().toLowerCase();
      all.filter(function (inst) {
        return needle === '' || inst.name.toLowerCase().indexOf(needle) >= 0;
      }).forEach(function (inst) {
        var b = el('button', { type: 'button', class: 'institution', testid: 'plaid-institution', 'data-institution-id': inst.institution_id, text: inst.name });
        b.addEventListener('click', function () { chooseInstitution(inst); });
        list.appendChild(el('li', {}, [b]));
      });
      if (!list.firstChild) {
        list.appendChild(el('li', { text: 'No results' }));
      }
    }
    search.addEventListener('input', function () {
      fill(search.value);
      emit('SEARCH_INSTITUTION', { institution_search_query: search.value, view_name: 'SELECT_INSTITUTION' });
    });
    fill('');
    render([el('h1', { text: 'Select your bank' }), search, list]);
  }

  function chooseInstitution(inst) {
    st.institution = { name: inst.name, institution_id: inst.institution_id };
    emit('SELECT_INSTITUTION', { view_name: 'SELECT_INSTITUTION' });
    api('institution', { institution_id: inst.institution_id }).then(next, failed);
  }

  function showCredentials() {
    transition('CREDENTIAL');
    var user = el('input', { type: 'text', id: 'username', testid: 'plaid-username', autocomplete: 'off' });
    var pass = el('input', { type: 'password', id: 'password', testid: 'plaid-password', autocomplete: 'off' });
    var submit = primary('Submit', function (b) {
      emit('SUBMIT_CREDENTIALS', { view_name: 'CREDENTIAL' });
      busy(b, api('credentials', { username: user.value, password: pass.value })).then(next, failed);
    });
    var form = el('form', {}, [
      el('label', { for: 'username', text: 'Username' }), user,
      el('label', { for: 'password', text: 'Password' }), pass,
      submit
    ]);
    render([
      el('h1', { text: 'Log in at ' + institutionField('name') }),
      el('p', { class: 'sandbox', text: 'Sandbox: user_good / pass_good; mfa_device for a code step (1234); error_<CODE> to fail.' }),
      form
    ]);
  }

  function showMFA(mfaType) {
    transition('MFA');
    var code = el('input', { type: 'text', id: 'mfa', testid: 'plaid-mfa-code', inputmode: 'numeric', autocomplete: 'one-time-code' });
    var submit = primary('Submit', function (b) {
      emit('SUBMIT_MFA', { view_name: 'MFA', mfa_type: mfaType || 'code' });
      busy(b, api('mfa', { code: code.value })).then(next, failed);
    });
    render([
      el('h1', { text: 'Enter your code' }),
      el('p', { text: 'We sent a one-time code to your device.' }),
      el('p', { class: 'sandbox', text: 'Sandbox: the code is 1234.' }),
      el('form', {}, [el('label', { for: 'mfa', text: 'Code' }), code, submit])
    ]);
  }

  function showOAuth() {
    transition('OAUTH');
    var submit = primary('Continue to ' + institutionField('name'), function (b) {
      busy(b, api('oauth', {})).then(function (r) {
        emit('OPEN_OAUTH', { view_name: 'OAUTH' });
        if (r.redirect_url) {
          render([el('h1', { text: 'Continue at your bank' }), el('p', { text: 'Waiting for ' + institutionField('name') + '\u2026' })]);
          post({ type: 'oauth_redirect', url: r.redirect_url });
          return;
        }
        next(r);
      }, failed);
    });
    render([
      el('h1', { text: 'Log in at ' + institutionField('name') }),
      el('p', { text: 'You will be sent to your bank to log in and choose what to share.' }),
      submit
    ]);
  }

  function showAccounts(accounts, selected, multiple) {
    transition('SELECT_ACCOUNT');
    var submit = primary('Continue', function (b) {
      var ids = inputs.filter(function (i) { return i.checked; }).map(function (i) { return i.value; });
      busy(b, api('accounts', { account_ids: ids })).then(succeeded, failed);
    });
    var inputs = [];
    var list = el('ul', { class: 'list' });
    accounts.forEach(function (a) {
      var input = el('input', {
        type: multiple ? 'checkbox' : 'radio',
        name: 'account',
        value: a.id,
        testid: 'plaid-account',
        'data-account-id': a.id
      });
      input.checked = selected.indexOf(a.id) >= 0;
      input.addEventListener('change', update);
      inputs.push(input);
      list.appendChild(el('li', {}, [el('label', { class: 'account' }, [input, el('span', { text: a.name + ' \u2022\u2022\u2022\u2022 ' + a.mask + ' (' + a.subtype + ')' })])]));
    });
    function update() {
      submit.disabled = !inputs.some(function (i) { return i.checked; });
    }
    update();
    render([
      el('h1', { text: multiple ? 'Choose the accounts to share' : 'Choose an account' }),
      el('form', {}, [list, submit])
    ]);
  }

  function finish(ids) {
    api('accounts', { account_ids: ids }).then(succeeded, failed);
  }

  function succeeded(r) {
    transition('CONNECTED');
    emit('HANDOFF', { view_name: 'CONNECTED' });
    st.done = true;
    root.textContent = '';
    post({ type: 'success', publicToken: r.public_token, metadata: r.metadata });
  }

  function failed(err) {
    if (err && err.stale) {
      return;
    }
    var e = (err && err.error) || {};
    st.lastError = {
      error_type: e.error_type || 'API_ERROR',
      error_code: e.error_code || 'INTERNAL_SERVER_ERROR',
      error_message: e.error_message || 'unexpected error',
      display_message: e.display_message || null
    };
    emit('ERROR', {
      view_name: 'ERROR',
      error_type: st.lastError.error_type,
      error_code: st.lastError.error_code,
      error_message: st.lastError.error_message
    });
    if (!st.opened) {
      // Link could not start (bad, expired or invalidated token): leave at once.
      exitLink();
      return;
    }
    transition('ERROR');
    var retryView = err && err.retry_view;
    var children = [
      el('div', { class: 'error', testid: 'plaid-error', 'data-error-code': st.lastError.error_code }, [
        el('h1', { text: 'Something went wrong' }),
        el('p', { text: st.lastError.display_message || st.lastError.error_message }),
        el('p', { class: 'code', text: st.lastError.error_code })
      ])
    ];
    if (retryView) {
      children.push(primary('Try again', function () {
        if (retryView === 'MFA') {
          showMFA('code');
        } else {
          showCredentials();
        }
      }));
    } else {
      children.push(primary('Exit', function () { exitLink(); }));
    }
    render(children);
  }

  function exitLink() {
    if (st.done) {
      return;
    }
    st.done = true;
    var status = st.opened ? (exitStatus[st.step] || null) : null;
    emit('EXIT', { view_name: st.view || null, exit_status: status });
    root.textContent = '';
    post({
      type: 'exit',
      error: st.lastError || null,
      metadata: {
        institution: st.institution || null,
        status: status,
        link_session_id: st.sessionId || null,
        request_id: st.requestId || null
      }
    });
  }

  function open(msg) {
    st = { generation: (st.generation || 0) + 1, token: msg.token };
    render([el('p', { text: 'Loading\u2026' })]);
    fetch('/link/api/open', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: msg.token, received_redirect_uri: msg.receivedRedirectUri || '' }),
      credentials: 'omit'
    }).then(function (r) {
      return r.json().then(function (j) {
        st.requestId = j.request_id || null;
        st.sessionId = j.link_session_id || null;
        if (!r.ok) {
          throw j;
        }
        return j;
      });
    }).then(function (r) {
      st.opened = true;
      st.isUpdate = !!r.is_update_mode;
      st.institution = r.institution || null;
      emit('OPEN', { view_name: r.view });
      next(r);
    }).catch(failed);
  }

  window.addEventListener('message', function (e) {
    if (e.origin !== parentOrigin || e.source !== window.parent) {
      return;
    }
    var m = e.data || {};
    if (m.type === 'open') {
      open(m);
    } else if (m.type === 'exit') {
      exitLink();
    }
  });

  // Escape leaves Link as the close button does, and Tab cycles within the
  // dialog, as in Plaid's Link.
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape' && root.firstChild && !st.done) {
      e.preventDefault();
      exitLink();
    } else if (e.key === 'Tab' && root.firstChild) {
      var f = Array.prototype.filter.call(root.querySelectorAll('button, input, select, a[href]'), function (n) {
        return !n.disabled && n.getClientRects().length > 0;
      });
      if (!f.length) {
        return;
      }
      var first = f[0], last = f[f.length - 1], at = document.activeElement;
      if (!root.contains(at) || (e.shiftKey ? at === first : at === last)) {
        e.preventDefault();
        (e.shiftKey ? last : first).focus();
      }
    }
  });

  post({ type: 'ready' });
})();

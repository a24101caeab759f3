/*
 * The approval page's script: countdown, double-submit guard, notification intent note, "enable push" button,
 * passkeys (add, remove, "always") and signing a decision with one (on the batch page, every decision with one assertion).
 * Plain browser JavaScript (no modules, no code from strings, no markup from strings): untrusted text only reaches the DOM
 * through textContent. Served from /approve/assets/page.js under the page's CSP (script-src 'self').
 */
(function () {
  'use strict';

  function $(id) {
    return document.getElementById(id);
  }

  function formatDuration(total) {
    var s = Math.floor(total);
    if (!isFinite(s) || s <= 0) return 'expired';
    var d = Math.floor(s / 86400);
    var h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60);
    var sec = s % 60;
    if (d > 0) return d + ' d ' + h + ' h';
    if (h > 0) return h + ' h ' + m + ' min';
    if (m > 0) return m + ' min ' + sec + ' s';
    return sec + ' s';
  }

  function decisionButtons() {
    return [$('approve'), $('deny'), $('submit-each')].filter(function (b) {
      return !!b;
    });
  }

  var expired = false;

  function setButtonsDisabled(disabled) {
    decisionButtons().forEach(function (b) {
      b.disabled = disabled;
    });
  }

  function markExpired() {
    expired = true;
    setButtonsDisabled(true);
    var note = $('expired-note');
    if (note) {
      note.textContent = 'This request has expired';
      note.hidden = false;
    }
    var t = $('time-left');
    if (t) t.textContent = 'expired';
  }

  // Countdown. The server's seconds-left (relative to page load) is preferred because it is immune to a wrong
  // device clock; data-expires-at is the fallback.
  function startCountdown() {
    var el = $('time-left');
    if (!el) return;
    var deadline = NaN;
    var secondsLeft = el.getAttribute('data-seconds-left');
    if (secondsLeft !== null && secondsLeft !== '' && isFinite(Number(secondsLeft))) {
      deadline = Date.now() + Number(secondsLeft) * 1000;
    } else {
      deadline = Date.parse(el.getAttribute('data-expires-at') || '');
    }
    if (isNaN(deadline)) return;
    var timer = null;
    function tick() {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      if (left <= 0) {
        if (timer !== null) clearInterval(timer);
        markExpired();
        return;
      }
      el.textContent = formatDuration(left);
    }
    tick();
    if (!expired) timer = setInterval(tick, 1000);
  }

  // Double-submit guard. Disabled buttons are not part of the submitted form data, so the clicked button's
  // name/value is copied into a hidden field before the buttons are disabled.
  function guardForm() {
    var form = $('decision-form');
    if (!form) return;
    var lastClicked = null;
    decisionButtons().forEach(function (b) {
      b.addEventListener('click', function () {
        lastClicked = b;
      });
    });
    var reason = $('reason');
    if (reason) {
      reason.addEventListener('input', function () {
        reason.setCustomValidity('');
      });
    }
    var submitting = false;
    form.addEventListener('submit', function (event) {
      if (submitting || expired) {
        event.preventDefault();
        return;
      }
      if (reason && reason.value.trim() === '') {
        event.preventDefault();
        reason.setCustomValidity('Please give a reason.');
        if (reason.reportValidity) reason.reportValidity();
        return;
      }
      var submitter = event.submitter || lastClicked;
      if (!submitter || !submitter.name) return; // let the server reject a submit without a decision
      var hidden = form.querySelector('input[type="hidden"][data-decision]');
      if (!hidden) {
        hidden = document.createElement('input');
        hidden.type = 'hidden';
        hidden.setAttribute('data-decision', '');
        form.appendChild(hidden);
      }
      hidden.name = submitter.name;
      hidden.value = submitter.value;
      submitting = true;
      setButtonsDisabled(true);
      // Signed with a passkey: the form waits for the assertion over this decision and reason, then posts it along.
      var assertion = $('passkey-assertion');
      if (wantsPasskey() && assertion && !assertion.value) {
        event.preventDefault();
        var sign = form.getAttribute('data-batch') ? signBatch : signDecision;
        sign(form, submitter.value, reason ? reason.value : '')
          .then(function (signed) {
            assertion.value = JSON.stringify(signed);
            form.submit();
          })
          .catch(function (err) {
            submitting = false;
            setButtonsDisabled(false);
            sayPasskey('passkey-sign-status', 'Your decision was not signed: ' + messageOf(err));
          });
      }
    });
    // Coming back via the back/forward cache: allow another try unless expired.
    window.addEventListener('pageshow', function (event) {
      if (event.persisted && !expired) {
        submitting = false;
        setButtonsDisabled(false);
        var h = form.querySelector('input[type="hidden"][data-decision]');
        if (h && h.parentNode) h.parentNode.removeChild(h);
      }
    });
  }

  // The notification's Approve/Deny action only opens this page; say which one was tapped, decide nothing.
  function showIntent() {
    var note = $('intent-note');
    if (!note || !window.URLSearchParams) return;
    var intent = new URLSearchParams(window.location.search).get('intent');
    if (intent !== 'approve' && intent !== 'deny') return;
    var label = intent === 'approve' ? 'Approve' : 'Deny';
    note.textContent = 'You tapped ' + label + ' in the notification. Nothing has been decided yet: give a reason, then press ' + label + ' below to confirm.';
    note.hidden = false;
  }

  function base64UrlToUint8Array(value) {
    var s = String(value).replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4 !== 0) s += '=';
    var raw = window.atob(s);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function sameKey(a, b) {
    if (!a || !b) return false;
    var x = new Uint8Array(a);
    if (x.length !== b.length) return false;
    for (var i = 0; i < x.length; i++) if (x[i] !== b[i]) return false;
    return true;
  }

  function askPermission() {
    return new Promise(function (resolve, reject) {
      try {
        var r = Notification.requestPermission(function (p) {
          resolve(p);
        });
        if (r && typeof r.then === 'function') r.then(resolve, reject);
      } catch (e) {
        reject(e);
      }
    });
  }

  function setupPush() {
    var button = $('enable-push');
    var status = $('push-status');
    if (!button) return;
    function say(text) {
      if (status) status.textContent = text;
    }

    button.addEventListener('click', function () {
      if (!('serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window)) {
        say('Push notifications are not supported on this browser. (On iPhone or iPad, add this site to your Home Screen first.)');
        return;
      }
      var key = button.getAttribute('data-vapid-public-key') || '';
      var link = button.getAttribute('data-link') || '';
      var appKey;
      try {
        appKey = base64UrlToUint8Array(key);
      } catch (e) {
        say('Could not enable notifications: the server key is invalid.');
        return;
      }
      button.disabled = true;
      say('Setting up notifications...');
      // Ask for permission first, straight from the click, so browsers that need a user gesture accept it.
      askPermission()
        .then(function (permission) {
          if (permission !== 'granted') {
            throw new Error(
              permission === 'denied'
                ? 'Notifications are blocked for this site. You can allow them in your browser settings.'
                : 'Notifications were not allowed.',
            );
          }
          return navigator.serviceWorker.register('/sw.js', { scope: '/' });
        })
        .then(function () {
          return navigator.serviceWorker.ready;
        })
        .then(function (registration) {
          return registration.pushManager.getSubscription().then(function (existing) {
            if (existing && existing.options && sameKey(existing.options.applicationServerKey, appKey)) return existing;
            var drop = existing ? existing.unsubscribe() : Promise.resolve(true);
            return drop.then(function () {
              return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: appKey });
            });
          });
        })
        .then(function (subscription) {
          return fetch('/v1/push-subscriptions', {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: 'Bearer ' + link },
            body: JSON.stringify(subscription),
            credentials: 'same-origin',
          });
        })
        .then(function (response) {
          if (!response.ok) throw new Error('The server did not accept this device (HTTP ' + response.status + ').');
          say('Notifications are on for this device.');
          button.textContent = 'Notifications enabled';
        })
        .catch(function (err) {
          button.disabled = false;
          var msg = err && err.message ? String(err.message) : 'unknown error';
          say('Could not enable notifications: ' + msg);
        });
    });
  }

  function messageOf(err) {
    return err && err.message ? String(err.message) : 'unknown error';
  }

  function sayPasskey(id, text) {
    var el = $(id);
    if (el) el.textContent = text;
  }

  function wantsPasskey() {
    var form = $('decision-form');
    var box = $('sign-with-passkey');
    return !!(box && box.checked) || !!(form && form.getAttribute('data-passkey-required'));
  }

  // The API calls of the passkey ceremonies: the page's link is the approver's credential (Bearer).
  function api(method, path, body) {
    var form = $('decision-form');
    var register = $('register-passkey');
    var link = (form && form.getAttribute('data-link')) || (register && register.getAttribute('data-link')) || '';
    var headers = { authorization: 'Bearer ' + link };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return fetch(path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    }).then(function (response) {
      if (response.status === 204) return null;
      return response.json().then(function (json) {
        if (!response.ok) throw new Error(json && json.error_description ? json.error_description : 'HTTP ' + response.status);
        return json;
      });
    });
  }

  function webauthn() {
    if (!window.SimpleWebAuthnBrowser || !window.SimpleWebAuthnBrowser.browserSupportsWebAuthn()) {
      throw new Error('this browser does not support passkeys');
    }
    return window.SimpleWebAuthnBrowser;
  }

  // The server's challenge binds this request, its call, the decision and the reason; the passkey signs it.
  function signDecision(form, decision, reason) {
    var id = form.getAttribute('data-approval-id');
    sayPasskey('passkey-sign-status', 'Confirm with your passkey...');
    return Promise.resolve()
      .then(function () {
        webauthn();
        return api('POST', '/v1/approvals/' + encodeURIComponent(id) + '/passkey-challenge', { decision: decision, reason: reason.trim() });
      })
      .then(function (challenge) {
        return webauthn().startAuthentication({ optionsJSON: challenge.options });
      });
  }

  // The batch page's decisions exactly as the server will read the form: all alike with the shared
  // reason, or each call's own choice (Decide later: none) with its own reason or the shared one.
  function batchItems(form, all, reason) {
    var shared = reason.trim();
    var ids = Array.prototype.map.call(form.querySelectorAll('input[type="hidden"][name="ids"]'), function (input) {
      return input.value;
    });
    return ids
      .map(function (id) {
        if (all === 'approve' || all === 'deny') return { auth_req_id: id, decision: all, reason: shared };
        var choice = form.elements.namedItem('decision.' + id);
        var decision = choice ? choice.value : '';
        if (decision !== 'approve' && decision !== 'deny') return null;
        var own = form.elements.namedItem('reason.' + id);
        return { auth_req_id: id, decision: decision, reason: (own && own.value.trim()) || shared };
      })
      .filter(function (item) {
        return item !== null;
      });
  }

  // One passkey assertion over the whole batch: the server's challenge binds every call, decision and reason.
  function signBatch(form, all, reason) {
    sayPasskey('passkey-sign-status', 'Confirm with your passkey...');
    return Promise.resolve()
      .then(function () {
        webauthn();
        var items = batchItems(form, all, reason);
        if (!items.length) throw new Error('choose Approve or Deny for at least one call');
        return api('POST', '/v1/approvals/batch/passkey-challenge', { items: items });
      })
      .then(function (challenge) {
        return webauthn().startAuthentication({ optionsJSON: challenge.options });
      });
  }

  // Whether the approver has a passkey (the page lists each with its Remove button).
  function hasPasskey() {
    var list = $('passkey-list');
    return !!(list && list.querySelector('.passkey-remove'));
  }

  // Once the approver has a passkey, adding another, removing one and switching "always" off need
  // its assertion over a challenge that binds that change (the server refuses them without one).
  // The first passkey needs none: there is nothing to sign with yet.
  function proveChange(change) {
    if (!hasPasskey()) return Promise.resolve(undefined);
    sayPasskey('passkey-status', 'Confirm with one of your passkeys...');
    return api('POST', '/v1/passkeys/management-challenge', change).then(function (challenge) {
      return webauthn().startAuthentication({ optionsJSON: challenge.options });
    });
  }

  function setupPasskeys() {
    var register = $('register-passkey');
    if (register) {
      register.addEventListener('click', function () {
        register.disabled = true;
        sayPasskey('passkey-status', 'Creating a passkey...');
        var name = $('passkey-name');
        var proof;
        Promise.resolve()
          .then(function () {
            webauthn();
            return proveChange({ action: 'register' });
          })
          .then(function (signed) {
            proof = signed;
            sayPasskey('passkey-status', 'Creating a passkey...');
            return api('POST', '/v1/passkeys/registration-options');
          })
          .then(function (options) {
            return webauthn().startRegistration({ optionsJSON: options });
          })
          .then(function (response) {
            var body = { response: response };
            if (proof) body.proof = proof;
            if (name && name.value.trim()) body.name = name.value.trim();
            return api('POST', '/v1/passkeys', body);
          })
          .then(function (saved) {
            register.disabled = false;
            addPasskeyItem(saved);
            var always = $('passkey-always');
            if (always) always.disabled = false;
            sayPasskey('passkey-status', 'Passkey added.');
          })
          .catch(function (err) {
            register.disabled = false;
            sayPasskey('passkey-status', 'Could not add a passkey: ' + messageOf(err));
          });
      });
    }
    var list = $('passkey-list');
    if (list) {
      list.addEventListener('click', function (event) {
        var button = event.target;
        if (!button || !button.classList || !button.classList.contains('passkey-remove')) return;
        var id = button.getAttribute('data-passkey-id');
        button.disabled = true;
        Promise.resolve()
          .then(function () {
            return proveChange({ action: 'remove', passkey_id: id });
          })
          .then(function (proof) {
            return api('DELETE', '/v1/passkeys/' + encodeURIComponent(id), proof ? { proof: proof } : undefined);
          })
          .then(function () {
            var item = $('passkey-' + id);
            if (item && item.parentNode) item.parentNode.removeChild(item);
            sayPasskey('passkey-status', 'Passkey removed.');
          })
          .catch(function (err) {
            button.disabled = false;
            sayPasskey('passkey-status', 'Could not remove the passkey: ' + messageOf(err));
          });
      });
    }
    var always = $('passkey-always');
    if (always) {
      always.addEventListener('change', function () {
        var wanted = always.checked;
        Promise.resolve()
          .then(function () {
            // Switching it on needs no proof; switching it off does.
            return wanted ? undefined : proveChange({ action: 'preference', always: false });
          })
          .then(function (proof) {
            var body = { always: wanted };
            if (proof) body.proof = proof;
            return api('PUT', '/v1/passkeys/preference', body);
          })
          .then(function () {
            sayPasskey(
              'passkey-status',
              wanted ? 'You will always sign your decisions with a passkey.' : 'Signing with a passkey is now your choice each time.',
            );
          })
          .catch(function (err) {
            always.checked = !wanted;
            sayPasskey('passkey-status', 'Could not save: ' + messageOf(err));
          });
      });
    }
  }

  // Built with textContent only: a passkey's name is untrusted text.
  function addPasskeyItem(saved) {
    var list = $('passkey-list');
    if (!list || !saved) return;
    var item = document.createElement('li');
    item.id = 'passkey-' + saved.id;
    var name = document.createElement('span');
    name.className = 'passkey-name';
    name.textContent = saved.name || 'Passkey';
    var when = document.createElement('span');
    when.className = 'muted';
    when.textContent = 'added ' + String(saved.created_at).slice(0, 10);
    var remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'btn btn--secondary passkey-remove';
    remove.setAttribute('data-passkey-id', saved.id);
    remove.textContent = 'Remove';
    item.appendChild(name);
    item.appendChild(document.createTextNode(' '));
    item.appendChild(when);
    item.appendChild(document.createTextNode(' '));
    item.appendChild(remove);
    list.appendChild(item);
    // The form's "add a passkey first" note no longer holds.
    ['passkey-none', 'passkey-missing'].forEach(function (id) {
      var note = $(id);
      if (note && note.parentNode) note.parentNode.removeChild(note);
    });
  }

  // "15 min", "1 h", "1 h 30 min", "7 d": every unit that is not zero. Mirrors formatWindow in standing-choice.ts.
  function formatWindow(total) {
    var s = Math.max(0, Math.floor(total));
    var parts = [
      [Math.floor(s / 86400), 'd'],
      [Math.floor((s % 86400) / 3600), 'h'],
      [Math.floor((s % 3600) / 60), 'min'],
      [s % 60, 's'],
    ]
      .filter(function (p) {
        return p[0] > 0;
      })
      .map(function (p) {
        return p[0] + ' ' + p[1];
      });
    return parts.join(' ') || '0 s';
  }

  // Exactly what a standing approval with these terms lets through. Mirrors standingCovers in standing-choice.ts.
  function standingCovers(who, session, terms) {
    if (terms.scope === 'call') return 'Only the call above; the agent asks again next time.';
    var args = terms.pins.length ? 'with ' + terms.pins.join(', ') + ' (other arguments may differ)' : 'with any arguments';
    var where = terms.scope === 'session' ? 'in MCP session ' + session + ', for up to' : 'in any session, for';
    var uses = terms.maxUses === null ? ', any number of calls' : ', at most ' + terms.maxUses + (terms.maxUses === 1 ? ' call' : ' calls');
    return 'Later ' + who + ' ' + args + ', ' + where + ' ' + formatWindow(terms.expiresIn) + uses + '.';
  }

  // The standing-approval choice: its terms (pins, window, uses) show only for a standing scope, and the
  // summary says, as the approver chooses, exactly what the approval would let through.
  function setupStanding() {
    var fieldset = $('standing');
    var summary = $('standing-summary');
    if (!fieldset || !summary) return;
    var terms = $('standing-terms');
    var fields = $('standing-terms-fields');
    var lasts = $('standing-expires-in');
    var uses = $('standing-max-uses');
    var cap = fieldset.getAttribute('data-max-uses') ? Number(fieldset.getAttribute('data-max-uses')) : null;
    function scope() {
      var checked = fieldset.querySelector('input[name="standing"]:checked');
      return checked ? checked.value : 'call';
    }
    function chosenUses() {
      if (!uses || uses.value.trim() === '') return { ok: true, value: cap };
      var n = Number(uses.value);
      var ok = /^[0-9]+$/.test(uses.value.trim()) && n >= 1 && (cap === null || n <= cap);
      return { ok: ok, value: n };
    }
    function update() {
      var s = scope();
      if (terms) terms.hidden = s === 'call';
      // Disabled fields are not posted: "this call only" sends no terms.
      if (fields) fields.disabled = s === 'call';
      var count = chosenUses();
      if (uses)
        uses.setCustomValidity(
          count.ok ? '' : cap === null ? 'Enter a whole number of calls, at least 1.' : 'Enter a whole number of calls from 1 to ' + cap + '.',
        );
      if (!count.ok) {
        summary.textContent = cap === null ? 'The number of calls must be a whole number, at least 1.' : 'The number of calls must be from 1 to ' + cap + '.';
        return;
      }
      var pins = Array.prototype.filter
        .call(fieldset.querySelectorAll('input.standing-pin'), function (box) {
          return box.checked;
        })
        .map(function (box) {
          return box.getAttribute('data-text');
        });
      summary.textContent = standingCovers(fieldset.getAttribute('data-who') || '', fieldset.getAttribute('data-session') || '', {
        scope: s,
        pins: pins,
        expiresIn: lasts ? Number(lasts.value) : 0,
        maxUses: count.value,
      });
    }
    fieldset.addEventListener('change', update);
    fieldset.addEventListener('input', update);
    // The browser may restore the form's choices (back, reload): start from them.
    window.addEventListener('pageshow', update);
    update();
  }

  function init() {
    startCountdown();
    setupStanding();
    guardForm();
    showIntent();
    setupPush();
    setupPasskeys();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();

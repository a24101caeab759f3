/**
 * The approval page's static assets, served from the same origin (the page CSP is
 * `script-src 'self'; style-src 'self'; worker-src 'self'`, so nothing here may be inlined in the HTML):
 * - PAGE_CSS at /approve/assets/page.css
 * - PAGE_JS at /approve/assets/page.js
 * - SERVICE_WORKER_JS at /sw.js (root, so its scope '/' covers the approval pages; serve it with
 *   `content-type: text/javascript` and `cache-control: no-cache`)
 *
 * The scripts are plain browser JavaScript (no modules, no eval, no innerHTML); they only ever put untrusted text
 * into the DOM through textContent. They are written with String.raw and contain no backticks or `${`.
 */

/** Mobile-first stylesheet, system fonts only, WCAG AA colours, 44px+ targets, visible focus. */
export const PAGE_CSS = String.raw`/* Countersign approval pages */
*, *::before, *::after { box-sizing: border-box; }
:root {
  color-scheme: light;
  --text: #1b1f24;
  --muted: #4b5563;
  --bg: #f4f5f7;
  --card: #ffffff;
  --border: #d0d7de;
  --focus: #1d4ed8;
  --approve: #146c2e;
  --deny: #b3261e;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body {
  margin: 0;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif;
  font-size: 1rem;
  line-height: 1.5;
  color: var(--text);
  background: var(--bg);
}
[hidden] { display: none !important; }
a { color: var(--focus); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
textarea:focus { outline: 3px solid var(--focus); outline-offset: 1px; }
main:focus { outline: none; }
.skip-link {
  position: absolute; left: 0.5rem; top: -4rem;
  padding: 0.75rem 1rem; background: var(--card); color: var(--focus);
  border: 2px solid var(--focus); border-radius: 0.375rem; z-index: 10;
}
.skip-link:focus { top: 0.5rem; }
.site-header { background: var(--text); color: #ffffff; padding: 0.5rem 1rem; }
.site-header .brand { margin: 0 auto; max-width: 44rem; font-weight: 700; font-size: 1rem; }
main { display: block; max-width: 44rem; margin: 0 auto; padding: 1rem; }
.intro { margin: 0.5rem 0 1rem; }
.eyebrow { margin: 0; font-size: 0.875rem; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; }
h1 { font-size: 1.5rem; line-height: 1.25; margin: 0.25rem 0 0.5rem; overflow-wrap: anywhere; }
h2 { font-size: 1.25rem; line-height: 1.3; margin: 0 0 0.75rem; }
h3 { font-size: 1rem; margin: 1rem 0 0.5rem; }
p { margin: 0 0 0.75rem; }
.card {
  background: var(--card); border: 1px solid var(--border); border-radius: 0.5rem;
  padding: 1rem; margin: 0 0 1rem;
}
.card > :last-child { margin-bottom: 0; }
.muted { color: var(--muted); }
.signed-in { font-size: 0.9375rem; overflow-wrap: anywhere; }
code, pre { font-family: var(--mono); }
code { font-size: 0.875rem; overflow-wrap: anywhere; word-break: break-word; }
pre.json {
  margin: 0 0 0.75rem; padding: 0.75rem; background: #f6f8fa; border: 1px solid var(--border); border-radius: 0.375rem;
  font-size: 0.875rem; line-height: 1.45; white-space: pre-wrap; overflow-wrap: anywhere; max-height: 24rem; overflow: auto;
}
dl.facts { margin: 0 0 0.75rem; }
dl.facts .row { padding: 0.375rem 0; border-bottom: 1px solid #e5e7eb; }
dl.facts .row:last-child { border-bottom: 0; }
dl.facts dt { font-weight: 600; font-size: 0.875rem; color: var(--muted); overflow-wrap: anywhere; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
ol.chain, ul.votes { margin: 0 0 0.75rem; padding-left: 1.5rem; }
ol.chain li, ul.votes li { margin: 0.25rem 0; overflow-wrap: anywhere; }
blockquote.agent-reason {
  margin: 0 0 0.75rem; padding: 0.5rem 0.75rem; border-left: 4px solid var(--border); background: #f6f8fa;
  overflow-wrap: anywhere; white-space: pre-wrap;
}
blockquote.agent-reason p { margin: 0; }
.badge {
  display: inline-block; padding: 0.125rem 0.5rem; border: 2px solid currentColor; border-radius: 0.25rem;
  font-size: 0.875rem; font-weight: 700; text-transform: uppercase; letter-spacing: 0.03em;
  color: var(--text); background: #eef0f3; overflow-wrap: anywhere;
}
.badge--classification-public { color: #1b5e20; background: #e8f5e9; }
.badge--classification-internal { color: #1e3a8a; background: #e8f0fe; }
.badge--classification-confidential { color: #7a3e00; background: #fff4e5; }
.badge--classification-restricted,
.badge--classification-secret,
.badge--classification-top-secret,
.badge--environment-prod,
.badge--environment-production { color: #8a1c1c; background: #fde8e8; }
.vote { font-weight: 700; }
.vote--approve { color: var(--approve); }
.vote--deny { color: var(--deny); }
.quorum { font-size: 1.0625rem; }
.time-left { font-size: 1.5rem; font-weight: 700; margin-bottom: 0.25rem; font-variant-numeric: tabular-nums; }
.notice {
  padding: 0.75rem; border-left: 4px solid var(--focus); background: #eef4ff; border-radius: 0.25rem;
}
.notice--warning { border-left-color: #b45309; background: #fff4e5; font-weight: 700; }
label { display: block; font-weight: 700; margin-bottom: 0.25rem; }
.hint { font-size: 0.875rem; color: var(--muted); }
textarea {
  display: block; width: 100%; min-height: 6.5rem; padding: 0.625rem; margin: 0 0 0.75rem;
  font: inherit; font-size: 1rem; color: var(--text); background: #ffffff;
  border: 2px solid #6b7280; border-radius: 0.375rem; resize: vertical;
}
.actions { display: grid; grid-template-columns: 1fr 1fr; gap: 0.75rem; }
.btn {
  display: inline-flex; align-items: center; justify-content: center;
  min-height: 48px; min-width: 44px; padding: 0.625rem 1rem;
  font: inherit; font-size: 1.0625rem; font-weight: 700; line-height: 1.2;
  border: 2px solid transparent; border-radius: 0.375rem; cursor: pointer; touch-action: manipulation;
}
.btn--approve { background: var(--approve); color: #ffffff; }
.btn--approve:hover { background: #0f5524; }
.btn--deny { background: var(--deny); color: #ffffff; }
.btn--deny:hover { background: #8f1e18; }
.btn--secondary { background: #ffffff; color: var(--focus); border-color: var(--focus); width: 100%; }
.btn--secondary:hover { background: #eef4ff; }
.btn:disabled, .btn[aria-disabled="true"] { background: #e5e7eb; color: #4b5563; border-color: #9ca3af; cursor: not-allowed; }
.status { min-height: 1.5rem; margin-top: 0.5rem; }
.result--approve { color: var(--approve); }
.result--deny { color: var(--deny); }
.status-line { font-size: 1.125rem; font-weight: 700; }
.request-id { font-size: 0.875rem; overflow-wrap: anywhere; }
@media (min-width: 36rem) {
  main { padding: 1.5rem; }
  h1 { font-size: 1.875rem; }
  dl.facts .row { display: grid; grid-template-columns: 11rem 1fr; gap: 1rem; }
  .btn--secondary { width: auto; }
}
@media (forced-colors: active) {
  .btn { border-color: ButtonText; }
  .badge { border-color: CanvasText; }
}
`;

/** The approval page's script: countdown, double-submit guard, notification intent note, "enable push" button. */
export const PAGE_JS = String.raw`(function () {
  'use strict';

  function $(id) { return document.getElementById(id); }

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
    return [$('approve'), $('deny')].filter(function (b) { return !!b; });
  }

  var expired = false;

  function setButtonsDisabled(disabled) {
    decisionButtons().forEach(function (b) { b.disabled = disabled; });
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
      b.addEventListener('click', function () { lastClicked = b; });
    });
    var reason = $('reason');
    if (reason) {
      reason.addEventListener('input', function () { reason.setCustomValidity(''); });
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
        var r = Notification.requestPermission(function (p) { resolve(p); });
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
    function say(text) { if (status) status.textContent = text; }

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
            throw new Error(permission === 'denied'
              ? 'Notifications are blocked for this site. You can allow them in your browser settings.'
              : 'Notifications were not allowed.');
          }
          return navigator.serviceWorker.register('/sw.js', { scope: '/' });
        })
        .then(function () { return navigator.serviceWorker.ready; })
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

  function init() {
    startCountdown();
    guardForm();
    showIntent();
    setupPush();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
`;

/**
 * The service worker (/sw.js). Shows a push as a notification with Approve/Deny actions; a click only opens the
 * approval page (same origin only) — the approver always decides on the page, with a reason.
 */
export const SERVICE_WORKER_JS = String.raw`'use strict';

self.addEventListener('install', function () {
  self.skipWaiting();
});

self.addEventListener('activate', function (event) {
  event.waitUntil(self.clients.claim());
});

function sameOriginUrl(value) {
  if (typeof value !== 'string' || value === '') return null;
  try {
    var u = new URL(value, self.location.origin);
    return u.origin === self.location.origin ? u : null;
  } catch (e) {
    return null;
  }
}

self.addEventListener('push', function (event) {
  var payload = {};
  if (event.data) {
    try {
      payload = event.data.json() || {};
    } catch (e) {
      payload = { body: event.data.text() };
    }
  }
  var title = typeof payload.title === 'string' && payload.title ? payload.title : 'Approval requested';
  var options = {
    body: typeof payload.body === 'string' ? payload.body : '',
    data: { url: typeof payload.url === 'string' ? payload.url : null, auth_req_id: payload.auth_req_id || null },
    requireInteraction: true,
    actions: [
      { action: 'approve', title: 'Approve' },
      { action: 'deny', title: 'Deny' },
    ],
  };
  var tag = typeof payload.tag === 'string' && payload.tag ? payload.tag : (typeof payload.auth_req_id === 'string' ? payload.auth_req_id : '');
  if (tag) options.tag = tag;
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener('notificationclick', function (event) {
  var notification = event.notification;
  notification.close();
  var target = sameOriginUrl(notification.data && notification.data.url);
  if (!target) return;
  // Approve/Deny on the notification only opens the page (and tells it which was tapped); it never decides.
  if (event.action === 'approve' || event.action === 'deny') target.searchParams.set('intent', event.action);
  var href = target.href;
  var base = new URL(href);
  base.searchParams.delete('intent');
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then(function (list) {
      for (var i = 0; i < list.length; i++) {
        var client = list[i];
        var current = sameOriginUrl(client.url);
        if (!current) continue;
        current.searchParams.delete('intent');
        if (current.href === base.href && 'focus' in client) {
          return client.focus().then(function (focused) {
            if (focused && focused.url !== href && 'navigate' in focused) {
              return focused.navigate(href).catch(function () { return null; });
            }
            return focused;
          });
        }
      }
      return self.clients.openWindow ? self.clients.openWindow(href) : null;
    }),
  );
});
`;

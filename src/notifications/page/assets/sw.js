/*
 * The service worker (/sw.js). Shows a push as a notification with Approve/Deny actions; a click only opens the
 * approval page (same origin only) — the approver always decides on the page, with a reason.
 */
'use strict';

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
  var tag = typeof payload.tag === 'string' && payload.tag ? payload.tag : typeof payload.auth_req_id === 'string' ? payload.auth_req_id : '';
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
              return focused.navigate(href).catch(function () {
                return null;
              });
            }
            return focused;
          });
        }
      }
      return self.clients.openWindow ? self.clients.openWindow(href) : null;
    }),
  );
});

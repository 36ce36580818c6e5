// agenttrust console: live lists (server-sent events) and the times left.
// No inline script: the Content-Security-Policy allows this file only.
(function () {
  'use strict';

  function tick() {
    var now = Date.now();
    var els = document.querySelectorAll('time[data-expires]');
    for (var i = 0; i < els.length; i++) {
      var left = Math.round((Date.parse(els[i].getAttribute('data-expires')) - now) / 1000);
      if (isNaN(left)) continue;
      if (left <= 0) { els[i].textContent = 'expired'; continue; }
      var m = Math.floor(left / 60), s = left % 60;
      els[i].textContent = (m > 0 ? m + 'm ' : '') + s + 's left';
    }
  }

  // merge applies an update of the approvals list without moving a card
  // already shown: a person aiming at one card's Approve must not click
  // another that moved under the pointer as the list changed. A card no
  // longer pending stays in place, greyed, its controls disabled; new
  // cards go below the last one. A reload shows the list afresh.
  function merge(box, html) {
    var tpl = document.createElement('template');
    tpl.innerHTML = html;
    var fresh = tpl.content.querySelectorAll('article.approval[id]');
    var want = {};
    for (var i = 0; i < fresh.length; i++) want[fresh[i].id] = true;
    var shown = box.querySelectorAll('article.approval[id]');
    var have = {};
    for (var j = 0; j < shown.length; j++) {
      have[shown[j].id] = true;
      if (!want[shown[j].id]) gone(shown[j]);
    }
    var none = box.querySelector('#none-pending');
    for (var k = 0; k < fresh.length; k++) {
      if (!have[fresh[k].id]) box.appendChild(fresh[k]);
    }
    if (fresh.length && none) none.hidden = true;
    if (!fresh.length && !box.querySelector('article.approval:not(.gone)')) {
      if (none) none.hidden = false;
      else if ((none = tpl.content.querySelector('#none-pending'))) box.appendChild(none);
    }
  }

  function gone(card) {
    if (card.classList.contains('gone')) return;
    card.classList.add('gone');
    card.setAttribute('aria-disabled', 'true');
    card.title = 'No longer pending: decided elsewhere or expired.';
    var els = card.querySelectorAll('button, input, select, textarea');
    for (var i = 0; i < els.length; i++) els[i].disabled = true;
  }

  function live() {
    var box = document.getElementById('live');
    if (!box || !window.EventSource) return;
    var url = box.getAttribute('data-live');
    // Same-origin paths only (connect-src 'self' enforces it too).
    if (!url || url.charAt(0) !== '/' || url.charAt(1) === '/') return;
    var status = document.getElementById('live-status');
    var es = new EventSource(url);
    es.addEventListener('update', function (e) {
      // The HTML is rendered and escaped by the server's templates.
      // Keep what the person is typing in a note.
      var active = document.activeElement;
      var keepId = active && box.contains(active) && active.id ? active.id : '';
      var keepVal = keepId ? active.value : '';
      // Keep expanded audit records expanded.
      var open = [];
      var det = box.querySelectorAll('li[id] > details[open]');
      for (var i = 0; i < det.length; i++) open.push(det[i].parentNode.id);
      if (url === '/ui/events/approvals') merge(box, e.data);
      else box.innerHTML = e.data;
      for (var j = 0; j < open.length; j++) {
        var li = document.getElementById(open[j]);
        var d = li && li.querySelector('details');
        if (d) d.open = true;
      }
      if (keepId) {
        var el = document.getElementById(keepId);
        if (el) { if ('value' in el) el.value = keepVal; el.focus(); }
      }
      tick();
      // One short announcement for screen readers, not the whole list.
      if (status) {
        var n = box.querySelectorAll('article.approval:not(.gone)').length;
        status.textContent = (box.querySelector('article.approval, #none-pending') ?
          n + ' pending. ' : '') + 'Updated ' + new Date().toLocaleTimeString() + '.';
      }
    });
    es.addEventListener('signout', function () {
      es.close();
      window.location.assign('/ui/login');
    });
    es.onerror = function () {
      if (status) status.textContent = 'Live updates interrupted; retrying.';
    };
  }

  // A click on a button that changes state (approve, deny, suspend,
  // resume, the confirmed revoke) counts only once the page has been in
  // front, with the focus, for settleMs. frame-ancestors keeps the
  // console out of other sites' frames, not out of their windows: a page
  // that brings the console up under the pointer as a double-click begins
  // (navigating its opener here, a pop-up closing on top) must not have
  // the second click approve a card nobody read, or revoke a key.
  var acts = 'button.approve, button.deny, button.suspend, button.resume';
  var settleMs = 500, front = Date.now();
  function toFront() { front = Date.now(); }
  window.addEventListener('focus', toFront);
  window.addEventListener('pageshow', toFront);
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) toFront();
  });
  document.addEventListener('click', function (e) {
    var b = e.target && e.target.closest ? e.target.closest(acts) : null;
    if (!b || (!document.hidden && document.hasFocus() && Date.now() - front >= settleMs)) return;
    e.preventDefault();
    e.stopImmediatePropagation();
    var status = document.getElementById('live-status');
    if (status) status.textContent = 'Nothing done: the page had only just come up. Read it, then click again.';
  }, true);

  document.addEventListener('DOMContentLoaded', function () {
    tick();
    window.setInterval(tick, 1000);
    live();
  });
})();

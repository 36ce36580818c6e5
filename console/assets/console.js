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
      box.innerHTML = e.data;
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
        var n = box.querySelectorAll('article.approval').length;
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

  document.addEventListener('DOMContentLoaded', function () {
    tick();
    window.setInterval(tick, 1000);
    live();
  });
})();

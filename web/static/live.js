// duban's one script: keeps the board (and a case page) current. It follows
// the event stream (/v1/stream); when a case warns, escalates or moves, it
// fetches the page's live region again as the server draws it and puts it
// in place. The browser's EventSource reconnects by itself after a dropped
// connection and sends the last event's id, so nothing is missed; after a
// reconnect the region is drawn again all the same. Times shown against now
// (how long overdue, time left) are drawn again each minute, events or not.
// Without this script the pages still work: they are plain HTML.
(function () {
  "use strict";
  // The board's live region, or the map's: redrawn whole, from ?part=
  // the region's name.
  var board = document.querySelector("[data-live=board], [data-live=map]");
  var kase = document.querySelector("[data-live-case]");
  var status = document.getElementById("live");
  if (!board && !kase) {
    return;
  }
  function say(state) {
    if (!status) {
      return;
    }
    status.textContent = status.getAttribute("data-say-" + state) || "";
    status.className = "live " + state;
  }
  var timer = null;
  var fetching = false;
  var again = false;
  function refresh() {
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    var url = new URL(window.location.href);
    if (board) {
      url.searchParams.set("part", board.getAttribute("data-live"));
    }
    fetch(url.toString(), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.redirected || !r.ok) {
          throw new Error("status " + r.status);
        }
        return r.text();
      })
      .then(function (html) {
        if (board) {
          board.innerHTML = html;
        } else {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.querySelector("[data-live-case]");
          var focused = document.activeElement && kase.contains(document.activeElement);
          // Never redraw a case page under someone typing into its forms.
          if (fresh && !focused) {
            kase.replaceWith(fresh);
            kase = fresh;
          }
        }
      })
      .catch(function () { say("lost"); })
      .then(function () {
        fetching = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }
  function soon() {
    if (timer === null) {
      timer = window.setTimeout(function () { timer = null; refresh(); }, 150);
    }
  }
  window.setInterval(soon, 60000);
  var opened = false;
  var source = new EventSource("/v1/stream");
  source.onopen = function () {
    say("on");
    if (opened) {
      soon(); // back after a drop: draw again what may have changed
    }
    opened = true;
  };
  source.onerror = function () { say("lost"); };
  source.onmessage = function (m) {
    var e;
    try {
      e = JSON.parse(m.data);
    } catch (err) {
      return;
    }
    if (board || (kase && e.case_id === kase.dataset.liveCase)) {
      soon();
    }
  };
})();

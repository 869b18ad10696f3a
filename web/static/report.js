// The residents' page (/report). A report is kept in the phone's
// IndexedDB, under an Idempotency-Key drawn for it, before it is sent:
// one made without a connection (or whose sending fails) goes when the
// network returns, and a report sent twice (its answer lost) is filed
// once. The follow links of the reports sent are kept on the phone
// ("my reports"). Without this script the form posts as it is.
(function () {
  "use strict";
  var form = document.getElementById("public-report");
  if (!form || !window.indexedDB || !window.FormData || !window.fetch || !window.Promise) {
    return;
  }
  var status = document.getElementById("report-status");
  var mine = document.getElementById("mine");
  var say = function (what) { return form.getAttribute("data-say-" + what); };
  var sending = false;

  function open() {
    return new Promise(function (ok, fail) {
      var req = indexedDB.open("duban-report", 1);
      req.onupgradeneeded = function () { req.result.createObjectStore("queue", { keyPath: "key" }); };
      req.onsuccess = function () { ok(req.result); };
      req.onerror = function () { fail(req.error); };
    });
  }
  function store(mode, act) {
    return open().then(function (db) {
      return new Promise(function (ok, fail) {
        var tx = db.transaction("queue", mode);
        var req = act(tx.objectStore("queue"));
        tx.oncomplete = function () { ok(req && req.result); };
        tx.onerror = function () { fail(tx.error); };
      });
    });
  }
  function newKey() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
  }

  function remember(answer) {
    var list = JSON.parse(localStorage.getItem("duban-reports") || "[]");
    list.unshift({ number: answer.number, url: answer.follow_url, at: new Date().toISOString() });
    localStorage.setItem("duban-reports", JSON.stringify(list.slice(0, 50)));
    showMine();
  }
  function showMine() {
    var list = JSON.parse(localStorage.getItem("duban-reports") || "[]");
    mine.textContent = "";
    list.forEach(function (r) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = r.url;
      a.textContent = r.number + " · " + r.at.slice(0, 10);
      li.appendChild(a);
      mine.appendChild(li);
    });
    document.getElementById("mine-card").hidden = list.length === 0;
  }

  function tell(text, link) {
    status.textContent = text;
    if (link) {
      var a = document.createElement("a");
      a.href = link;
      a.textContent = say("follow");
      status.appendChild(document.createTextNode(" "));
      status.appendChild(a);
    }
  }

  // send sends one queued report: filed (or refused for good), it leaves
  // the queue; a failure of the network or the server keeps it for later.
  function send(r) {
    var body = new FormData();
    r.fields.forEach(function (f) { body.append(f[0], f[1]); });
    r.photos.forEach(function (p) { body.append("photo", p.blob, p.name); });
    return fetch("/v1/public/reports", { method: "POST", body: body, headers: { "Idempotency-Key": r.key } }).then(function (res) {
      if (res.status === 429 || res.status >= 500) {
        throw new Error("later");
      }
      return res.json().then(function (answer) {
        return store("readwrite", function (q) { return q.delete(r.key); }).then(function () {
          if (res.ok) {
            remember(answer);
            tell(say("sent") + " " + answer.number, answer.follow_url);
          } else {
            refill(r);
            tell(say("refused") + " " + (answer.detail || ""));
          }
        });
      });
    });
  }
  function flush() {
    if (sending) {
      return;
    }
    sending = true;
    store("readonly", function (q) { return q.getAll(); }).then(function (queued) {
      if (queued.length > 0) {
        tell(say("sending"));
      }
      return queued.reduce(function (p, r) { return p.then(function () { return send(r); }); }, Promise.resolve());
    }).catch(function () {
      tell(say("offline"));
    }).then(function () { sending = false; });
  }
  function refill(r) {
    r.fields.forEach(function (f) {
      if (form.elements[f[0]]) {
        form.elements[f[0]].value = f[1];
      }
    });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var r = { key: newKey(), fields: [], photos: [] };
    ["category", "description", "address", "lat", "lon", "phone"].forEach(function (name) {
      r.fields.push([name, form.elements[name].value]);
    });
    Array.prototype.forEach.call(form.elements.photo.files, function (f) { r.photos.push({ blob: f, name: f.name }); });
    store("readwrite", function (q) { return q.put(r); }).then(function () {
      form.reset();
      tell(navigator.onLine ? say("sending") : say("queued"));
      flush();
    });
  });
  window.addEventListener("online", flush);
  setInterval(flush, 30000);
  showMine();
  flush();
})();

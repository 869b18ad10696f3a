// The field page: an inspector's reports from the street, kept on the phone
// (IndexedDB) until duban has them, photos and all. A report is saved
// first and sent after, at once when there is a network, else when it
// returns. Sending is safe to repeat at any point: a photo is stored by
// the hash of its bytes (sent twice, stored once), and a report is opened
// with its own Idempotency-Key (sent twice, one case). So a report cut off
// half way is finished later, never doubled.
(function () {
  "use strict";
  var root = document.getElementById("field");
  if (!root) {
    return;
  }
  var form = document.getElementById("report");
  var queueList = document.getElementById("queue");
  var sentList = document.getElementById("sent");
  var net = document.getElementById("net");
  var csrf = root.getAttribute("data-csrf");

  // say is a message of the page's language; with a count n, the message
  // of key "-one" when n is 1 and there is one ("1 photo", not "1 photos").
  function say(key, n) {
    var s = (n === 1 && root.getAttribute("data-say-" + key + "-one")) || root.getAttribute("data-say-" + key) || key;
    return n === undefined ? s : s.replace("%d", n);
  }

  // ---- the queue, in IndexedDB ----------------------------------------
  var db = new Promise(function (resolve, reject) {
    var req = indexedDB.open("duban-field", 1);
    req.onupgradeneeded = function () {
      req.result.createObjectStore("reports", { keyPath: "key" });
    };
    req.onsuccess = function () { resolve(req.result); };
    req.onerror = function () { reject(req.error); };
  });

  // store runs fn on the reports' store in one transaction and resolves,
  // once it has committed, with what fn's request (if any) read.
  function store(mode, fn) {
    return db.then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = d.transaction("reports", mode);
        var req = fn(t.objectStore("reports"));
        t.oncomplete = function () { resolve(req ? req.result : undefined); };
        t.onerror = t.onabort = function () { reject(t.error); };
      });
    });
  }
  function reports() {
    return store("readonly", function (s) { return s.getAll(); }).then(function (all) {
      return all.sort(function (a, b) { return a.created - b.created; });
    });
  }
  function save(r) { return store("readwrite", function (s) { s.put(r); }); }
  function forget(key) { return store("readwrite", function (s) { s.delete(key); }); }

  // ---- what the page shows --------------------------------------------
  function show(state) {
    net.textContent = say(state);
    net.className = "live " + state;
  }
  function showNetwork() {
    show(navigator.onLine ? "online" : "offline");
  }
  function render() {
    return reports().then(function (all) {
      queueList.textContent = "";
      document.getElementById("queue-empty").hidden = all.length > 0;
      all.forEach(function (r) {
        var li = document.createElement("li");
        li.setAttribute("data-key", r.key);
        var text = document.createElement("span");
        text.textContent = r.description + " · " + say("photos", r.photos.length) + " · ";
        li.appendChild(text);
        var state = document.createElement("strong");
        state.className = "state";
        state.textContent = r.problem ? say("refused") + " " + r.problem : say("queued");
        li.appendChild(state);
        if (r.problem) {
          var del = document.createElement("button");
          del.type = "button";
          del.className = "link";
          del.textContent = say("delete");
          del.addEventListener("click", function () { forget(r.key).then(render); });
          li.appendChild(document.createTextNode(" "));
          li.appendChild(del);
        }
        queueList.appendChild(li);
      });
      return all;
    });
  }
  function sent(r, caseID) {
    var li = document.createElement("li");
    var a = document.createElement("a");
    a.href = "/cases/" + caseID;
    a.textContent = r.description;
    li.appendChild(a);
    li.appendChild(document.createTextNode(" · " + say("sent")));
    sentList.insertBefore(li, sentList.firstChild);
  }

  // ---- saving a report ------------------------------------------------
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!form.reportValidity()) {
      return;
    }
    var files = Array.prototype.slice.call(document.getElementById("photos").files);
    var r = {
      key: crypto.randomUUID(),
      created: Date.now(),
      category: form.elements.category.value,
      severity: form.querySelector("input[name=severity]:checked").value,
      description: form.elements.description.value.trim(),
      address: form.elements.address.value.trim(),
      lat: parseFloat(form.elements.lat.value),
      lon: parseFloat(form.elements.lon.value),
      photos: files.map(function (f) { return { blob: f, name: f.name, id: null }; }),
      problem: ""
    };
    save(r).then(function () {
      // The next report is somewhere else: nothing of this one's place
      // is kept for it to inherit unnoticed.
      form.elements.description.value = "";
      form.elements.address.value = "";
      form.elements.lat.value = "";
      form.elements.lon.value = "";
      document.getElementById("located").textContent = "";
      document.getElementById("photos").value = "";
      return render();
    }).then(send);
  });

  // ---- sending --------------------------------------------------------
  // Stop is a reason to stop sending for now (the network, the server,
  // the session); the reports stay and are sent later.
  function Stop(why) { this.why = why; }

  // call sends a request to the API as the signed-in person; a refusal of
  // the report itself (4xx) resolves with its problem, anything else that
  // is not an answer rejects with a Stop.
  function call(method, path, body, headers) {
    headers = headers || {};
    headers["X-CSRF-Token"] = csrf;
    return fetch(path, { method: method, body: body, headers: headers, credentials: "same-origin", cache: "no-store" })
      .catch(function () { throw new Stop("offline"); })
      .then(function (res) {
        if (res.status === 401) {
          // The session ended, or the page's token is stale: the next
          // round fetches a fresh one, or says to sign in again.
          throw new Stop("session");
        }
        if (res.status >= 500 || res.status === 429) {
          throw new Stop("server");
        }
        return res.json().catch(function () { return {}; }).then(function (json) {
          return { ok: res.ok, json: json };
        });
      });
  }

  // token makes sure the page holds its session's current security token:
  // a page opened from the phone's cache may hold an old one.
  function token() {
    if (csrf && !token.stale) {
      return Promise.resolve();
    }
    return fetch("/field/session", { credentials: "same-origin", cache: "no-store" })
      .catch(function () { throw new Stop("offline"); })
      .then(function (res) {
        if (res.status === 401) {
          throw new Stop("signin");
        }
        if (!res.ok) {
          throw new Stop("server");
        }
        return res.json();
      }).then(function (s) {
        csrf = s.csrf;
        token.stale = false;
      });
  }
  token.stale = true; // fetched once per page load, before the first send

  function sendOne(r) {
    var chain = Promise.resolve(true);
    r.photos.forEach(function (p) {
      chain = chain.then(function (going) {
        if (!going || p.id) {
          return going;
        }
        var body = new FormData();
        body.append("file", p.blob, p.name || "photo.jpg");
        return call("POST", "/v1/attachments", body).then(function (a) {
          if (!a.ok) {
            r.problem = a.json.detail || a.json.title || "";
            return save(r).then(function () { return false; });
          }
          p.id = a.json.id;
          return save(r).then(function () { return true; });
        });
      });
    });
    return chain.then(function (going) {
      if (!going) {
        return;
      }
      var report = {
        category: r.category, severity: r.severity, description: r.description,
        location: { lat: r.lat, lon: r.lon, address: r.address },
        evidence: r.photos.map(function (p) { return { attachment: p.id, kind: "photo" }; })
      };
      return call("POST", "/v1/cases", JSON.stringify(report), { "Content-Type": "application/json", "Idempotency-Key": r.key })
        .then(function (a) {
          if (!a.ok) {
            r.problem = a.json.detail || a.json.title || "";
            return save(r);
          }
          return forget(r.key).then(function () { sent(r, a.json.id); });
        });
    });
  }

  var sending = false;
  function send() {
    if (sending) {
      return Promise.resolve();
    }
    sending = true;
    show("sending");
    return token().then(reports).then(function (all) {
      var chain = Promise.resolve();
      all.filter(function (r) { return !r.problem; }).forEach(function (r) {
        chain = chain.then(function () { return sendOne(r); });
      });
      return chain;
    }).then(showNetwork, function (err) {
      if (err instanceof Stop && err.why === "signin") {
        show("signin");
      } else {
        if (err instanceof Stop && err.why === "session") {
          token.stale = true;
        }
        showNetwork();
      }
    }).then(function () {
      sending = false;
      return render();
    });
  }

  document.getElementById("send").addEventListener("click", send);
  window.addEventListener("online", function () { showNetwork(); send(); });
  window.addEventListener("offline", showNetwork);
  setInterval(function () {
    reports().then(function (all) {
      if (all.some(function (r) { return !r.problem; })) {
        send();
      }
    });
  }, 15000);

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/field-sw.js", { scope: "/field" });
  }
  showNetwork();
  render().then(function () {
    if (navigator.onLine) {
      send();
    }
  });
}());

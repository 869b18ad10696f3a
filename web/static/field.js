// The field page: an inspector's reports from the street, and the sites of
// their rounds inspected item by item, kept on the phone (IndexedDB) until
// duban has them, photos and all. A report or an inspection is saved first
// and sent after, at once when there is a network, else when it returns.
// Sending is safe to repeat at any point: a photo is stored by the hash of
// its bytes (sent twice, stored once), a report is opened with its own
// Idempotency-Key (sent twice, one case), and a site is inspected once a
// round (the same inspection sent twice is answered as recorded). So what
// is cut off half way is finished later, never doubled. The sites of the
// inspector's rounds and their checklists are kept too, so that a whole
// round is worked without a network.
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

  // say is a message of the page's language; with a count n, the message
  // of key "-one" when n is 1 and there is one ("1 photo", not "1 photos").
  function say(key, n) {
    var s = (n === 1 && root.getAttribute("data-say-" + key + "-one")) || root.getAttribute("data-say-" + key) || key;
    return n === undefined ? s : s.replace("%d", n);
  }

  // ---- the queue, in IndexedDB ----------------------------------------
  // Three stores: the reports queued; the sites of the inspector's rounds
  // (assignments, by round and site); the inspections queued.
  var db = new Promise(function (resolve, reject) {
    var req = indexedDB.open("duban-field", 2);
    req.onupgradeneeded = function () {
      ["reports", "assignments", "inspections"].forEach(function (name) {
        if (!req.result.objectStoreNames.contains(name)) {
          req.result.createObjectStore(name, { keyPath: "key" });
        }
      });
    };
    req.onsuccess = function () { resolve(req.result); };
    req.onerror = function () { reject(req.error); };
  });

  // store runs fn on the store name in one transaction and resolves, once
  // it has committed, with what fn's request (if any) read.
  function store(name, mode, fn) {
    return db.then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = d.transaction(name, mode);
        var req = fn(t.objectStore(name));
        t.oncomplete = function () { resolve(req ? req.result : undefined); };
        t.onerror = t.onabort = function () { reject(t.error); };
      });
    });
  }
  function all(name) {
    return store(name, "readonly", function (s) { return s.getAll(); }).then(function (xs) {
      return xs.sort(function (a, b) { return a.created - b.created; });
    });
  }
  function put(name, r) { return store(name, "readwrite", function (s) { s.put(r); }); }
  function drop(name, key) { return store(name, "readwrite", function (s) { s.delete(key); }); }
  function reports() { return all("reports"); }
  function save(r) { return put("reports", r); }
  function forget(key) { return drop("reports", key); }

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
    return fetch(path, { method: method, body: body, headers: headers || {}, credentials: "same-origin", cache: "no-store" })
      .catch(function () { throw new Stop("offline"); })
      .then(function (res) {
        if (res.status === 401) {
          // The session ended: the next round asks, and says to sign
          // in again.
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

  // signedIn makes sure the session the page was opened in still holds: a
  // page opened from the phone's cache may have outlived it.
  function signedIn() {
    if (!signedIn.unsure) {
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
        signedIn.unsure = false;
      });
  }
  signedIn.unsure = true; // asked once per page load, before the first send

  // upload sends the photos of r not yet stored, keeping r (in the store
  // name) after each; it resolves with false when one is refused, r then
  // saved with the problem.
  function upload(name, r, photos) {
    var chain = Promise.resolve(true);
    photos.forEach(function (p) {
      chain = chain.then(function (going) {
        if (!going || p.id) {
          return going;
        }
        var body = new FormData();
        body.append("file", p.blob, p.name || "photo.jpg");
        return call("POST", "/v1/attachments", body).then(function (a) {
          if (!a.ok) {
            r.problem = a.json.detail || a.json.title || "";
            return put(name, r).then(function () { return false; });
          }
          p.id = a.json.id;
          return put(name, r).then(function () { return true; });
        });
      });
    });
    return chain;
  }

  function sendOne(r) {
    return upload("reports", r, r.photos).then(function (going) {
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
    return signedIn().then(reports).then(function (queued) {
      var chain = Promise.resolve();
      queued.filter(function (r) { return !r.problem; }).forEach(function (r) {
        chain = chain.then(function () { return sendOne(r); });
      });
      return chain;
    }).then(function () { return all("inspections"); }).then(function (queued) {
      var chain = Promise.resolve();
      queued.filter(function (r) { return !r.problem; }).forEach(function (r) {
        chain = chain.then(function () { return sendInspection(r); });
      });
      return chain;
    }).then(fetchRounds).then(showNetwork, function (err) {
      if (err instanceof Stop && err.why === "signin") {
        show("signin");
      } else {
        if (err instanceof Stop && err.why === "session") {
          signedIn.unsure = true;
        }
        showNetwork();
      }
    }).then(function () {
      sending = false;
      return render().then(renderRounds);
    });
  }

  document.getElementById("send").addEventListener("click", send);
  window.addEventListener("online", function () { showNetwork(); send(); });
  window.addEventListener("offline", showNetwork);
  setInterval(function () {
    Promise.all([reports(), all("inspections")]).then(function (queues) {
      if (queues[0].concat(queues[1]).some(function (r) { return !r.problem; })) {
        send();
      }
    });
  }, 15000);

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/field-sw.js", { scope: "/field" });
  }
  // ---- rounds: the sites to inspect, kept on the phone ------------------
  var me = root.getAttribute("data-me");
  var checklists = JSON.parse(root.getAttribute("data-checklists") || "{}");
  var roundList = document.getElementById("rounds");
  var inspectForm = document.getElementById("inspect");
  var inspecting = null; // the assignment the form is for

  // fetchRounds keeps the sites of the inspector's open rounds not yet
  // inspected, with their names and places; those done (here or
  // elsewhere) leave. Without a network it keeps what it had.
  function fetchRounds() {
    return call("GET", "/v1/rounds").then(function (a) {
      if (!a.ok) {
        return;
      }
      var wanted = {};
      var fetches = [];
      (a.json.items || []).forEach(function (round) {
        round.sites.forEach(function (rs) {
          if (round.status !== "open" || rs.inspector !== me || rs.inspected) {
            return;
          }
          var key = round.id + "/" + rs.site;
          wanted[key] = true;
          fetches.push(store("assignments", "readonly", function (s) { return s.get(key); }).then(function (had) {
            if (had) {
              return;
            }
            return call("GET", "/v1/sites/" + encodeURIComponent(rs.site)).then(function (site) {
              if (!site.ok) {
                return;
              }
              return put("assignments", {
                key: key, created: Date.now(), round: round.id, roundName: round.name, dueBy: round.due_by,
                site: rs.site, type: rs.type, name: site.json.name, lat: site.json.location.lat, lon: site.json.location.lon
              });
            });
          }));
        });
      });
      return Promise.all(fetches).then(function () { return Promise.all([all("assignments"), all("inspections")]); }).then(function (kept) {
        var queued = {};
        kept[1].forEach(function (i) { queued[i.key] = true; });
        return Promise.all(kept[0].filter(function (x) { return !wanted[x.key] && !queued[x.key]; }).map(function (x) {
          return drop("assignments", x.key);
        }));
      });
    });
  }

  // when says a time as the office does: in the policy's zone, in the
  // page's language.
  function when(t) {
    return new Date(t).toLocaleString(document.documentElement.lang || undefined,
      { timeZone: root.getAttribute("data-zone") || undefined, dateStyle: "short", timeStyle: "short" });
  }

  function renderRounds() {
    return Promise.all([all("assignments"), all("inspections")]).then(function (kept) {
      var queued = {};
      kept[1].forEach(function (i) { queued[i.key] = i; });
      roundList.textContent = "";
      document.getElementById("rounds-empty").hidden = kept[0].length > 0;
      kept[0].forEach(function (x) {
        var li = document.createElement("li");
        li.setAttribute("data-site", x.site);
        var list = checklists[x.type] || { name: x.type };
        li.appendChild(document.createTextNode(x.name + " · " + list.name + " · " + x.roundName + " · " +
          say("due").replace("%s", when(x.dueBy)) + " "));
        var q = queued[x.key];
        if (q) {
          var state = document.createElement("strong");
          state.className = "state";
          state.textContent = q.problem ? say("refused") + " " + q.problem : say("inspected");
          li.appendChild(state);
          if (q.problem) { // dropped, the site may be inspected again
            var del = document.createElement("button");
            del.type = "button";
            del.className = "link";
            del.textContent = say("delete");
            del.addEventListener("click", function () { drop("inspections", q.key).then(renderRounds); });
            li.appendChild(document.createTextNode(" "));
            li.appendChild(del);
          }
        } else {
          var go = document.createElement("button");
          go.type = "button";
          go.textContent = say("inspect");
          go.addEventListener("click", function () { openInspection(x); });
          li.appendChild(go);
        }
        roundList.appendChild(li);
      });
    });
  }

  // openInspection draws the checklist of x's site type: each item met,
  // not met or not applicable, with a note and photos.
  function openInspection(x) {
    inspecting = x;
    var list = checklists[x.type] || { name: x.type, items: [] };
    document.getElementById("inspect-title").textContent = x.name + " · " + list.name;
    var items = document.getElementById("items");
    items.textContent = "";
    list.items.forEach(function (item, i) {
      var set = document.createElement("fieldset");
      set.className = "choice item";
      set.setAttribute("data-item", item.code);
      var legend = document.createElement("legend");
      legend.textContent = item.name + "（" + say("points").replace("%d", item.points) + "）";
      set.appendChild(legend);
      ["pass", "fail", "na"].forEach(function (result) {
        var label = document.createElement("label");
        var input = document.createElement("input");
        input.type = "radio";
        input.name = "item-" + i;
        input.value = result;
        input.required = true;
        label.appendChild(input);
        label.appendChild(document.createTextNode(" " + say(result)));
        set.appendChild(label);
      });
      var p = document.createElement("p");
      // field adds a labelled input of type, kind (note, photos) and item i.
      function field(type, kind, id, label) {
        var l = document.createElement("label");
        l.htmlFor = id + "-" + i;
        l.textContent = say(label);
        var input = document.createElement("input");
        input.type = type;
        input.id = id + "-" + i;
        input.className = kind;
        p.appendChild(l);
        p.appendChild(input);
        return input;
      }
      field("text", "note", "note", "note");
      var photo = field("file", "photos", "photo", "photo-label");
      photo.accept = "image/jpeg,image/png,image/webp,image/heic";
      photo.setAttribute("capture", "environment");
      photo.multiple = true;
      set.appendChild(p);
      items.appendChild(set);
    });
    inspectForm.elements.lat.value = x.lat;
    inspectForm.elements.lon.value = x.lon;
    inspectForm.hidden = false;
    inspectForm.scrollIntoView();
  }

  inspectForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!inspecting || !inspectForm.reportValidity()) {
      return;
    }
    var x = inspecting;
    var answers = Array.prototype.map.call(inspectForm.querySelectorAll("fieldset.item"), function (set) {
      var files = Array.prototype.slice.call(set.querySelector("input.photos").files);
      return {
        item: set.getAttribute("data-item"),
        result: set.querySelector("input[type=radio]:checked").value,
        note: set.querySelector("input.note").value.trim(),
        photos: files.map(function (f) { return { blob: f, name: f.name, id: null }; })
      };
    });
    var r = {
      key: x.key, created: Date.now(), round: x.round, site: x.site, name: x.name, at: new Date().toISOString(),
      lat: parseFloat(inspectForm.elements.lat.value), lon: parseFloat(inspectForm.elements.lon.value), items: answers, problem: ""
    };
    put("inspections", r).then(function () {
      inspecting = null;
      inspectForm.hidden = true;
      return renderRounds();
    }).then(send);
  });
  document.getElementById("inspect-cancel").addEventListener("click", function () {
    inspecting = null;
    inspectForm.hidden = true;
  });

  // sendInspection sends r's photos, then r: answered, it leaves the
  // phone, and its site with it.
  function sendInspection(r) {
    var photos = [];
    r.items.forEach(function (a) { photos = photos.concat(a.photos); });
    return upload("inspections", r, photos).then(function (going) {
      if (!going) {
        return;
      }
      var body = {
        at: r.at, location: { lat: r.lat, lon: r.lon },
        items: r.items.map(function (a) {
          return { item: a.item, result: a.result, note: a.note || undefined,
            evidence: a.photos.map(function (p) { return { attachment: p.id, kind: "photo" }; }) };
        })
      };
      var path = "/v1/rounds/" + encodeURIComponent(r.round) + "/sites/" + encodeURIComponent(r.site) + "/inspection";
      return call("POST", path, JSON.stringify(body), { "Content-Type": "application/json" }).then(function (a) {
        if (!a.ok) {
          r.problem = a.json.detail || a.json.title || "";
          return put("inspections", r);
        }
        return drop("inspections", r.key).then(function () { return drop("assignments", r.key); }).then(function () {
          var li = document.createElement("li");
          li.textContent = r.name + " · " + say("score").replace("%d", a.json.score).replace("%d", a.json.cases.length);
          sentList.insertBefore(li, sentList.firstChild);
        });
      });
    });
  }

  showNetwork();
  render().then(renderRounds).then(function () {
    if (navigator.onLine) {
      send();
    }
  });
}());

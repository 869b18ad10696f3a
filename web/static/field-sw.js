// The field page's service worker: it keeps the page and its assets, so
// that the page opens without a network once it has been opened with one.
// Everything is asked of the network first (the page and its assets as
// the latest code has them) and taken from the cache
// when the network does not answer. Reports are never sent from here: the
// page keeps them (IndexedDB) and sends them itself.
"use strict";
var CACHE = "duban-field-3";
var SHELL = ["/field", "/static/locate.js", "/static/field.js", "/static/duban.css", "/field.webmanifest", "/static/icon-192.png", "/static/icon-512.png"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll(SHELL);
  }).then(function () {
    return self.skipWaiting();
  }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
  }).then(function () {
    return self.clients.claim();
  }));
});

self.addEventListener("fetch", function (event) {
  var url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || SHELL.indexOf(url.pathname) < 0) {
    return;
  }
  event.respondWith(fetch(event.request).then(function (response) {
    // A signed-out visit is sent to the sign-in page: not kept as the page.
    if (response.ok && !response.redirected) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { return cache.put(url.pathname, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(url.pathname).then(function (hit) {
      return hit || Response.error();
    });
  }));
});

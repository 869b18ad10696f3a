// "获取当前位置": a button with data-locate fills the form's lat and lon
// (#lat, #lon) from the phone's position, and says how precise it is, or
// that there is none, in its data-say-located / data-say-nolocation
// texts, in the element data-located. Shared by the field page and the
// new-case page.
(function () {
  "use strict";
  function init() {
    var button = document.querySelector("button[data-locate]");
    if (!button) {
      return;
    }
    var out = document.querySelector("[data-located]");
    button.addEventListener("click", function () {
      if (!navigator.geolocation) {
        out.textContent = button.getAttribute("data-say-nolocation");
        return;
      }
      navigator.geolocation.getCurrentPosition(function (p) {
        document.getElementById("lat").value = p.coords.latitude.toFixed(6);
        document.getElementById("lon").value = p.coords.longitude.toFixed(6);
        out.textContent = button.getAttribute("data-say-located") + " (±" + Math.round(p.coords.accuracy) + " m)";
      }, function () {
        out.textContent = button.getAttribute("data-say-nolocation");
      }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

// "获取当前位置": each button with data-locate fills its form's lat and lon
// from the phone's position, and says how precise it is, or that there is
// none, in its data-say-located / data-say-nolocation texts, in the
// element data-located beside it. Shared by the field page (its report
// and its inspections) and the new-case page.
(function () {
  "use strict";
  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("button[data-locate]"), function (button) {
      var form = button.form;
      var out = button.parentNode.querySelector("[data-located]");
      button.addEventListener("click", function () {
        if (!navigator.geolocation) {
          out.textContent = button.getAttribute("data-say-nolocation");
          return;
        }
        navigator.geolocation.getCurrentPosition(function (p) {
          form.elements.lat.value = p.coords.latitude.toFixed(6);
          form.elements.lon.value = p.coords.longitude.toFixed(6);
          out.textContent = button.getAttribute("data-say-located") + " (±" + Math.round(p.coords.accuracy) + " m)";
        }, function () {
          out.textContent = button.getAttribute("data-say-nolocation");
        }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

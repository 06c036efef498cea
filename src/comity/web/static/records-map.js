// The map of incidents (/records/map): country outlines from the vendored Natural Earth
// TopoJSON, and the incidents of the page's search, fetched as JSON from the node, as
// clustered markers. No tile server: the map works with no internet.
(function () {
  "use strict";
  var element = document.getElementById("records-map");
  if (!element || !window.L || !window.topojson) {
    return;
  }
  var status = document.querySelector("[data-map-status]");
  var map = L.map(element, { worldCopyJump: true, minZoom: 1, maxZoom: 14 }).setView([20, 0], 2);
  map.attributionControl.addAttribution("Natural Earth");

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      });
  }

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  // Built from text nodes, never from HTML: a title is whatever a documenter typed.
  function popup(point) {
    var box = document.createElement("div");
    var link = document.createElement("a");
    link.href = "/records/" + encodeURIComponent(point.id);
    link.textContent = point.title;
    link.dir = "auto";
    box.appendChild(link);
    if (point.date) {
      var date = document.createElement("div");
      date.textContent = point.date;
      date.dir = "ltr";
      box.appendChild(date);
    }
    return box;
  }

  getJson(element.dataset.outlines).then(function (world) {
    L.geoJSON(topojson.feature(world, world.objects.countries), {
      interactive: false,
      style: { color: "#8c959f", weight: 1, fillColor: "#f6f4ec", fillOpacity: 1 }
    }).addTo(map).bringToBack();
  }).catch(function () {
    // Without outlines the incidents are still shown.
  });

  getJson(element.dataset.points).then(function (data) {
    var cluster = L.markerClusterGroup();
    data.points.forEach(function (point) {
      var marker = L.marker([point.latitude, point.longitude], { title: point.title, alt: point.title });
      marker.bindPopup(function () { return popup(point); });
      cluster.addLayer(marker);
    });
    map.addLayer(cluster);
    if (data.points.length) {
      map.fitBounds(cluster.getBounds(), { maxZoom: 6, padding: [24, 24], animate: false });
    }
    if (data.points.length < data.total) {
      say(element.dataset.msgMore.replace("{shown}", data.points.length).replace("{total}", data.total));
    }
    element.setAttribute("data-loaded", String(data.points.length));
  }).catch(function () {
    say(element.dataset.msgFailed);
  });
})();

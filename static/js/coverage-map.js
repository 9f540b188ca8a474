/* 시흥 데이터거래소 — the coverage map of a dataset page (Leaflet 1.9, global `L`).
 *
 * Markup: templates/catalog/dataset_detail.html
 *   <script type="application/json" id="coverage-map-config">  {bbox: [w, s, e, n], tileUrl, attribution}
 *   <div id="coverage-map" data-label-area="…">                the map; its text is the no-JS fallback
 *
 * The bounding box is drawn as a rectangle with the SVG renderer and the view fits it, so the outline
 * shows even when no background tile loads (offline, or MAP_TILE_URL empty). The area's name and
 * coordinates are printed next to the map: that is the text alternative. No inline styles: Leaflet
 * positions its panes through the CSSOM, which the Content Security Policy allows.
 */
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  function readConfig() {
    var el = document.getElementById("coverage-map-config");
    if (!el) return null;
    try {
      var config = JSON.parse(el.textContent);
      var b = config && config.bbox;
      if (!Array.isArray(b) || b.length !== 4 || b.some(function (v) { return typeof v !== "number"; })) return null;
      return config;
    } catch (e) {
      return null;
    }
  }

  function colour(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name);
    return (value && value.trim()) || fallback;
  }

  function drawMap() {
    var box = document.getElementById("coverage-map");
    var config = readConfig();
    if (!box || !config || !window.L) return;
    var b = config.bbox;  // west, south, east, north
    var bounds = window.L.latLngBounds([b[1], b[0]], [b[3], b[2]]);

    box.textContent = "";  // the no-JS text goes; the figure caption keeps the description
    box.classList.add("is-live");
    var map = window.L.map(box, {
      renderer: window.L.svg(),
      scrollWheelZoom: false,  // the page scrolls past the map; zoom with the buttons or + / -
      attributionControl: true,
      zoomSnap: 0.25
    });
    map.attributionControl.setPrefix('<a href="https://leafletjs.com/">Leaflet</a>');
    if (config.tileUrl) {
      window.L.tileLayer(config.tileUrl, {
        attribution: config.attribution || "",
        maxZoom: 19,
        crossOrigin: false
      }).addTo(map);
    } else {
      box.classList.add("is-tileless");
    }
    var primary = colour("--krds-light-color-element-primary", "#256ef4");
    var rectangle = window.L.rectangle(bounds, {
      color: primary,
      weight: 3,
      fillColor: primary,
      fillOpacity: 0.12,
      interactive: false,
      className: "coverage-outline"
    }).addTo(map);
    map.fitBounds(rectangle.getBounds(), { padding: [24, 24] });
    box.setAttribute("data-drawn", "true");
  }

  onReady(function () {
    try {
      drawMap();
    } catch (e) {
      // The coordinates stay readable in the text next to the map.
      if (window.console) window.console.warn("coverage map", e);
    }
  });
})();

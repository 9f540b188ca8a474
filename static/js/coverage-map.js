/* 시흥 데이터거래소 — the coverage map of a dataset page (Leaflet 1.9, global `L`).
 *
 * Markup: templates/catalog/dataset_detail.html
 *   <script type="application/json" id="coverage-map-config">  {bbox: [w, s, e, n], tileUrl, attribution,
 *                                                               layers: [{url, name}]}
 *   <div id="coverage-map" data-label-count="… {n} …">       the map; its text is the no-JS fallback
 *
 * Each layer (catalog.ingest.maps, bounded by the checks) is fetched from this site and drawn over the
 * outline: "points" as small circles, "grid" as circles sized by how many points fall in the cell (the
 * server grouped them: many points, or personal data), "features" as GeoJSON lines and shapes. The map
 * then fits everything. The text next to the map says what each layer holds and when it was capped.
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
    drawLayers(map, box, config.layers || [], rectangle.getBounds());
  }

  function countLabel(box, n) {
    var template = box.getAttribute(n === 1 ? "data-label-one" : "data-label-count") || "{n}";
    return template.replace("{n}", n.toLocaleString());
  }

  function drawLayers(map, box, layers, bounds) {
    if (!layers.length || !window.fetch) return;
    var canvas = window.L.canvas({ padding: 0.2 });
    var accent = colour("--krds-light-color-element-secondary", "#0b50d0");
    var all = window.L.latLngBounds(bounds.getSouthWest(), bounds.getNorthEast());
    var drawn = 0;
    layers.forEach(function (entry) {
      window.fetch(entry.url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (layer) {
          if (!layer) return;
          var group = window.L.featureGroup();
          if (layer.kind === "points") {
            layer.points.forEach(function (p) {
              var marker = window.L.circleMarker([p[0], p[1]], {
                renderer: canvas, radius: 4, color: accent, weight: 1, fillColor: accent, fillOpacity: 0.6
              });
              if (p[2] > 1) marker.bindTooltip(countLabel(box, p[2]));
              group.addLayer(marker);
            });
          } else if (layer.kind === "grid") {
            layer.cells.forEach(function (c) {
              var marker = window.L.circleMarker([c[0], c[1]], {
                renderer: canvas,
                radius: Math.min(16, 3 + Math.log(c[2] + 1) / Math.LN2),
                color: accent, weight: 1, fillColor: accent, fillOpacity: 0.45
              });
              marker.bindTooltip(countLabel(box, c[2]));
              group.addLayer(marker);
            });
          } else if (layer.kind === "features") {
            group.addLayer(window.L.geoJSON({ type: "GeometryCollection", geometries: layer.features }, {
              style: function () { return { color: accent, weight: 2, fillColor: accent, fillOpacity: 0.2 }; },
              pointToLayer: function (feature, latlng) {
                return window.L.circleMarker(latlng, { radius: 4, color: accent, weight: 1, fillOpacity: 0.6 });
              }
            }));
          } else {
            return;
          }
          group.addTo(map);
          if (group.getBounds && group.getBounds().isValid()) all.extend(group.getBounds());
          map.fitBounds(all, { padding: [24, 24] });
          drawn += 1;
          box.setAttribute("data-layers", String(drawn));
        })
        .catch(function (e) {
          if (window.console) window.console.warn("map layer", e);
        });
    });
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

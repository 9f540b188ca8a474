/* The order page's live part (templates/transactions/_order_live.html).
 *
 * htmx re-renders each order's packages body every 2 s while something is being built. The body
 * carries a summary in data-announce; after each swap, a changed summary is written into the
 * order's polite live region (which stays outside the swapped part), so a screen reader hears
 * "1 package is ready to download." once, not every two seconds.
 */
(function () {
  "use strict";
  if (window.packagesAnnouncer) return;
  window.packagesAnnouncer = true;

  var last = {};

  function remember() {
    document.querySelectorAll("[data-packages-live]").forEach(function (live) {
      var body = document.getElementById(live.getAttribute("data-packages-live"));
      if (body) last[body.id] = body.getAttribute("data-announce") || "";
    });
  }

  function announce() {
    document.querySelectorAll("[data-packages-live]").forEach(function (live) {
      var id = live.getAttribute("data-packages-live");
      var body = document.getElementById(id);
      if (!body) return;
      var text = (body.getAttribute("data-announce") || "").trim();
      if (text && text !== last[id]) live.textContent = text;
      last[id] = text;
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", remember);
  } else {
    remember();
  }
  document.addEventListener("htmx:afterSettle", announce);
})();

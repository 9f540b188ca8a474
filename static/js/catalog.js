// The catalog page: changing the sort order applies it at once (the Apply button stays visible, for keyboards
// and pages without JavaScript); after htmx swaps the results, the result count is announced and focus stays
// sensible: on the same facet value, on the sort control (htmx keeps focus on an element with the same id), on
// the next filter chip after one was removed, or on the results heading after "Clear all", the last chip or a page
// link (never on <body>, where a keyboard or screen-reader user would have to start the page again).
(function () {
  "use strict";

  function enhance(root) {
    var select = root.querySelector("#catalog-sort-select");
    if (select && !select.dataset.enhanced) {
      select.dataset.enhanced = "1";
      select.addEventListener("change", function () {
        var form = select.form;
        if (form.requestSubmit) form.requestSubmit(); else form.submit();
      });
    }
  }

  function focusResults(body) {
    var heading = body.querySelector("#results-title");
    if (heading) heading.focus();
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:afterSettle", function (event) {
    var body = document.getElementById("catalog-body");
    if (!body) return;
    enhance(body);
    var trigger = event.detail && event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!trigger || !trigger.closest) return;
    // The trigger is the element of the old, swapped-out results: its list still tells where it stood.
    // A facet link that was followed keeps focus on the same facet value after the swap.
    if (trigger.dataset && trigger.dataset.facet) {
      var again = body.querySelector('.cat-facet-link[data-facet="' + trigger.dataset.facet + '"][data-value="' + CSS.escape(trigger.dataset.value) + '"]');
      if (again) { again.focus(); return; }
    }
    if (trigger.classList.contains("cat-chip")) {
      // A removed filter: focus the chip that took its place (or the one before it), else the results.
      var oldList = trigger.closest(".cat-chips");
      var index = oldList ? Array.prototype.indexOf.call(oldList.querySelectorAll("a.cat-chip"), trigger) : 0;
      var chips = body.querySelectorAll(".cat-chips a.cat-chip");
      if (chips.length) { chips[Math.min(Math.max(index, 0), chips.length - 1)].focus(); return; }
      focusResults(body);
      return;
    }
    if (trigger.classList.contains("cat-clear-all") || trigger.closest(".pg-pagination")) {
      focusResults(body);
    }
  });
})();

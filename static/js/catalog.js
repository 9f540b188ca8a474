// The catalog page: changing the sort order applies it at once (the Apply button stays for keyboards
// and pages without JavaScript); after htmx swaps the results, the result count is announced and focus
// stays sensible.
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
      var apply = root.querySelector(".cat-sort-apply");
      if (apply) apply.classList.add("sr-only");
    }
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:afterSettle", function (event) {
    var body = document.getElementById("catalog-body");
    if (!body) return;
    enhance(body);
    // A facet link that was followed keeps focus on the same facet value after the swap.
    var trigger = event.detail && event.detail.requestConfig && event.detail.requestConfig.elt;
    if (trigger && trigger.dataset && trigger.dataset.facet) {
      var again = body.querySelector('.cat-facet-link[data-facet="' + trigger.dataset.facet + '"][data-value="' + CSS.escape(trigger.dataset.value) + '"]');
      if (again) { again.focus(); return; }
    }
    var count = document.getElementById("result-count");
    if (count && trigger && trigger.closest && trigger.closest(".pg-pagination")) {
      count.setAttribute("tabindex", "-1");
      count.focus();
    }
  });
})();

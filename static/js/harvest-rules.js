// Mapping rules of a harvest source (templates/catalog/harvest/_rules_table.html): "Add a row" appends a blank row
// from the formset's empty form and counts it in TOTAL_FORMS. Without JavaScript the blank rows already there do.
(function () {
  "use strict";
  document.querySelectorAll("[data-add-rule]").forEach(function (button) {
    var prefix = button.getAttribute("data-add-rule");
    var table = document.getElementById(prefix + "-rules");
    var template = document.getElementById(prefix + "-rule-template");
    var total = document.getElementById("id_" + prefix + "-TOTAL_FORMS");
    if (!table || !template || !total) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var index = parseInt(total.value, 10) || 0;
      var html = template.innerHTML.replace(/__prefix__/g, String(index));
      var body = table.querySelector("tbody");
      body.insertAdjacentHTML("beforeend", html);
      total.value = String(index + 1);
      var input = body.lastElementChild.querySelector("input");
      if (input) input.focus();
    });
  });
})();

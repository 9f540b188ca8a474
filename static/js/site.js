/* 시흥 데이터거래소 — small page behaviour (no inline handlers: the CSP forbids them).
 *
 * - [data-menu-toggle]: the "Menu" button that opens the main menu on narrow screens.
 * - details[data-dropdown]: header drop-downs; close on Escape, outside click or focus leaving.
 * - form[data-confirm="question"]: asks before submitting (e.g. delete, withdraw).
 * - After a failed submit, focus moves to the first field marked aria-invalid="true".
 */
(function () {
  "use strict";

  // Loaded in <head> without defer, so CSS can tell at once that JavaScript runs.
  document.documentElement.classList.replace("no-js", "js");

  function onReady(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn);
    } else {
      fn();
    }
  }

  function setupMenuToggle() {
    document.querySelectorAll("[data-menu-toggle]").forEach(function (button) {
      var menu = document.getElementById(button.getAttribute("aria-controls"));
      if (!menu) return;
      function setOpen(open) {
        menu.classList.toggle("is-open", open);
        button.setAttribute("aria-expanded", open ? "true" : "false");
      }
      button.addEventListener("click", function () {
        setOpen(button.getAttribute("aria-expanded") !== "true");
      });
      document.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
          setOpen(false);
          button.focus();
        }
      });
      // Back on a wide screen the menu is always shown; reset the toggle.
      window.matchMedia("(min-width: 1024px)").addEventListener("change", function (mq) {
        if (mq.matches) setOpen(false);
      });
    });
  }

  function setupDropdowns() {
    var dropdowns = document.querySelectorAll("details[data-dropdown]");
    if (!dropdowns.length) return;
    dropdowns.forEach(function (details) {
      var summary = details.querySelector("summary");
      details.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && details.open) {
          details.open = false;
          summary.focus();
        }
      });
      details.addEventListener("focusout", function (event) {
        if (details.open && event.relatedTarget && !details.contains(event.relatedTarget)) {
          details.open = false;
        }
      });
    });
    document.addEventListener("click", function (event) {
      dropdowns.forEach(function (details) {
        if (details.open && !details.contains(event.target)) details.open = false;
      });
    });
  }

  function setupConfirm() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      var question = form.getAttribute && form.getAttribute("data-confirm");
      if (question && !window.confirm(question)) event.preventDefault();
    });
  }

  function focusFirstError() {
    if (document.activeElement && document.activeElement !== document.body) return;
    var invalid = document.querySelector("main form [aria-invalid='true']");
    if (invalid) invalid.focus();
  }

  onReady(function () {
    focusFirstError();
    setupMenuToggle();
    setupDropdowns();
    setupConfirm();
  });
})();

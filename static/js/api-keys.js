/* 시흥 데이터거래소 — the API keys page (/me/api-keys/). Loaded with the CSP nonce; no inline handlers.
 *
 * - The scope boxes follow the chosen organization: a box is enabled only where the user may give that scope
 *   (data-allowed-for lists the organization choices, "none" for no organization). Without JavaScript the
 *   server enables the boxes of the organization the form starts with, and refuses the rest.
 * - [data-copy-target]: copies the new key to the clipboard and says so in the status line; the button is
 *   shown only when JavaScript runs. Where the clipboard is not available the key is selected instead.
 * - The notice with a new key gets the focus, so a screen reader starts there.
 */
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn);
    } else {
      fn();
    }
  }

  function setupScopes() {
    var select = document.getElementById("id_organization");
    var boxes = document.querySelectorAll("input[name=scopes][data-allowed-for]");
    if (!select || !boxes.length) return;
    function apply() {
      var chosen = select.value || "none";
      boxes.forEach(function (box) {
        var allowed = (box.getAttribute("data-allowed-for") || "").split(" ").indexOf(chosen) !== -1;
        box.disabled = !allowed;
        if (!allowed) box.checked = false;
        var row = box.closest(".api-scope");
        if (row) row.classList.toggle("is-disabled", !allowed);
      });
    }
    select.addEventListener("change", apply);
    apply();
  }

  function setupCopy() {
    document.querySelectorAll("[data-copy-target]").forEach(function (button) {
      var field = document.getElementById(button.getAttribute("data-copy-target"));
      var status = document.getElementById("new-key-status");
      if (!field) return;
      button.hidden = false;
      function say(text) {
        if (status) status.textContent = text;
      }
      button.addEventListener("click", function () {
        field.focus();
        field.select();
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(
            function () {
              say(button.getAttribute("data-copied-text"));
            },
            function () {
              say(button.getAttribute("data-failed-text"));
            }
          );
        } else {
          say(button.getAttribute("data-failed-text"));
        }
      });
    });
  }

  function focusNewKey() {
    var notice = document.getElementById("new-key");
    if (notice) notice.focus();
  }

  onReady(function () {
    setupScopes();
    setupCopy();
    focusNewKey();
  });
})();

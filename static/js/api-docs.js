/* 시흥 데이터거래소 — starts Swagger UI or Redoc on #api-docs (/api/docs/, /api/docs/redoc/) from our own origin:
 * the readers come from drf-spectacular-sidecar's static files, loaded before this file with the CSP nonce.
 *
 * Swagger UI's "Try it out" runs in the signed-in browser: a request that writes carries the page's CSRF token
 * (the portal's session needs it); with "Authorize" the user's API key is sent instead.
 */
(function () {
  "use strict";

  var SAFE = /^(GET|HEAD|OPTIONS|TRACE)$/i;

  function sameOrigin(url) {
    try {
      return new URL(url, window.location.href).origin === window.location.origin;
    } catch (e) {
      return false;
    }
  }

  function startSwagger(element, url) {
    var csrf = element.getAttribute("data-csrf-token");
    element.textContent = "";
    window.SwaggerUIBundle({
      url: url,
      domNode: element,
      deepLinking: true,
      docExpansion: "list",
      defaultModelsExpandDepth: 0,
      displayRequestDuration: true,
      filter: true,
      persistAuthorization: false,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      requestInterceptor: function (request) {
        if (csrf && !SAFE.test(request.method || "GET") && sameOrigin(request.url)) {
          request.headers["X-CSRFToken"] = csrf;
        }
        return request;
      },
    });
  }

  // Redoc's sidebar shows its maker's logo from cdn.redoc.ly, and no option turns it off. This page loads nothing
  // from another origin (the CSP would refuse it, with an error in the console): an image of the reader whose
  // source is on another origin gets a transparent pixel instead. Only on this page, before Redoc starts.
  var PIXEL = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";

  function isLocal(value) {
    try {
      var url = new URL(value, window.location.href);
      return url.protocol === "data:" || url.protocol === "blob:" || url.origin === window.location.origin;
    } catch (e) {
      return true;
    }
  }

  function keepImagesHome() {
    var setAttribute = Element.prototype.setAttribute;
    Element.prototype.setAttribute = function (name, value) {
      if (this instanceof HTMLImageElement && String(name).toLowerCase() === "src" && !isLocal(value)) {
        value = PIXEL;
      }
      return setAttribute.call(this, name, value);
    };
    var src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
    Object.defineProperty(HTMLImageElement.prototype, "src", {
      configurable: true,
      enumerable: src.enumerable,
      get: src.get,
      set: function (value) {
        src.set.call(this, isLocal(value) ? value : PIXEL);
      },
    });
  }

  function startRedoc(element, url) {
    keepImagesHome();
    element.textContent = "";
    window.Redoc.init(
      url,
      {
        expandResponses: "200,201",
        hideDownloadButton: false,
        pathInMiddlePanel: true,
        sortPropsAlphabetically: false,
        theme: { typography: { fontFamily: "inherit", headings: { fontFamily: "inherit" } } },
      },
      element
    );
  }

  function start() {
    var element = document.getElementById("api-docs");
    if (!element) return;
    var url = element.getAttribute("data-schema-url");
    var reader = element.getAttribute("data-reader");
    if (reader === "swagger" && window.SwaggerUIBundle) startSwagger(element, url);
    if (reader === "redoc" && window.Redoc) startRedoc(element, url);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

/* 시흥 데이터거래소 — resumable uploads of a dataset version's files (tus 1.0, tus-js-client).
 *
 * Markup: templates/catalog/version_detail.html
 *   #uploader                 data-endpoint, data-version, data-csrf, data-max-bytes, data-max-gb, data-accept,
 *                             data-lease-seconds (UPLOAD_LEASE_SECONDS: how long the retries must last)
 *   #upload-input             <input type=file multiple>; a drop zone [data-dropzone] takes dragged files too
 *   #upload-list              one <li> per file, cloned from <template id="upload-item-template">
 *   #upload-strings           translated words (data-*), with {name} {percent} {done} {total} {limit} {reason}
 *   #upload-live              polite live region for start / pause / resume / cancel / finish / error
 *   #version-files            the files table (htmx); gets the "refresh" event when an upload completes
 *   #version-files-live       polite live region: the files table's data-announce after each refresh
 *
 * One upload runs at a time (the others wait in line); Pause/Resume/Cancel per file. Choosing a
 * file that was interrupted before (same file, same version, this browser) resumes it: the upload
 * URL is kept in localStorage under a fingerprint of the file and the version, and a HEAD request
 * asks the server how many bytes it already has.
 */
(function () {
  "use strict";

  var CHUNK_SIZE = 50 * 1024 * 1024;
  var RETRY_DELAYS = [0, 1000, 3000, 5000, 10000];

  /* The retries (tus-js-client: HEAD, then the piece again) last longer than one lease of the server
     (UPLOAD_LEASE_SECONDS), plus a margin: a web process killed while it joined the last piece keeps the
     upload's lease until it expires, and every try meanwhile is answered 409 ("busy"). Giving up sooner would
     show "failed" for an upload the server takes a moment later. (Progress resets tus-js-client's count.) */
  function retryDelays(leaseSeconds) {
    var delays = RETRY_DELAYS.slice();
    var total = delays.reduce(function (sum, d) { return sum + d; }, 0);
    var needed = (leaseSeconds > 0 ? leaseSeconds : 60) * 1000 + 15000;
    while (total < needed) {
      delays.push(15000);
      total += 15000;
    }
    return delays;
  }

  function onReady(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (match, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : match;
    });
  }

  function formatBytes(bytes) {
    var units = ["B", "KB", "MB", "GB", "TB"];
    var value = bytes;
    var unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    var digits = unit === 0 || value >= 100 ? 0 : 1;
    return value.toLocaleString(document.documentElement.lang || undefined, {
      minimumFractionDigits: digits, maximumFractionDigits: digits
    }) + " " + units[unit];
  }

  function percentOf(done, total) {
    if (!total) return 0;
    return Math.min(100, Math.floor((done / total) * 100));
  }

  /* ---- The files table: refresh after an upload, announce results after each refresh ---- */

  function refreshFiles() {
    var target = document.getElementById("version-files");
    if (target && window.htmx) window.htmx.trigger(target, "refresh");
  }

  function setupFilesAnnouncer() {
    var live = document.getElementById("version-files-live");
    var files = document.getElementById("version-files");
    if (!live || !files) return;
    var last = files.getAttribute("data-announce") || "";
    document.body.addEventListener("htmx:afterSettle", function () {
      var current = document.getElementById("version-files");
      if (!current) return;
      var text = current.getAttribute("data-announce") || "";
      if (text && text !== last) live.textContent = text;
      last = text;
    });
  }

  /* ---- The uploader ---- */

  function setupUploader() {
    var root = document.getElementById("uploader");
    var input = document.getElementById("upload-input");
    var list = document.getElementById("upload-list");
    var listWrap = document.getElementById("upload-list-wrap");
    var template = document.getElementById("upload-item-template");
    var stringsEl = document.getElementById("upload-strings");
    var live = document.getElementById("upload-live");
    if (!root || !input || !list || !template || !stringsEl) return;
    if (!window.tus || !window.tus.isSupported) {
      // Very old browser, or the script did not load: the "needs JavaScript" notice says what to do.
      root.classList.add("pg-no-upload");
      return;
    }

    var endpoint = root.getAttribute("data-endpoint");
    var versionId = root.getAttribute("data-version");
    var csrf = root.getAttribute("data-csrf");
    var maxBytes = parseInt(root.getAttribute("data-max-bytes"), 10) || 0;
    var maxGb = root.getAttribute("data-max-gb") || "";
    var delays = retryDelays(parseInt(root.getAttribute("data-lease-seconds"), 10) || 0);
    var accept = (root.getAttribute("data-accept") || "").split(",").map(function (s) {
      return s.trim().toLowerCase();
    }).filter(Boolean);
    var S = stringsEl.dataset;
    var items = [];

    function announce(text) {
      if (!live) return;
      live.textContent = "";
      // A new node each time, so the same words are read again.
      window.setTimeout(function () { live.textContent = text; }, 50);
    }

    function suffixOf(name) {
      var dot = name.lastIndexOf(".");
      return dot >= 0 ? name.slice(dot).toLowerCase() : "";
    }

    function fingerprint(file, options) {
      return Promise.resolve(["sdx-upload", versionId, file.name, file.type, file.size, file.lastModified,
        options.endpoint, (options.metadata && options.metadata.replaces) || ""].join("-"));
    }

    /* One file: its list item, its tus.Upload and its state. `replaces` is the id of the version's file
       it replaces (chosen with that file's "Replace" button), or empty. */
    function Item(file, replaces) {
      this.file = file;
      this.replaces = replaces || "";
      this.state = "queued"; // queued | starting | uploading | paused | done | error | cancelled
      this.upload = null;
      this.resumedFrom = null;
      var li = template.content.firstElementChild.cloneNode(true);
      this.li = li;
      this.el = {
        name: li.querySelector("[data-name]"),
        bar: li.querySelector("[data-bar]"),
        fill: li.querySelector("[data-bar-fill]"),
        percent: li.querySelector("[data-percent]"),
        bytes: li.querySelector("[data-bytes]"),
        status: li.querySelector("[data-status]"),
        pause: li.querySelector("[data-action=pause]"),
        resume: li.querySelector("[data-action=resume]"),
        cancel: li.querySelector("[data-action=cancel]"),
        dismiss: li.querySelector("[data-action=dismiss]")
      };
      this.el.name.textContent = file.name + " (" + formatBytes(file.size) + ")" +
        (this.replaces ? " — " + fill(S.replacing, { name: replacedName(this.replaces) }) : "");
      li.querySelectorAll("[data-name-sr]").forEach(function (span) { span.textContent = " " + file.name; });
      this.el.bar.setAttribute("aria-label", file.name);
      var self = this;
      this.el.pause.addEventListener("click", function () { self.pause(); });
      this.el.resume.addEventListener("click", function () { self.resume(); });
      this.el.cancel.addEventListener("click", function () { self.cancel(); });
      this.el.dismiss.addEventListener("click", function () { self.dismiss(); });
      this.setProgress(0, file.size);
    }

    Item.prototype.setStatus = function (text, kind) {
      this.el.status.textContent = text;
      this.li.classList.toggle("is-error", kind === "error");
      this.li.classList.toggle("is-done", kind === "done");
    };

    Item.prototype.setProgress = function (done, total) {
      var pct = percentOf(done, total);
      this.el.bar.setAttribute("aria-valuenow", String(pct));
      this.el.bar.setAttribute("aria-valuetext", pct + "%");
      // CSSOM, not a style attribute: allowed by the Content Security Policy.
      this.el.fill.style.width = pct + "%";
      this.el.percent.textContent = pct + "%";
      this.el.bytes.textContent = fill(S.bytes, { done: formatBytes(done), total: formatBytes(total) });
      this.lastPercent = pct;
    };

    Item.prototype.setButtons = function () {
      // Read the focus first: hiding the focused button moves focus to <body> at once.
      var focused = document.activeElement;
      var s = this.state;
      var active = s === "starting" || s === "uploading";
      this.el.pause.hidden = !active;
      this.el.resume.hidden = !(s === "paused" || s === "error");
      this.el.cancel.hidden = !(active || s === "paused" || s === "queued" || s === "error");
      this.el.dismiss.hidden = !(s === "done" || s === "cancelled" || s === "invalid");
      // Keep keyboard focus on the item when the focused button disappears.
      if (focused && this.li.contains(focused) && focused.hidden) {
        var next = [this.el.resume, this.el.pause, this.el.dismiss, this.el.cancel].filter(function (b) {
          return !b.hidden;
        })[0];
        if (next) next.focus();
      }
    };

    Item.prototype.validate = function () {
      var file = this.file;
      if (accept.length && accept.indexOf(suffixOf(file.name)) < 0) return S.badType;
      if (file.size === 0) return S.empty;
      if (maxBytes && file.size > maxBytes) return fill(S.tooLarge, { limit: maxGb });
      return "";
    };

    Item.prototype.createUpload = function () {
      var self = this;
      var file = this.file;
      this.upload = new window.tus.Upload(file, {
        endpoint: endpoint,
        chunkSize: CHUNK_SIZE,
        retryDelays: delays,
        metadata: this.replaces
          ? { filename: file.name, version: String(versionId), replaces: String(this.replaces) }
          : { filename: file.name, version: String(versionId) },
        headers: { "X-CSRFToken": csrf },
        removeFingerprintOnSuccess: true,
        storeFingerprintForResuming: true,
        fingerprint: fingerprint,
        onAfterResponse: function (req, res) {
          // A HEAD asks how much of an earlier upload the server already has: say so.
          if (req.getMethod() === "HEAD" && res.getStatus() === 200) {
            var offset = parseInt(res.getHeader("Upload-Offset"), 10) || 0;
            self.resumedFrom = offset;
            self.setProgress(offset, file.size);
            self.setStatus(fill(S.resuming, { percent: percentOf(offset, file.size) + "%" }));
          }
        },
        onShouldRetry: function (err) {
          var status = err.originalResponse ? err.originalResponse.getStatus() : 0;
          var retry = (status < 400 || status >= 500 || status === 409 || status === 423) && navigator.onLine !== false;
          if (retry) self.setStatus(S.retrying);
          return retry;
        },
        onProgress: function (sent, total) {
          if (self.state !== "uploading" && self.state !== "starting") return;
          if (self.state === "starting") {
            self.state = "uploading";
            self.setButtons();
            // After a resume, "Resuming from …" stays up while the rest is sent.
            if (self.resumedFrom === null) self.setStatus(S.uploading);
          }
          if (self.el.status.textContent === S.retrying) self.setStatus(S.uploading); // back on track
          self.setProgress(sent, total);
        },
        onSuccess: function () {
          self.state = "done";
          self.setProgress(file.size, file.size);
          self.setStatus(S.done, "done");
          self.setButtons();
          announce(fill(S.announceDone, { name: file.name }));
          refreshFiles();
          pump();
        },
        onError: function (err) {
          if (self.state === "cancelled" || self.state === "paused") return;
          self.state = "error";
          self.setStatus(self.explain(err), "error");
          self.setButtons();
          announce(fill(S.announceError, { name: file.name }) + " " + self.el.status.textContent);
          pump();
        }
      });
    };

    Item.prototype.explain = function (err) {
      var res = err && err.originalResponse;
      var status = res ? res.getStatus() : 0;
      var body = "";
      try {
        body = res ? (res.getBody() || "") : "";
      } catch (e) {
        body = "";
      }
      body = String(body).trim();
      var looksLikeHtml = /^</.test(body);
      if (status === 413 || status === 400) {
        // The server's own words (plain text), e.g. the size limit or an unsupported format.
        return fill(S.refused, { reason: body && !looksLikeHtml ? body : status });
      }
      if (status === 401 || status === 403 || status === 404 || status === 410 || (status === 200 && looksLikeHtml)) {
        return S.session;
      }
      if (!status || navigator.onLine === false) return S.offline;
      return S.failed;
    };

    Item.prototype.start = function (resuming) {
      var self = this;
      this.state = "starting";
      this.resumedFrom = null;
      this.setButtons();
      this.setStatus(S.checkingPrevious);
      announce(fill(resuming ? S.announceResumed : S.announceStart, { name: this.file.name }));
      if (!this.upload) this.createUpload();
      var upload = this.upload;
      upload.findPreviousUploads().then(function (previous) {
        if (self.state !== "starting") return; // paused or cancelled meanwhile
        if (previous && previous.length) {
          // Newest first: an earlier, unfinished upload of this very file to this version.
          previous.sort(function (a, b) { return String(b.creationTime).localeCompare(String(a.creationTime)); });
          upload.resumeFromPreviousUpload(previous[0]);
        } else {
          self.setStatus(S.starting);
        }
        upload.start();
      }).catch(function () {
        if (self.state !== "starting") return;
        self.setStatus(S.starting);
        upload.start();
      });
    };

    Item.prototype.pause = function () {
      if (!this.upload || (this.state !== "uploading" && this.state !== "starting")) return;
      this.state = "paused";
      this.upload.abort();
      this.setStatus(fill(S.paused, { percent: (this.lastPercent || 0) + "%" }));
      announce(fill(S.announcePaused, { name: this.file.name, percent: (this.lastPercent || 0) + "%" }));
      this.setButtons();
      pump();
    };

    Item.prototype.resume = function () {
      if (this.state !== "paused" && this.state !== "error") return;
      // Ask the server for its offset again (HEAD) and continue from there.
      this.start(true);
    };

    Item.prototype.cancel = function () {
      var self = this;
      var wasRunning = this.state === "uploading" || this.state === "starting";
      this.state = "cancelled";
      this.setStatus(S.cancelling);
      this.setButtons();
      this.el.cancel.hidden = true;
      var done = function () {
        self.setProgress(0, self.file.size);
        self.setStatus(S.cancelled);
        announce(fill(S.announceCancelled, { name: self.file.name }));
        self.li.classList.add("is-cancelled");
        self.setButtons();
        if (self.el.dismiss && !self.el.dismiss.hidden) self.el.dismiss.focus();
      };
      if (this.upload) {
        // abort(true) also deletes the partial upload on the server (tus termination).
        this.upload.abort(true).then(done, done);
      } else {
        done();
      }
      if (wasRunning) pump();
    };

    Item.prototype.dismiss = function () {
      var index = items.indexOf(this);
      if (index >= 0) items.splice(index, 1);
      var next = this.li.nextElementSibling || this.li.previousElementSibling;
      this.li.remove();
      if (!items.length) {
        listWrap.hidden = true;
        input.focus();
      } else if (next) {
        var button = next.querySelector("button:not([hidden])");
        if (button) button.focus();
      }
    };

    function running() {
      return items.some(function (item) { return item.state === "starting" || item.state === "uploading"; });
    }

    function pump() {
      if (running()) return;
      for (var i = 0; i < items.length; i++) {
        if (items[i].state === "queued") {
          items[i].start();
          return;
        }
      }
    }

    function replacedName(id) {
      var input = document.querySelector("input[data-replaces='" + id + "']");
      return input ? input.getAttribute("data-replaces-name") : "";
    }

    function addFiles(fileList, replaces) {
      var files = Array.prototype.slice.call(fileList || []);
      if (!files.length) return;
      listWrap.hidden = false;
      files.forEach(function (file) {
        var item = new Item(file, replaces);
        items.push(item);
        list.appendChild(item.li);
        var problem = item.validate();
        if (problem) {
          item.state = "invalid";
          item.li.classList.add("is-invalid");
          item.setStatus(problem, "error");
          item.setButtons();
          announce(fill(S.announceError, { name: file.name }) + " " + problem);
          return;
        }
        item.setStatus(S.waiting);
        item.setButtons();
      });
      pump();
    }

    input.addEventListener("change", function () {
      addFiles(input.files);
      // The same file can be chosen again (e.g. to resume after a reload).
      input.value = "";
    });

    // "Replace" of a file in the files table (replaced by htmx while checks run, so listened for on the
    // document): the chosen file is uploaded like any other and takes that file's place when it has arrived.
    document.addEventListener("change", function (event) {
      var target = event.target;
      if (!target || !target.matches || !target.matches("input[type=file][data-replaces]")) return;
      addFiles(target.files, target.getAttribute("data-replaces"));
      target.value = "";
      listWrap.scrollIntoView({ block: "nearest" });
    });

    var zone = root.querySelector("[data-dropzone]");
    if (zone) {
      ["dragenter", "dragover"].forEach(function (type) {
        zone.addEventListener(type, function (event) {
          event.preventDefault();
          zone.classList.add("active");
        });
      });
      ["dragleave", "dragend"].forEach(function (type) {
        zone.addEventListener(type, function () { zone.classList.remove("active"); });
      });
      zone.addEventListener("drop", function (event) {
        event.preventDefault();
        zone.classList.remove("active");
        if (event.dataTransfer) addFiles(event.dataTransfer.files);
      });
    }

    window.addEventListener("beforeunload", function (event) {
      var busy = items.some(function (item) {
        return item.state === "starting" || item.state === "uploading" || item.state === "queued";
      });
      if (busy) {
        event.preventDefault();
        event.returnValue = S.leave;
        return S.leave;
      }
      return undefined;
    });

    root.classList.add("is-ready");
  }

  onReady(function () {
    setupFilesAnnouncer();
    setupUploader();
  });
})();

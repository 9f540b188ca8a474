// Live rows on the dataset page: an EventSource per live table ([data-live-stream]); each `row` event (id = seq)
// is put at the top of the table (at most 20 rows kept). EventSource reconnects by itself with Last-Event-ID.
(function () {
  "use strict";
  var KEEP = 20;
  document.querySelectorAll("[data-live-stream]").forEach(function (box) {
    if (!window.EventSource) return;
    var table = box.querySelector("table");
    var body = table.querySelector("tbody");
    var status = box.querySelector(".live-status");
    var columns = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) { return th.textContent; }).slice(1);
    var section = box.closest(".live-table");
    var age = section && section.querySelector(".live-age");
    var count = section && section.querySelector(".live-count");
    var url = box.getAttribute("data-live-stream") + "?since=" + encodeURIComponent(box.getAttribute("data-live-since") || "0");
    var noAccess = function () { status.textContent = box.getAttribute("data-no-access"); };
    // Ask first whether this visitor may read live rows (the dataset's tables, not counted as a call): a stream
    // opened without the right would only be refused (and logged as an error by the browser).
    fetch(box.getAttribute("data-live-access"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (info) {
        var live = info && (info.versions || []).filter(function (v) { return v.state === "live"; })[0];
        if (live && live.full_access) open(); else noAccess();
      })
      .catch(noAccess);
    function open() {
      var source = new EventSource(url);
      var got = false;
      source.addEventListener("row", function (event) {
        var item = JSON.parse(event.data);
        got = true;
        var tr = document.createElement("tr");
        tr.setAttribute("data-seq", item.seq);
        var th = document.createElement("th");
        th.scope = "row";
        th.textContent = item.seq;
        tr.appendChild(th);
        columns.forEach(function (name) {
          var td = document.createElement("td");
          var value = item.data[name];
          var text = value === null || value === undefined ? "" : String(value);
          td.textContent = /^\d{4}-\d{2}-\d{2}T\d{2}:/.test(text) ? text.replace("T", " ") : text;
          tr.appendChild(td);
        });
        body.insertBefore(tr, body.firstChild);
        while (body.rows.length > KEEP) body.deleteRow(body.rows.length - 1);
        if (age) age.textContent = box.getAttribute("data-just-now");
        // Rows are numbered 1, 2, 3 … without gaps: the newest seq is the table's row count.
        if (count && item.seq > Number(count.getAttribute("data-count") || 0)) {
          count.setAttribute("data-count", item.seq);
          count.textContent = Number(item.seq).toLocaleString("ko-KR");
        }
      });
      source.addEventListener("end", function (event) {
        var data = JSON.parse(event.data || "{}");
        if (data.reason === "no_access") { source.close(); status.textContent = box.getAttribute("data-no-access"); }
      });
      source.onerror = function () {
        if (source.readyState === EventSource.CLOSED && !got) noAccess();
      };
    }
  });
})();

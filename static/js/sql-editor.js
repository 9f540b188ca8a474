/* 시흥 데이터거래소 — the data API and SQL panel of a dataset page (templates/transactions/dataapi/_panel.html).
 * Loaded with the CSP nonce; no inline handlers, no inline styles (Chart.js sizes its canvas through the CSSOM).
 *
 * The panel is a fragment htmx loads after the page (transactions.dataapi.panel): everything is set up when it
 * arrives (htmx:afterSettle), once.
 * - [data-copy="<id>"]: copies the text of the code block <id> (curl, Python) and says so in a status line.
 * - #sql-form: POSTs {sql, version, sample} to the dataset's SQL endpoint (the session's CSRF token in
 *   X-CSRFToken), then shows the row count and elapsed time, the results table, a chart of the result (Chart.js,
 *   x and y pickers: the first date or text column and the first numeric column by default) and enables the CSV
 *   export of the result (UTF-8 with a byte-order mark for Excel, formula-looking cells neutralised as the
 *   server's CSV does). Errors show the server's message (Korean or English, the page's language).
 */
(function () {
  "use strict";

  var CHART_POINTS = 1000;
  var NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|DOUBLE|FLOAT|REAL|DECIMAL|NUMERIC)/i;
  var TEMPORAL = /^(DATE|TIMESTAMP|TIME)/i;
  var FORMULA_START = /^[=+\-@\t\r]/;
  var PLAIN_NUMBER = /^[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
  var scriptElement = document.currentScript;

  function onReady(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name);
    return (value && value.trim()) || fallback;
  }

  function setupCopy() {
    var status = document.getElementById("data-api-copy-status");
    document.querySelectorAll("[data-copy]:not([data-ready])").forEach(function (button) {
      var code = document.getElementById(button.getAttribute("data-copy"));
      if (!code) return;
      button.setAttribute("data-ready", "true");
      button.hidden = false;
      button.addEventListener("click", function () {
        var text = code.textContent;
        function say(message) {
          if (status) status.textContent = message;
        }
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(
            function () { say(button.getAttribute("data-copied-text")); },
            function () { selectText(code); say(button.getAttribute("data-failed-text")); }
          );
        } else {
          selectText(code);
          say(button.getAttribute("data-failed-text"));
        }
      });
    });
  }

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function loadChartJs(src) {
    return new Promise(function (resolve, reject) {
      if (window.Chart) return resolve(window.Chart);
      var existing = document.querySelector('script[src="' + src + '"]');
      var script = existing || document.createElement("script");
      script.addEventListener("load", function () { resolve(window.Chart); });
      script.addEventListener("error", reject);
      if (!existing) {
        if (scriptElement && scriptElement.nonce) script.nonce = scriptElement.nonce;
        script.src = src;
        document.head.appendChild(script);
      }
    });
  }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (match, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : match;
    });
  }

  function cellText(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function csvCell(value) {
    var text = cellText(value);
    if (typeof value === "string" && FORMULA_START.test(text) && !PLAIN_NUMBER.test(text)) text = "'" + text;
    if (/[",\r\n]/.test(text)) text = '"' + text.replace(/"/g, '""') + '"';
    return text;
  }

  function SqlEditor(form) {
    this.form = form;
    this.config = JSON.parse(document.getElementById("dataapi-config").textContent);
    this.texts = document.getElementById("dataapi-texts").dataset;
    this.lang = document.documentElement.lang || "ko";
    this.numberFormat = new Intl.NumberFormat(this.lang, { maximumFractionDigits: 2 });
    this.status = document.getElementById("sql-status");
    this.error = document.getElementById("sql-error");
    this.result = document.getElementById("sql-result");
    this.summary = document.getElementById("sql-summary");
    this.table = document.getElementById("sql-table");
    this.figure = document.getElementById("sql-chart-figure");
    this.canvas = document.getElementById("sql-chart");
    this.xSelect = document.getElementById("sql-x");
    this.ySelect = document.getElementById("sql-y");
    this.runButton = document.getElementById("sql-run");
    this.exportButton = document.getElementById("sql-export");
    this.chart = null;
    this.data = null;
    var self = this;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.run();
    });
    this.xSelect.addEventListener("change", function () { self.draw(); });
    this.ySelect.addEventListener("change", function () { self.draw(); });
    this.exportButton.addEventListener("click", function () { self.exportCsv(); });
  }

  SqlEditor.prototype.sample = function () {
    var box = document.getElementById("sql-sample");
    if (!box) return true;
    return box.type === "checkbox" ? box.checked : true;
  };

  SqlEditor.prototype.run = function () {
    var self = this;
    var sql = document.getElementById("sql-text").value;
    this.error.hidden = true;
    this.error.textContent = "";
    this.status.textContent = this.texts.running;
    this.runButton.disabled = true;
    this.form.setAttribute("aria-busy", "true");
    var headers = { "Content-Type": "application/json", Accept: "application/json", "Accept-Language": this.lang };
    if (this.texts.csrf) headers["X-CSRFToken"] = this.texts.csrf;
    fetch(this.config.sqlUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: headers,
      body: JSON.stringify({ sql: sql, version: this.config.version, sample: this.sample() })
    })
      .then(function (response) {
        return response.json().then(
          function (body) { return { ok: response.ok, body: body }; },
          function () { return { ok: false, body: null }; }
        );
      })
      .then(function (answer) {
        if (!answer.ok) {
          var message = answer.body && answer.body.error ? answer.body.error.message : self.texts.failed;
          self.fail(message);
          return;
        }
        self.show(answer.body);
      })
      .catch(function () { self.fail(self.texts.failed); })
      .then(function () {
        self.runButton.disabled = false;
        self.form.removeAttribute("aria-busy");
      });
  };

  SqlEditor.prototype.fail = function (message) {
    this.status.textContent = "";
    this.error.textContent = message;
    this.error.hidden = false;
  };

  SqlEditor.prototype.show = function (body) {
    this.data = body;
    var summary = format(this.texts.summary, {
      rows: this.numberFormat.format(body.row_count),
      ms: this.numberFormat.format(body.elapsed_ms)
    });
    if (body.truncated) summary += " " + this.texts.truncated;
    if (!body.row_count) summary += " " + this.texts.empty;
    this.summary.textContent = summary;
    this.status.textContent = summary;
    this.fillTable(body);
    this.result.hidden = false;
    this.exportButton.disabled = !body.columns.length;
    this.fillPickers(body.columns);
    this.draw();
  };

  SqlEditor.prototype.fillTable = function (body) {
    var thead = this.table.tHead;
    var tbody = this.table.tBodies[0];
    thead.textContent = "";
    tbody.textContent = "";
    var head = document.createElement("tr");
    body.columns.forEach(function (column) {
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = column.name;
      if (NUMERIC.test(column.type)) th.className = "pg-num";
      head.appendChild(th);
    });
    thead.appendChild(head);
    var fragment = document.createDocumentFragment();
    body.rows.forEach(function (row) {
      var tr = document.createElement("tr");
      row.forEach(function (value, index) {
        var td = document.createElement("td");
        td.textContent = cellText(value);
        if (NUMERIC.test(body.columns[index].type)) td.className = "pg-num";
        tr.appendChild(td);
      });
      fragment.appendChild(tr);
    });
    tbody.appendChild(fragment);
  };

  SqlEditor.prototype.fillPickers = function (columns) {
    var x = this.xSelect;
    var y = this.ySelect;
    x.textContent = "";
    y.textContent = "";
    var xDefault = -1;
    var yDefault = -1;
    columns.forEach(function (column, index) {
      var numeric = NUMERIC.test(column.type);
      var option = document.createElement("option");
      option.value = String(index);
      option.textContent = column.name;
      x.appendChild(option);
      if (numeric) {
        var yOption = option.cloneNode(true);
        y.appendChild(yOption);
        if (yDefault === -1) yDefault = index;
      }
      if (xDefault === -1 && !numeric) xDefault = index;
    });
    if (xDefault === -1) xDefault = 0;
    if (yDefault === xDefault) {
      for (var i = 0; i < columns.length; i++) {
        if (i !== xDefault && NUMERIC.test(columns[i].type)) { yDefault = i; break; }
      }
    }
    x.value = String(xDefault);
    if (yDefault !== -1) y.value = String(yDefault);
  };

  SqlEditor.prototype.draw = function () {
    var self = this;
    var body = this.data;
    if (!body) return;
    var xIndex = parseInt(this.xSelect.value, 10);
    var yIndex = parseInt(this.ySelect.value, 10);
    if (!body.rows.length || isNaN(xIndex) || isNaN(yIndex)) {
      this.figure.hidden = true;
      if (body.rows.length && isNaN(yIndex)) this.summary.textContent += " " + this.texts.noChart;
      return;
    }
    this.figure.hidden = false;
    loadChartJs(this.texts.chartSrc).then(function (Chart) {
      var rows = body.rows.slice(0, CHART_POINTS);
      var xColumn = body.columns[xIndex];
      var yColumn = body.columns[yIndex];
      var labels = rows.map(function (row) { return cellText(row[xIndex]); });
      var values = rows.map(function (row) {
        var v = row[yIndex];
        return v === null || v === undefined ? null : Number(v);
      });
      var label = format(self.texts.chartLabel, { x: xColumn.name, y: yColumn.name });
      self.canvas.setAttribute("aria-label", label);
      var colour = cssVar("--krds-light-color-element-primary", "#256ef4");
      var grid = cssVar("--krds-light-color-border-gray-light", "#cdd1d5");
      var text = cssVar("--krds-light-color-text-basic", "#1e2124");
      var type = TEMPORAL.test(xColumn.type) ? "line" : "bar";
      if (self.chart) self.chart.destroy();
      self.chart = new Chart(self.canvas, {
        type: type,
        data: {
          labels: labels,
          datasets: [{
            label: yColumn.name,
            data: values,
            backgroundColor: colour,
            borderColor: colour,
            borderWidth: type === "line" ? 2 : 0,
            pointRadius: rows.length > 100 ? 0 : 2,
            spanGaps: true
          }]
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          plugins: { legend: { display: false }, tooltip: { enabled: true } },
          scales: {
            x: { title: { display: true, text: xColumn.name, color: text }, grid: { color: grid }, ticks: { color: text, maxRotation: 45, autoSkip: true } },
            y: { title: { display: true, text: yColumn.name, color: text }, grid: { color: grid }, ticks: { color: text }, beginAtZero: type === "bar" }
          }
        }
      });
      self.canvas.setAttribute("data-drawn", "true");
    }, function () {
      self.figure.hidden = true;
    });
  };

  SqlEditor.prototype.exportCsv = function () {
    var body = this.data;
    if (!body) return;
    var lines = [body.columns.map(function (c) { return csvCell(c.name); }).join(",")];
    body.rows.forEach(function (row) { lines.push(row.map(csvCell).join(",")); });
    var blob = new Blob(["\ufeff" + lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
    var url = URL.createObjectURL(blob);
    var link = document.createElement("a");
    link.href = url;
    link.download = "query-result.csv";
    link.hidden = true;
    document.body.appendChild(link);
    link.click();
    document.body.removeChild(link);
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  };

  // The panel arrives after the page (htmx swaps it in): set up what is new, once.
  function setup() {
    setupCopy();
    var form = document.querySelector("[data-sql-editor]:not([data-ready])");
    if (form && document.getElementById("dataapi-config")) {
      form.setAttribute("data-ready", "true");
      new SqlEditor(form);
    }
  }

  onReady(setup);
  document.addEventListener("htmx:afterSettle", setup);
})();

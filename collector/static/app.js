// v6audit dashboard: sorting and filtering of tables in place. The pages
// work without it (the column headers and the filter form are plain links
// and a GET form); this only saves the round trip. No inline handlers, so the
// Content-Security-Policy stays strict.
"use strict";

(function () {
  function rowsOf(table) {
    return Array.prototype.slice.call(table.tBodies[0].rows);
  }

  // Sorting: a click on a column header of a .sortable table.
  function sortBy(table, th) {
    var key = th.getAttribute("data-key");
    var numeric = th.getAttribute("data-type") === "num";
    var current = th.getAttribute("aria-sort");
    // Numbers high first, text A to Z; a second click flips.
    var desc = current ? current === "ascending" : numeric;
    var rows = rowsOf(table);
    rows.sort(function (a, b) {
      var x = a.getAttribute("data-k-" + key) || "";
      var y = b.getAttribute("data-k-" + key) || "";
      var c = numeric ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y);
      if (c === 0) {
        c = (a.getAttribute("data-id") || "").localeCompare(b.getAttribute("data-id") || "");
        return c;
      }
      return desc ? -c : c;
    });
    var body = table.tBodies[0];
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", desc ? "descending" : "ascending");
    var sortInput = document.querySelector("#filters input[name=sort]");
    if (sortInput) { sortInput.value = (desc ? "-" : "") + key; }
  }

  // Filtering: the search box hides rows as one types.
  function filter(table, text) {
    var q = text.trim().toLowerCase();
    var shown = 0;
    rowsOf(table).forEach(function (r) {
      var hit = q === "" || (r.getAttribute("data-search") || "").indexOf(q) !== -1;
      r.hidden = !hit;
      if (hit) { shown++; }
    });
    var count = document.getElementById("shown");
    if (count) { count.textContent = String(shown); }
    var none = document.getElementById("no-match");
    if (none) { none.hidden = shown !== 0; }
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
        var link = th.querySelector("a");
        if (!link || !th.getAttribute("data-key")) { return; }
        link.addEventListener("click", function (ev) {
          ev.preventDefault();
          sortBy(table, th);
        });
      });
    });
    var table = document.getElementById("portal-table");
    var q = document.getElementById("q");
    if (table && q) {
      q.addEventListener("input", function () { filter(table, q.value); });
    }
    // The filter form's lists apply as soon as one is chosen.
    Array.prototype.forEach.call(document.querySelectorAll("#filters select"), function (s) {
      s.addEventListener("change", function () { s.form.submit(); });
    });
    document.documentElement.classList.add("js");
  });
})();

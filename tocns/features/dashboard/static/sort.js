// Sorts a table with class "sortable" by the clicked heading (th[data-sort]): numbers by value, text in Vietnamese.
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th[data-sort]").forEach(function (th, index) {
    th.title = "Bấm để sắp xếp";
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var col = Array.prototype.indexOf.call(th.parentNode.children, th);
      var asc = th.dataset.dir !== "asc";
      table.querySelectorAll("th").forEach(function (h) { delete h.dataset.dir; });
      th.dataset.dir = asc ? "asc" : "desc";
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
        var d = th.dataset.sort === "num" ? parseFloat(x) - parseFloat(y) : x.localeCompare(y, "vi");
        return asc ? d : -d;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});

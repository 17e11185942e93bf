// Runs a stored query from the API page and shows the answer as a table (SPARQL JSON results).
document.querySelectorAll("form.run-query").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var params = new URLSearchParams(new FormData(form));
    params.delete("format");
    Array.from(params.keys()).forEach(function (k) { if (!params.get(k)) params.delete(k); });
    var out = form.parentElement.querySelector(".output");
    out.textContent = "…";
    fetch(form.action + "?" + params.toString(), { headers: { "Accept": "application/sparql-results+json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        out.textContent = "";
        if (!res.ok) { var p = document.createElement("p"); p.className = "error"; p.textContent = res.body.detail || res.body.title; out.appendChild(p); return; }
        var vars = res.body.head.vars, table = document.createElement("table"), head = table.insertRow();
        table.className = "list result-table";
        vars.forEach(function (v) { var th = document.createElement("th"); th.textContent = v; head.appendChild(th); });
        res.body.results.bindings.forEach(function (b) {
          var row = table.insertRow();
          vars.forEach(function (v) { row.insertCell().textContent = b[v] ? b[v].value : ""; });
        });
        var count = document.createElement("p"); count.className = "muted"; count.textContent = res.body.results.bindings.length + " rows";
        out.appendChild(count); out.appendChild(table);
      });
  });
});

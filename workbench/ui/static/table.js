// A sortable, filterable table. The kernel sends rows of cells, each with the
// text to show and the key to sort by; sorting and filtering happen here, so a
// click on a header costs the kernel nothing. Columns marked html carry markup
// the kernel has already escaped (sparklines, badges); all others are text.
function render({ model, el }) {
  el.classList.add("wb-table");
  const bar = document.createElement("div");
  bar.className = "wb-table-bar";
  const filter = document.createElement("input");
  filter.type = "search";
  filter.placeholder = "filter";
  filter.setAttribute("aria-label", `filter ${model.get("title") || "table"}`);
  bar.appendChild(filter);
  const count = document.createElement("span");
  count.className = "wb-table-count";
  bar.appendChild(count);
  const wrap = document.createElement("div");
  wrap.className = "wb-table-wrap";
  const table = document.createElement("table");
  wrap.appendChild(table);
  el.append(bar, wrap);
  if (!model.get("filterable")) bar.style.display = "none";

  const draw = () => {
    const columns = model.get("columns");
    const rows = model.get("rows");
    let sortBy = model.get("sort_by");
    const desc = model.get("descending");
    const needle = filter.value.trim().toLowerCase();
    let order = rows.map((_, i) => i);
    if (needle) order = order.filter((i) => rows[i].some((c) => String(c[0]).toLowerCase().includes(needle)));
    const col = columns.findIndex((c) => c.key === sortBy);
    if (col >= 0) {
      order.sort((a, b) => {
        const x = rows[a][col][1];
        const y = rows[b][col][1];
        const r = x === y ? 0 : x === null ? 1 : y === null ? -1 : x < y ? -1 : 1;
        return desc ? -r : r;
      });
    }
    table.replaceChildren();
    const head = table.createTHead().insertRow();
    columns.forEach((c) => {
      const th = document.createElement("th");
      th.textContent = c.label + (c.key === sortBy ? (desc ? " ▼" : " ▲") : "");
      th.scope = "col";
      th.tabIndex = 0;
      th.className = c.numeric ? "wb-num" : "";
      th.setAttribute("aria-sort", c.key === sortBy ? (desc ? "descending" : "ascending") : "none");
      const sort = () => {
        if (model.get("sort_by") === c.key) model.set("descending", !model.get("descending"));
        else {
          model.set("sort_by", c.key);
          model.set("descending", !!c.numeric);
        }
        model.save_changes();
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", (e) => (e.key === "Enter" || e.key === " ") && sort());
      head.appendChild(th);
    });
    const body = table.createTBody();
    const selected = model.get("selected");
    order.forEach((i) => {
      const tr = body.insertRow();
      tr.dataset.index = i;
      if (i === selected) tr.className = "wb-selected";
      rows[i].forEach((cell, j) => {
        const td = tr.insertCell();
        if (columns[j].html) td.innerHTML = cell[0];
        else td.textContent = cell[0];
        if (columns[j].numeric) td.className = "wb-num";
      });
      if (model.get("clickable")) {
        tr.tabIndex = 0;
        const pick = () => model.send({ type: "row", index: i });
        tr.addEventListener("click", pick);
        tr.addEventListener("keydown", (e) => e.key === "Enter" && pick());
      }
    });
    count.textContent = needle ? `${order.length} of ${rows.length}` : `${rows.length} rows`;
    if (!rows.length) {
      const td = body.insertRow().insertCell();
      td.colSpan = columns.length || 1;
      td.className = "wb-empty";
      td.textContent = model.get("empty_text");
    }
  };
  filter.addEventListener("input", draw);
  const names = ["change:rows", "change:columns", "change:sort_by", "change:descending", "change:selected"];
  names.forEach((n) => model.on(n, draw));
  draw();
  return () => names.forEach((n) => model.off(n, draw));
}

export default { render };

// A plotly chart that receives only data. plotly.js itself reaches a page once:
// the first chart on a page that finds no window.Plotly asks its kernel for the
// library (a binary message), installs it, and every chart waiting meanwhile
// draws with it. A FigureWidget ships the library per instance instead (~5 MB each).
const shared = (window.__workbenchPlotly ||= { waiters: [], requested: false });

function installPlotly(source) {
  if (!window.Plotly && source) {
    // plotly.min.js is UMD: hide an AMD loader (RequireJS) so it sets window.Plotly.
    const define = window.define;
    window.define = undefined;
    try {
      const script = document.createElement("script");
      script.textContent = source;
      document.head.appendChild(script);
    } finally {
      window.define = define;
    }
  }
  const waiters = shared.waiters;
  shared.waiters = [];
  waiters.forEach((resolve) => resolve(window.Plotly));
}

function askKernel(model) {
  if (!shared.requested) {
    shared.requested = true;
    model.send({ type: "need_plotly" });
  }
}

function withPlotly(model) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  return new Promise((resolve) => {
    shared.waiters.push(resolve);
    shared.model = model;
    // The dashboard's template runs its preloaded plotly.js file early (and calls
    // shared.fail if that fails); otherwise the first chart runs it, and asks the
    // kernel only if that fails (or in JupyterLab, where there is no such file).
    shared.fail = () => {
      shared.tagFailed = true;
      if (shared.waiters.length) askKernel(shared.model);
    };
    const link = document.querySelector("link[data-wb-plotly]");
    if (!link || shared.tagFailed) {
      askKernel(model);
    } else if (!shared.tagWatched) {
      shared.tagWatched = true;
      const define = window.define; // plotly.min.js is UMD: hide an AMD loader
      window.define = undefined;
      const script = document.createElement("script");
      script.src = link.href;
      script.onload = () => {
        window.define = define;
        installPlotly("");
      };
      script.onerror = () => {
        window.define = define;
        shared.fail();
      };
      document.head.appendChild(script);
    }
  });
}

const THEMES = {
  light: { font: "#1f2430", grid: "#e4e7eb", line: "#c9ced6", hover: "#ffffff" },
  dark: { font: "#d8dce2", grid: "#2c323a", line: "#444b55", hover: "#1b1f24" },
};

function themed(layout, theme) {
  const t = THEMES[theme] || THEMES.light;
  const out = { ...layout };
  out.paper_bgcolor = "rgba(0,0,0,0)";
  out.plot_bgcolor = "rgba(0,0,0,0)";
  out.font = { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, ...(layout.font || {}), color: t.font };
  out.hoverlabel = { bgcolor: t.hover, font: { color: t.font }, ...(layout.hoverlabel || {}) };
  for (const key of Object.keys(out)) {
    if (/^[xy]axis\d*$/.test(key)) {
      out[key] = { gridcolor: t.grid, zerolinecolor: t.grid, linecolor: t.line, ...out[key] };
    }
  }
  if (out.legend) out.legend = { bgcolor: "rgba(0,0,0,0)", ...out.legend };
  return out;
}

function download(msg, buffers) {
  const blob = new Blob([buffers[0]], { type: msg.mime });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = msg.name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function render({ model, el }) {
  el.classList.add("wb-chart");
  const div = document.createElement("div");
  div.className = "wb-chart-plot";
  div.style.width = "100%";
  div.style.height = `${model.get("height")}px`;
  div.setAttribute("role", "figure");
  div.setAttribute("aria-label", model.get("title") || "chart");
  el.appendChild(div);
  let ready = false;
  const config = {
    responsive: true,
    displaylogo: false,
    modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d"],
    toImageButtonOptions: { format: "png", filename: model.get("title") || "chart", scale: 2 },
  };
  const draw = () => {
    const fig = model.get("figure") || {};
    div.dataset.points = JSON.stringify((fig.data || []).map((t) => (t.x || t.z || []).length));
    div.dataset.tier = (fig.layout && fig.layout.meta && fig.layout.meta.tier) || "";
    return window.Plotly.react(div, fig.data || [], themed(fig.layout || {}, model.get("theme")), config);
  };
  const onMessage = (msg, buffers) => {
    if (msg.type === "plotly") {
      installPlotly(new TextDecoder().decode(buffers[0]));
    } else if (msg.type === "extend" && ready) {
      window.Plotly.extendTraces(div, msg.update, msg.indices, msg.max_points);
      const fig = model.get("figure") || {};
      div.dataset.points = JSON.stringify(div.data.map((t) => (t.x || []).length));
    } else if (msg.type === "download") {
      download(msg, buffers);
    } else if (msg.type === "png" && ready) {
      window.Plotly.downloadImage(div, { format: "png", filename: msg.name || "chart", scale: 2 });
    }
  };
  model.on("msg:custom", onMessage);
  withPlotly(model).then(() => {
    draw().then(() => {
      ready = true;
      el.classList.add("wb-drawn");
      div.on("plotly_click", (ev) => {
        model.send({
          type: "click",
          points: ev.points.map((p) => ({ curve: p.curveNumber, index: p.pointIndex, x: p.x, y: p.y, customdata: p.customdata ?? null })),
        });
      });
    });
  });
  const redraw = () => ready && draw();
  model.on("change:figure", redraw);
  model.on("change:theme", redraw);
  model.on("change:height", () => {
    div.style.height = `${model.get("height")}px`;
    if (ready) window.Plotly.Plots.resize(div);
  });
  const observer = new ResizeObserver(() => ready && window.Plotly.Plots.resize(div));
  observer.observe(el);
  return () => {
    observer.disconnect();
    model.off("msg:custom", onMessage);
    model.off("change:figure", redraw);
    model.off("change:theme", redraw);
    if (window.Plotly) window.Plotly.purge(div);
  };
}

export default { render };

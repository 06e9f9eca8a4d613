// The page's one refresh clock. It runs in the browser, so a closed tab stops
// ticking, its kernel goes idle and Voilà's idle culling reclaims it (a kernel
// running its own refresh loop is never idle and would live forever, voila#1458).
// A hidden tab does not tick either; it catches up at once when shown again.
function render({ model, el }) {
  el.style.display = "none";
  let timer = null;
  let last = 0;
  const tick = () => {
    if (document.hidden) return;
    last = Date.now();
    model.set("tick", model.get("tick") + 1);
    model.save_changes();
  };
  const start = () => {
    if (timer) clearInterval(timer);
    timer = setInterval(tick, Math.max(250, model.get("interval_ms")));
  };
  const onVisible = () => {
    if (!document.hidden && Date.now() - last > model.get("interval_ms")) tick();
  };
  // Several views of one clock must not multiply its ticks: only the first runs.
  if (model.__workbenchClock) return () => {};
  model.__workbenchClock = true;
  start();
  document.addEventListener("visibilitychange", onVisible);
  model.on("change:interval_ms", start);
  return () => {
    clearInterval(timer);
    model.__workbenchClock = false;
    document.removeEventListener("visibilitychange", onVisible);
    model.off("change:interval_ms", start);
  };
}

export default { render };

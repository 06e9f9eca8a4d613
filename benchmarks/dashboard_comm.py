"""The dashboard's kernel with its widget messages, without Voilà or a browser: memory and CPU per tick.

``benchmarks/dashboard_kernel.py`` runs the panels in this process with no comm
open; ``benchmarks/dashboard.py`` runs the whole page. This sits between: a real
ipykernel (started with jupyter_client, as Voilà starts it) runs the
dashboard notebook's cells, and this script plays the browser's part of the
conversation — it sends the ``Clock`` widget's ``tick`` updates over the shell
channel every ``--sleep`` seconds, exactly the message the page's JavaScript
timer sends, and reads every message the kernel publishes. So every widget
state update is serialised and sent, as on the page. Between reports it asks
the kernel about itself (RSS, live widgets, object counts by type, the
session's bookkeeping, and with ``--tracemalloc N`` the N allocation sites that
grew most), so a growth seen here can be attributed.

    WORKBENCH_HOME=/tmp/h workbench demo && WORKBENCH_HOME=/tmp/h workbench agent &
    WORKBENCH_HOME=/tmp/h python benchmarks/dashboard_comm.py --ticks 600 --scale 10
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import start_new_kernel

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "dashboard.ipynb"

#: run in the kernel at every report; prints one JSON line
PROBE = r"""
import gc as _gc, json as _json, sys as _sys, collections as _col
import ipywidgets as _W
_gc.collect()
def _rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
_counts = _col.Counter(type(o).__name__ for o in _gc.get_objects())
_k = get_ipython().kernel
_out = {
    "rss": _rss(),
    "widgets": len(_W.Widget.widgets),
    "objects": sum(_counts.values()),
    "top": _counts.most_common(__TOP__),
    "digest_history": len(getattr(_k.session, "digest_history", ())),
    "outputs_in_history": len(get_ipython().history_manager.output_hist),
    "ticks": dash.ticks,
    "errors": dash.stats()["errors"],
}
try:
    _out["new_modules"] = sorted(set(_sys.modules) - _mods0)
except NameError:  # the first probe
    _mods0 = set(_sys.modules)
if __TRACE__:
    import tracemalloc as _tm
    if not _tm.is_tracing():
        _tm.start(10)
        _snap0 = _tm.take_snapshot()
    else:
        _snap = _tm.take_snapshot()
        _out["grew"] = [
            [s.size_diff / 2**20, s.count_diff, s.traceback.format()[-8:]]
            for s in _snap.compare_to(_snap0, "traceback")[:__TRACE__]
        ]
print("PROBE" + _json.dumps(_out))
"""


class Kernel:
    """A kernel and a client; ``run`` executes code and returns what it printed."""

    def __init__(self, cwd: Path) -> None:
        self.km, self.kc = start_new_kernel(kernel_name="python3", cwd=str(cwd), env=dict(os.environ))
        self.iopub_bytes = 0
        self.iopub_msgs = 0

    def drain(self, timeout: float = 0.0) -> list[dict]:
        msgs = []
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=timeout)
            except queue.Empty:
                return msgs
            self.iopub_msgs += 1
            self.iopub_bytes += len(json.dumps(msg["content"], default=str))
            msgs.append(msg)
            timeout = 0.0

    def run(self, code: str, timeout: float = 300.0) -> str:
        msg_id = self.kc.execute(code)
        text, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in self.drain(timeout=1.0):
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    text.append(content["text"])
                elif kind == "error":
                    raise RuntimeError("\n".join(content["traceback"]))
                elif kind == "status" and content["execution_state"] == "idle":
                    return "".join(text)
        raise TimeoutError(f"kernel did not finish {code[:60]!r} in {timeout} s")

    def tick(self, comm_id: str, n: int) -> None:
        # what the page's clock.js does: model.set("tick", n); model.save_changes()
        content = {"comm_id": comm_id, "data": {"method": "update", "state": {"tick": n}, "buffer_paths": []}}
        self.kc.shell_channel.send(self.kc.session.msg("comm_msg", content))

    def cpu_seconds(self) -> float:
        import psutil

        t = psutil.Process(self.km.provisioner.process.pid).cpu_times()
        return t.user + t.system

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def probe(k: Kernel, top: int, trace: int) -> dict:
    out = k.run(PROBE.replace("__TOP__", str(top)).replace("__TRACE__", str(trace)))
    line = next(x for x in out.splitlines() if x.startswith("PROBE"))
    return json.loads(line[5:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=600)
    ap.add_argument("--scale", type=int, default=1, help="run the slow panels this many times more often")
    ap.add_argument("--sleep", type=float, default=2.0, help="seconds between ticks (the page's clock: 2)")
    ap.add_argument("--every", type=int, default=100, help="report every this many ticks")
    ap.add_argument("--top", type=int, default=8, help="object types to list at each report")
    ap.add_argument("--tracemalloc", type=int, default=0, metavar="N",
                    help="trace Python allocations in the kernel and print the N sites that grew most")
    args = ap.parse_args()
    if not os.environ.get("WORKBENCH_HOME"):
        sys.exit("set WORKBENCH_HOME to a home with the demo loaded and an agent recording")

    k = Kernel(NOTEBOOK.parent)
    try:
        for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
            if cell.cell_type == "code":
                k.run(cell.source)
        if args.scale > 1:
            k.run(f"dash.SLOW = tuple((n, max(1, e // {args.scale})) for n, e in dash.SLOW); "
                  "dash._every, dash._due = dict(dash.SLOW), dict(dash.SLOW)")
        comm_id = k.run("print(dash.clock.comm.comm_id)").strip()
        n = 0
        for _ in range(20):  # caches fill, the first fits run
            n += 1
            k.tick(comm_id, n)
            time.sleep(args.sleep)
            k.drain()
        p0 = probe(k, args.top, args.tracemalloc)
        c0, b0, m0 = k.cpu_seconds(), k.iopub_bytes, k.iopub_msgs
        print(f"start: RSS {p0['rss']:.1f} MiB, {p0['widgets']} widgets, {p0['objects']} objects", flush=True)
        for i in range(1, args.ticks + 1):
            n += 1
            k.tick(comm_id, n)
            time.sleep(args.sleep)
            k.drain()
            if i % args.every == 0:
                cpu = (k.cpu_seconds() - c0) / i * 1000
                p = probe(k, args.top, args.tracemalloc)
                print(f"tick {i} (kernel saw {p['ticks']}): RSS {p['rss']:.1f} MiB ({(p['rss'] / p0['rss'] - 1) * 100:+.1f} %), "
                      f"CPU {cpu:.1f} ms per tick, {p['widgets']} widgets ({p['widgets'] - p0['widgets']:+d}), "
                      f"objects {p['objects'] - p0['objects']:+d}, digest_history {p['digest_history']}, "
                      f"iopub {(k.iopub_bytes - b0) / i / 1024:.1f} KiB and {(k.iopub_msgs - m0) / i:.1f} messages "
                      f"per tick, errors {p['errors']}", flush=True)
                grown = {name: c - dict(p0["top"]).get(name, 0) for name, c in p["top"]}
                print("  top types (change since start): "
                      + ", ".join(f"{name} {c} ({grown[name]:+d})" for name, c in p["top"]), flush=True)
                if p.get("new_modules"):
                    mods = p["new_modules"]
                    print(f"  {len(mods)} modules imported since start: {', '.join(mods[:12])}"
                          + (" …" if len(mods) > 12 else ""), flush=True)
                for size, count, tb in p.get("grew", []):
                    print(f"  {size:+.2f} MiB {count:+d} blocks", flush=True)
                    for line in tb:
                        print("     ", line, flush=True)
    finally:
        k.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Serve the dashboard with Voilà: loopback by default, preheated kernels,
culling of closed pages, and a template that loads nothing from other hosts.

Voilà runs as a child process (``python -m voila``) so that ``workbench
dashboard`` and ``make run`` can stop it cleanly; everything it needs is on
its command line or in its environment (the token comes from an environment
variable, never from an argument another user could read in ``ps``).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import ConfigError

__all__ = ["DashboardServer", "notebooks_dir", "voila_command", "TOKEN_ENV"]

TOKEN_ENV = "WORKBENCH_DASHBOARD_TOKEN"
#: a page whose tab closed stops ticking; its kernel is idle and culled after this
CULL_IDLE_SECONDS = 60
CULL_INTERVAL_SECONDS = 20
_SHARE = Path(__file__).with_name("share")


def share_dir() -> Path:
    """The Jupyter data directory Voilà gets: our template plus the panels' plotly.js bundle.

    Both are copied into a cache (Voilà serves a template's static files from
    beside it), from where Voilà serves plotly.js as a static, browser-cacheable
    file the page loads in parallel with its other scripts.
    """
    import shutil

    from workbench._atomic import atomic_path

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "workbench"
    root = cache / "voila-share"
    tdir = root / "voila" / "templates" / "workbench"
    static = tdir / "static"
    static.mkdir(parents=True, exist_ok=True)
    for src in (_SHARE / "voila" / "templates" / "workbench").iterdir():
        if src.is_file():
            dst = tdir / src.name
            if not dst.exists() or dst.read_bytes() != src.read_bytes():
                with atomic_path(dst) as tmp:
                    shutil.copyfile(src, tmp)
    from workbench.ui._widgets import PLOTLY_BUNDLE

    js = static / PLOTLY_BUNDLE.name
    if not js.exists() or js.stat().st_size != PLOTLY_BUNDLE.stat().st_size:
        with atomic_path(js, tag="plotly") as tmp:
            shutil.copyfile(PLOTLY_BUNDLE, tmp)
    return root


def notebooks_dir() -> Path:
    """``notebooks/`` of the checkout (``$WORKBENCH_NOTEBOOKS`` overrides)."""
    env = os.environ.get("WORKBENCH_NOTEBOOKS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "notebooks"


def _loopback(ip: str) -> bool:
    if ip in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def check_port(ip: str, port: int) -> None:
    """Raise a clear error when ``ip:port`` cannot be listened on."""
    with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Tornado does: TIME_WAIT is not "in use"
        try:
            s.bind((ip, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"Port {port} on {ip} is already in use (another dashboard or server?). "
                    f"Choose another with `workbench dashboard --port N`, or stop what listens there.",
                    port=port) from None
            raise ConfigError(f"Cannot listen on {ip}:{port}: {exc.strerror}.", port=port) from None


@dataclass
class DashboardServer:
    """Voilà serving ``notebooks/dashboard.ipynb``."""

    port: int = 8866
    ip: str = "127.0.0.1"
    home: str | None = None
    notebook: Path = field(default_factory=lambda: notebooks_dir() / "dashboard.ipynb")
    preheat: bool = True
    cull_idle: int = CULL_IDLE_SECONDS
    theme: str = "light"
    token_env: str = TOKEN_ENV
    config: str | None = None  # workbench.toml for the pages' kernels (alert rules, thresholds)

    def token(self) -> str | None:
        return os.environ.get(self.token_env) or None

    def check(self) -> None:
        if not self.notebook.exists():
            raise ConfigError(f"The dashboard notebook {self.notebook} is missing; run from a checkout "
                              "of the project or set WORKBENCH_NOTEBOOKS to its notebooks/ directory.")
        if not _loopback(self.ip) and not self.token():
            raise ConfigError(
                f"Refusing to serve the dashboard on {self.ip}, beyond this machine, without a token: the page "
                f"can acknowledge alerts and pause executors. Set {self.token_env} in the environment "
                "(e.g. `export WORKBENCH_DASHBOARD_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe())')`) "
                "or serve on 127.0.0.1 behind an authenticating proxy.", ip=self.ip)
        check_port(self.ip, self.port)

    def url(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"http://{host}:{self.port}/"

    def command(self) -> list[str]:
        return voila_command(self)

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(share_dir()), env.get("JUPYTER_PATH", "")) if p)
        if self.config:
            env["WORKBENCH_CONFIG"] = str(Path(self.config).resolve())
        if self.home:
            env["WORKBENCH_HOME"] = str(Path(self.home).resolve())
        else:
            env.setdefault("WORKBENCH_HOME", str(Path("./data").resolve()))
        # With --Voila.auto_token (see voila_command) jupyter_server's identity provider
        # reads the token from JUPYTER_TOKEN: it never appears on a command line.
        env.pop("JUPYTER_TOKEN", None)
        env.pop("JUPYTER_TOKEN_FILE", None)
        token = self.token()
        if token:
            env["JUPYTER_TOKEN"] = token
        env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        return env

    def start(self, **popen) -> subprocess.Popen:
        self.check()
        return subprocess.Popen(self.command(), env=self.environment(), **popen)


def voila_command(server: DashboardServer) -> list[str]:
    args = [
        sys.executable, "-m", "workbench.ui._voila", str(server.notebook),
        "--no-browser", f"--port={server.port}", f"--Voila.ip={server.ip}", "--Voila.port_retries=0",
        "--template=workbench", f"--theme={server.theme}",
        "--VoilaConfiguration.show_tracebacks=False",
        # plotly's own lab extension (FigureWidget) is 1.4 MB of JavaScript the page never uses
        "--VoilaConfiguration.extension_denylist=jupyterlab-plotly",
        f"--MappingKernelManager.cull_idle_timeout={server.cull_idle}",
        f"--MappingKernelManager.cull_interval={CULL_INTERVAL_SECONDS}",
        "--MappingKernelManager.cull_connected=False",
    ]
    if server.token():
        args.append("--Voila.auto_token=True")
    if server.preheat:
        args += ["--preheat_kernel=True", "--pool_size=1"]
    else:
        # Without a warm kernel, render progressively: Voilà sends the page at once and its front
        # end loads (~2 s here) while the kernel starts and runs the notebook, instead of after it.
        # Measured cold, same run: every panel drawn 5.7 s against 8.2 s. Voilà refuses the two
        # together (a preheated page is rendered before anyone asks for it).
        args.append("--VoilaConfiguration.progressive_rendering=True")
    return args

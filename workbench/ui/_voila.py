"""``python -m workbench.ui._voila``: Voilà with gzip on every response and the first glance.

Voilà's page is about 10 MB of JavaScript; compressed it is about a quarter
of that. Voilà applies ``tornado_settings`` only after the Tornado
application exists, when the gzip transform has already been chosen, so
``--Voila.tornado_settings=compress_response=True`` does nothing: the setting
has to be in place when the application is built, hence this subclass.

It also serves ``/workbench/glance`` (:mod:`workbench.ui._glance`): the
header and KPI cards as HTML, which the page shows before Voilà's front end
has started. It is behind the same authentication as the page.
"""

from __future__ import annotations

import asyncio
import threading

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from voila.app import Voila

from workbench.ui._css import CSS

_GLANCE = None


def _glance():
    global _GLANCE
    if _GLANCE is None:
        from workbench.ui._glance import Glance

        _GLANCE = Glance()
    return _GLANCE


class GlanceHandler(JupyterHandler):
    @web.authenticated
    async def get(self) -> None:
        try:
            html = await asyncio.get_running_loop().run_in_executor(None, _glance().render)
        except Exception:  # noqa: BLE001 - no glance is no harm: the live page follows
            self.log.exception("the first glance could not be rendered")
            html = ""
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(CSS + html if html else "")


class WorkbenchVoila(Voila):
    def init_settings(self) -> dict:
        settings = super().init_settings()
        settings["compress_response"] = True
        return settings

    def _warm_glance(self) -> None:
        try:
            _glance().render()
        except Exception:  # noqa: BLE001 - logged; the handler tries again per request
            self.log.exception("the first glance could not be rendered")

    def init_handlers(self) -> list:
        # warm the store and its imports now, not on the first visitor's request
        threading.Thread(target=self._warm_glance, name="glance-warmup", daemon=True).start()
        return [(url_path_join(self.server_url, r"/workbench/glance"), GlanceHandler), *super().init_handlers()]


main = WorkbenchVoila.launch_instance

if __name__ == "__main__":
    main()

"""``python -m workbench.ui._voila``: Voilà with gzip on every response.

Voilà's page is about 10 MB of JavaScript; compressed it is about a quarter
of that. Voilà applies ``tornado_settings`` only after the Tornado
application exists, when the gzip transform has already been chosen, so
``--Voila.tornado_settings=compress_response=True`` does nothing: the setting
has to be in place when the application is built, hence this subclass.
"""

from __future__ import annotations

from voila.app import Voila


class WorkbenchVoila(Voila):
    def init_settings(self) -> dict:
        settings = super().init_settings()
        settings["compress_response"] = True
        return settings


main = WorkbenchVoila.launch_instance

if __name__ == "__main__":
    main()

"""The executed notebook as one self-contained HTML file: code hidden, charts live, nothing fetched.

nbconvert's own templates link require.js and MathJax from a CDN; ours
(``templates/workbench_report``) extends the lab template without them, and
plotly.js travels inside the file once (the report's first output). The
parameters cell, the markdown notes for notebook readers and warnings on
stderr are left out: the page is for a person reading the report.
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench._atomic import write_text_atomic

__all__ = ["export_html", "TEMPLATES"]

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _report_cells(nb):
    """Keep the cells a reader of the report sees: code cells' outputs, without stderr."""
    keep = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & {"parameters", "injected-parameters"}:
            continue
        cell.outputs = [o for o in cell.get("outputs", []) if not (o.get("output_type") == "stream"
                                                                   and o.get("name") == "stderr")]
        if cell.outputs:
            keep.append(cell)
    nb.cells = keep
    return nb


def export_html(notebook: str | os.PathLike, out: str | os.PathLike, *, title: str | None = None) -> int:
    """Write the executed ``notebook`` as HTML to ``out`` (atomically); returns its size in bytes."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    nb = _report_cells(nb)
    if title:
        nb.metadata["title"] = title
    exporter = HTMLExporter(template_name="workbench_report", extra_template_basedirs=[str(TEMPLATES)])
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.embed_images = True
    body, _resources = exporter.from_notebook_node(nb)
    out = Path(out)
    write_text_atomic(out, body)
    return out.stat().st_size

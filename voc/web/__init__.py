"""``voc web``: the workbench in a browser (issue #17).

Pages (``voc/web/app.py``): every analysed week; the week's brief built live from the file brief's
own recipe (``flows.brief_stage.load_brief`` + ``reports.assembly``); each surge down to its
redacted tickets with a CSV export; the topic catalogue, edited by editors (logged, undoable).
Starlette (installed with Prefect), served by uvicorn, Jinja2 templates beside this file that reuse
the brief's templates and macros, no JavaScript, nothing loaded from elsewhere. Who may connect and edit: ``voc/web/security.py``.

Nothing in the project imports this package except the CLI (tests/test_layers.py).
"""

from __future__ import annotations

from voc.web.app import create_app
from voc.web.security import check_bind

__all__ = ["check_bind", "create_app"]

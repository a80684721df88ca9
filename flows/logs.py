"""The project's own loggers in Prefect's run logs.

What the pipeline logs (``sources.http``: "rate-limit budget spent, pausing", ``voc.alerts``: each send,
...) should be in the run's logs in the Prefect UI, whoever runs the flow: ``voc`` on the command line,
``voc serve``, or a process worker running a deployment from ``prefect.yaml``.

Prefect's documented switch, ``PREFECT_LOGGING_EXTRA_LOGGERS``, is not enough on its own here: it only
works when set in the environment of every process before Prefect is imported (a worker's flow-run
subprocess included), it sets no level (our INFO records stop at the root logger's WARNING), and its
handler warns about every record logged outside a run (``voc alerts`` logs its sends outside any flow).
So the flows attach Prefect's API log handler to the project loggers themselves, at INFO, and that
handler only forwards records made inside a flow or task run.
"""

from __future__ import annotations

import logging

from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging.handlers import APILogHandler

# the loggers that belong in the run logs: every package is under voc (voc.sources.http, voc.alerts...)
PROJECT_LOGGERS = ("voc",)


class RunLogHandler(APILogHandler):
    """Prefect's API log handler for records made inside a flow or task run; others are not a run's."""

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "flow_run_id", None) or FlowRunContext.get() or TaskRunContext.get():
            super().emit(record)


def attach_project_loggers() -> None:
    """Idempotent: each project logger sends INFO and above to the current run's logs (and, as before,
    propagates to the root logger, whose console handler shows what its level lets through)."""
    for name in PROJECT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, RunLogHandler) for h in logger.handlers):
            logger.addHandler(RunLogHandler())
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)

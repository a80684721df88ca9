"""PDF briefs: the self-contained HTML printed by headless Chromium (A4 rules are in the CSS).

Chromium is a system package (Debian: ``apt-get install chromium``), so PDF is optional: without it,
asking for ``pdf`` is one clear error and HTML/Markdown are unaffected.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from voc.atomic import atomic_write
from voc.errors import VocError

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--no-pdf-header-footer",
]


def find_chromium() -> str | None:
    explicit = os.environ.get("VOC_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def pdf_available() -> bool:
    return find_chromium() is not None


def html_to_pdf(html: Path, pdf: Path, timeout: float = 120.0) -> Path:
    """Print ``html`` to ``pdf``; raises VocError naming what is missing or what went wrong."""
    browser = find_chromium()
    if browser is None:
        raise VocError(
            "PDF output needs Chromium: install it (Debian: apt-get install chromium) "
            "or set VOC_CHROMIUM to its path; HTML and Markdown need nothing"
        )
    with tempfile.TemporaryDirectory(prefix="voc-pdf-") as work:
        printed = Path(work) / "out.pdf"  # Chromium writes here; the brief's folder only sees a whole file
        cmd = [
            browser,
            *FLAGS,
            f"--user-data-dir={Path(work) / 'profile'}",
            f"--print-to-pdf={printed}",
            html.resolve().as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as e:
            raise VocError(f"Chromium did not finish printing {html.name} within {timeout:.0f} s") from e
        if not printed.exists() or printed.stat().st_size == 0:
            last = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
            raise VocError(f"Chromium could not print {html.name} to PDF (exit {proc.returncode}): {last[0]}")
        return atomic_write(pdf, printed.read_bytes())

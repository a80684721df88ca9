"""PDF briefs printed by real headless Chromium, and a clear error without it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import reports_fixtures as fx
from voc.errors import VocError
from voc.flows.pdf import html_to_pdf, pdf_available
from voc.reports.render import render_brief


def _need_chromium() -> None:
    if not pdf_available() or not shutil.which("pdftotext"):
        if os.environ.get("CI"):
            pytest.fail("Chromium and pdftotext are required on CI (installed by .ci/run)")
        pytest.skip("no Chromium / pdftotext on this machine")


def test_brief_prints_to_pdf_with_chinese_text(tmp_path: Path) -> None:
    _need_chromium()
    html = tmp_path / "b.html"
    html.write_text(render_brief(fx.brief("zh"), "zh", "html"), encoding="utf-8")
    pdf = html_to_pdf(html, tmp_path / "b.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "客诉变商机" in text and "2026-W47" in text


def test_missing_chromium_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOC_CHROMIUM", str(tmp_path / "no-such-browser"))
    html = tmp_path / "b.html"
    html.write_text("<p>x</p>", encoding="utf-8")
    with pytest.raises(VocError, match="PDF output needs Chromium"):
        html_to_pdf(html, tmp_path / "b.pdf")

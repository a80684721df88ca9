"""The wheel installs one namespace (#18): run from a folder with its own ``config/`` and ``store/``
packages, the installed ``voc`` still imports its own and ``voc demo`` runs.

Built from this checkout (``pip wheel --no-deps --no-build-isolation``: offline), installed with
``--no-deps`` into a fresh virtual environment that sees this environment's third-party packages
(a ``.pth`` file naming its site-packages) but not this checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, prefect_home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VOC_DATABASE_URL", "VOC_CONFIG")}
    if prefect_home:
        env["PREFECT_HOME"] = str(prefect_home)
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=900)


def test_the_wheel_runs_the_demo_beside_a_users_own_config_and_store_folders(
    tmp_path: Path, prefect_home: Path
) -> None:
    # a copy of the checkout: an in-tree build would leave build/ and *.egg-info in it
    src = tmp_path / "src"
    shutil.copytree(
        REPO,
        src,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "voc-demo", "out"
        ),
    )
    dist = tmp_path / "dist"
    res = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(src),
        ],
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    (wheel,) = dist.glob("voc_pipeline-*.whl")
    tops = {n.split("/")[0] for n in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"voc"}, tops

    venv = tmp_path / "venv"  # without a pip of its own (ensurepip takes seconds): this one installs into it
    assert _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path).returncode == 0
    py = venv / "bin" / "python"
    site = _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path)
    # this environment's third-party packages (its site-packages and the ones it names in a .pth);
    # the checkout itself is reached through an editable finder that a plain path line does not load
    deps = [p for p in sys.path if p.endswith("site-packages")] or [sysconfig.get_paths()["purelib"]]
    Path(site.stdout.strip(), "deps.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    res = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stdout + res.stderr

    work = tmp_path / "work"  # a user's project: its own config and store packages, first on sys.path
    for name in ("config", "store", "flows", "nlp"):
        (work / name).mkdir(parents=True)
        (work / name / "__init__.py").write_text("raise ImportError('the user folder was imported')\n")
    # its Prefect ephemeral API on a home of its own, from the migrated empty database (no migrations)
    res = _run(
        [str(venv / "bin" / "voc"), "demo", "--out", str(work / "demo")], cwd=work, prefect_home=prefect_home
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "the user folder was imported" not in res.stdout + res.stderr
    briefs = list((work / "demo").rglob("brief*.md"))
    assert briefs, sorted(p.name for p in (work / "demo").rglob("*"))[:40]
    where = _run([str(py), "-c", "import voc.config, voc.store; print(voc.config.__file__)"], cwd=work)
    assert where.returncode == 0 and str(venv) in where.stdout, where.stdout + where.stderr

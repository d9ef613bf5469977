"""`make test` on a machine without Chromium: installs it, or stops at once saying what to run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MISSING = "/nonexistent/chromium"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def make(*args: str, as_user: bool = False) -> subprocess.CompletedProcess[str]:
    prefix: list[str] = []
    if as_user and os.geteuid() == 0:
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    return subprocess.run(
        [*prefix, "make", "--no-print-directory", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_chromium_and_without_root_make_test_stops_in_one_line():
    result = make("test", f"CHROMIUM={MISSING}", as_user=True)
    assert result.returncode == 2
    assert result.stdout == ""  # nothing was installed or run
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"make test needs Chromium at {MISSING}" in result.stderr
    assert "sudo apt-get install -y chromium" in result.stderr


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("apt-get") is None, reason="root only")
def test_as_root_make_test_installs_chromium_before_anything_else():
    plan = make("-n", "test", f"CHROMIUM={MISSING}").stdout.splitlines()
    install = next(i for i, line in enumerate(plan) if "apt-get install -y -qq chromium" in line)
    pytest_run = next(i for i, line in enumerate(plan) if line.endswith("/pytest"))
    pip = [i for i, line in enumerate(plan) if "pip install" in line]
    assert pip, plan
    assert install < min(pip) < pytest_run

"""A skipped service test fails the run when KASTOR_REQUIRE_SERVICES=1 (as in CI)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .support import REPO

SKIPPING_SERVICE_TEST = """
import pytest

@pytest.mark.service
def test_needs_a_server():
    pytest.skip("no server here: start it to run this test")
"""


#: A service test expected to fail (xfail): pytest reports it as skipped, yet no service is missing.
XFAILING_SERVICE_TEST = """
import pytest

@pytest.mark.service
@pytest.mark.xfail(strict=True, reason="known to fail")
def test_known_to_fail():
    raise AssertionError("not yet")
"""


def run_pytest(tmp_path: Path, require: str, suite: str = SKIPPING_SERVICE_TEST) -> subprocess.CompletedProcess[str]:
    # A throwaway suite that uses this project's conftest.py, and nothing else of this project.
    shutil.copy(REPO / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_service_probe.py").write_text(suite)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "KASTOR_REQUIRE_SERVICES": require},
        check=False,
    )


def test_a_skipped_service_test_only_skips_when_services_are_optional(tmp_path: Path) -> None:
    optional = run_pytest(tmp_path, "0")
    assert optional.returncode == 0, optional.stdout
    assert "1 skipped" in optional.stdout


def test_a_skipped_service_test_fails_when_services_are_required(tmp_path: Path) -> None:
    required = run_pytest(tmp_path, "1")
    assert required.returncode == 1, required.stdout
    assert "KASTOR_REQUIRE_SERVICES=1 but a service test was skipped" in required.stdout


def test_an_expected_failure_of_a_service_test_is_no_missing_service(tmp_path: Path) -> None:
    """An xfail is reported as skipped: turning it into a failure printed FAILED yet let pytest exit 0."""
    required = run_pytest(tmp_path, "1", XFAILING_SERVICE_TEST)
    assert required.returncode == 0, required.stdout
    assert "1 xfailed" in required.stdout and "FAILED" not in required.stdout

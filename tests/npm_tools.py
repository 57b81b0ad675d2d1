"""npm packages that some tests need (the official AsyncAPI parser and schemas), installed on first use into a
cache, in bounded time: a test never waits minutes for a registry that does not answer.

Where npm is missing, or its registry cannot be reached in time, `install_npm_package` skips the test with a
message saying what is missing and how to run the test; those tests carry the `service` marker, so with
KASTOR_REQUIRE_SERVICES=1 (CI) the skip fails the run instead.
"""

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

#: How long the registry may take to answer the first question (npm's own timeout is five minutes, with retries).
PROBE_SECONDS = 20
#: How long the whole install may take once the registry has answered, and each of its requests.
INSTALL_SECONDS = 300
INSTALL_REQUEST_SECONDS = 60

#: No audit or funding requests, no update check: only the package's own files are fetched. --ignore-scripts:
#: nothing but the files is needed (a dependency of the AsyncAPI parser has a telemetry hook).
_QUIET = ("--no-audit", "--no-fund", "--no-update-notifier", "--ignore-scripts")


def npm_and_node() -> tuple[str, str]:
    """The paths of npm and node, or a skip saying how to install them."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip(
            "npm and node are needed to validate AsyncAPI documents with the official schema and parser: "
            "install Node.js with npm (e.g. `apt-get install nodejs npm`, or from nodejs.org)"
        )
    return npm, node


def install_npm_package(
    npm: str,
    package: str,
    modules: Path,
    *,
    environment: Mapping[str, str] | None = None,
    probe_seconds: float = PROBE_SECONDS,
    install_seconds: float = INSTALL_SECONDS,
) -> None:
    """Installs `package` (`name@version`) with npm into `modules` (which receives node_modules/), or skips.

    The registry is pinged first, with npm's timeout set to `probe_seconds` and no retry: a registry that
    does not answer (no network, a proxy that swallows requests) is a skip within that time, instead of
    npm's five minutes per attempt.
    """
    how_to_run = (
        f"connect this machine to the npm registry (or set npm's `registry` to a mirror), or install it "
        f"yourself: `npm install --prefix {modules} {package}`; then run the test again"
    )
    # `npm ping` asks the registry itself: unlike a package's metadata, npm cannot answer it from its cache,
    # which it falls back to, silently, after each failed request.
    probe = [npm, "ping", f"--fetch-timeout={int(probe_seconds * 1000)}", "--fetch-retries=0", "--no-update-notifier"]
    _run_or_skip(probe, environment, probe_seconds + 10, f"the npm registry did not answer `npm ping`; {how_to_run}")
    # No retries: npm waits 10 s and more before each, for every one of the package's ~170 dependencies.
    fetch_timeout = f"--fetch-timeout={INSTALL_REQUEST_SECONDS * 1000}"
    install = [npm, "install", "--prefix", str(modules), *_QUIET, "--fetch-retries=0", fetch_timeout, package]
    _run_or_skip(install, environment, install_seconds, f"`npm install {package}` did not complete; {how_to_run}")


def _run_or_skip(command: list[str], environment: Mapping[str, str] | None, seconds: float, skip_reason: str) -> None:
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=seconds,
            check=False,
            env=dict(environment) if environment is not None else None,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"{skip_reason} (no answer within {seconds:g} s)")
    if completed.returncode != 0:
        last_lines = "\n".join(completed.stderr.strip().splitlines()[-5:])
        pytest.skip(f"{skip_reason} (npm exited with {completed.returncode}: {last_lines})")

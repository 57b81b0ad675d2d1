"""Test-suite wide settings: markers, and the rule that CI never passes without its servers.

Tests that need a server (PostgreSQL, RabbitMQ, ...) carry the `service` marker and skip with a message
saying how to run them when the server is missing. With KASTOR_REQUIRE_SERVICES=1 (as CI sets) such a skip
fails the run instead, so that CI never passes without having talked to the real servers.
"""

import asyncio
import inspect
import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "service: needs a running server; skipped without it unless required")
    config.addinivalue_line("markers", "typing: runs mypy on user code and asserts what it accepts and rejects")
    config.addinivalue_line("markers", "slow: takes seconds (large specs, mypy runs); still runs by default")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    # An expected failure (xfail) of a service test is reported as skipped too: that one is no missing service.
    expected_failure = hasattr(report, "wasxfail")
    required = os.environ.get("KASTOR_REQUIRE_SERVICES") == "1"
    if report.skipped and not expected_failure and item.get_closest_marker("service") and required:
        report.outcome = "failed"
        report.longrepr = f"KASTOR_REQUIRE_SERVICES=1 but a service test was skipped: {report.longrepr}"
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Runs `async def` tests in a fresh event loop each, so the suite needs no asyncio plugin."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**arguments))
    return True

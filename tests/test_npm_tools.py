"""The tests' npm helper: where the registry does not answer, a test that needs an npm package skips, saying
how to run it, instead of waiting for npm's own timeouts (five minutes per attempt) and then erroring."""

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from .npm_tools import install_npm_package


@pytest.fixture
def silent_registry() -> Iterator[str]:
    """The URL of a registry that accepts connections and never answers: what a proxy swallowing requests,
    or a network that drops them, looks like to npm."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(connection)  # kept open and never written to

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        server.close()


def test_a_registry_that_does_not_answer_is_a_skip_saying_how_to_run_the_test(
    silent_registry: str, tmp_path: Path
) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: this test checks how the tests' npm helper copes with a silent registry")
    environment = {
        **os.environ,
        "npm_config_registry": silent_registry,
        "npm_config_cache": str(tmp_path / "npm-cache"),  # nothing cached can answer instead of the registry
    }
    with pytest.raises(pytest.skip.Exception) as skipped:
        install_npm_package(
            npm, "@asyncapi/parser@3.6.3", tmp_path / "modules", environment=environment, probe_seconds=2
        )
    message = str(skipped.value)
    assert "the npm registry did not answer `npm ping`" in message
    assert f"npm install --prefix {tmp_path / 'modules'} @asyncapi/parser@3.6.3" in message
    assert not (tmp_path / "modules" / "node_modules").exists()  # the install was not attempted

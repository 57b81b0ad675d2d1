"""The pokedex demo (the README's main job) runs, and each subscriber receives what the pushes published."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import require_postgres, require_rabbitmq
from tests.support import REPO

EXPECTED = """\
[app_message_bus] POKEMON_APPEARED pikachu-1 v1: Pikachu, level 5
[pokemon_notifications_queue] POKEMON_APPEARED pikachu-1 v1
[app_message_bus] POKEMON_LEVELED_UP pikachu-1 v2: Pikachu, level 6
[pokemon_notifications_queue] POKEMON_LEVELED_UP pikachu-1 v2
[app_message_bus] TRAINER_REGISTERED ash v1: Ash has caught nothing yet
[app_message_bus] POKEMON_CAUGHT pikachu-1 v3: Pikachu, level 6
[pokemon_notifications_queue] pikachu-1 was caught by ash
[app_message_bus] TRAINER_CAUGHT_POKEMON ash v2: Ash has caught pikachu-1
stored: pokemons/pikachu-1 v1 POKEMON_APPEARED, pokemons/pikachu-1 v2 POKEMON_LEVELED_UP, \
pokemons/pikachu-1 v3 POKEMON_CAUGHT
Pikachu: level 6, caught by ash (version 3)
"""


def run_demo(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "demo" / "pokedex_demo.py"), *arguments],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_demo_prints_what_each_subscriber_received() -> None:
    completed = run_demo()
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == EXPECTED
    assert completed.stderr == ""


def test_the_demo_refuses_a_database_that_already_holds_its_events(tmp_path: Path) -> None:
    database = tmp_path / "pokedex.sqlite3"
    assert run_demo("--database", str(database)).returncode == 0
    again = run_demo("--database", str(database))
    assert again.returncode == 1
    assert again.stdout == ""
    assert "already holds the demo's events" in again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.service
def test_the_demo_runs_on_postgresql_and_rabbitmq() -> None:
    completed = run_demo("--postgres", require_postgres(), "--rabbitmq", require_rabbitmq())
    assert completed.returncode == 0, completed.stderr
    # The broker delivers the bus and the queue independently: the same lines, maybe interleaved otherwise.
    assert sorted(completed.stdout.splitlines()) == sorted(EXPECTED.splitlines())


def test_the_demo_wants_both_production_urls() -> None:
    completed = run_demo("--postgres", "postgresql://127.0.0.1/nowhere")
    assert completed.returncode == 2
    assert "--postgres and --rabbitmq go together" in completed.stderr


@pytest.mark.service
def test_the_demo_reports_an_unreachable_server_without_a_traceback() -> None:
    completed = run_demo("--postgres", "postgresql://postgres@127.0.0.1:1/test", "--rabbitmq", require_rabbitmq())
    assert completed.returncode == 1
    assert "127.0.0.1" in completed.stderr and "1" in completed.stderr
    assert "Traceback" not in completed.stderr

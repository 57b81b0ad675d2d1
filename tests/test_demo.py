"""The pokedex demo (the README's main job) runs, and each subscriber receives what the pushes published."""

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.services import require_postgres, require_rabbitmq
from tests.support import REPO

BACKENDS_EMBEDDED = "pokedex demo on SQLite (a temporary file, removed at the end) with an in-memory bus and queue\n"
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
    assert completed.stdout == BACKENDS_EMBEDDED + EXPECTED
    assert completed.stderr == ""


def test_the_demo_names_the_sqlite_file_it_was_given(tmp_path: Path) -> None:
    database = tmp_path / "pokedex.sqlite3"
    completed = run_demo("--database", str(database))
    assert completed.returncode == 0, completed.stderr
    first_line, _, rest = completed.stdout.partition("\n")
    assert first_line == f"pokedex demo on SQLite ({database}) with an in-memory bus and queue"
    assert rest == EXPECTED


def test_the_demo_help_says_what_it_does_in_whole_sentences() -> None:
    completed = run_demo("--help")
    assert completed.returncode == 0, completed.stderr
    summary = completed.stdout.split("\n\n")[1]
    assert " ".join(summary.split()) == (
        "The pokedex demo: connected event stores of the generated `pokedex` package, on SQLite (the embedded "
        "default) with an in-memory bus and queue."
    )
    # The rest of the docstring, how to run it on PostgreSQL and RabbitMQ included, follows the options.
    assert "python demo/pokedex_demo.py --postgres" in completed.stdout
    assert completed.stdout.rstrip().endswith("Each subscriber prints what it receives.")


def test_the_demo_refuses_a_database_that_already_holds_its_events(tmp_path: Path) -> None:
    database = tmp_path / "pokedex.sqlite3"
    assert run_demo("--database", str(database)).returncode == 0
    again = run_demo("--database", str(database))
    assert again.returncode == 1
    assert again.stdout == f"pokedex demo on SQLite ({database}) with an in-memory bus and queue\n"  # no event
    assert "already holds the demo's events" in again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.service
def test_the_demo_runs_on_postgresql_and_rabbitmq() -> None:
    completed = run_demo("--postgres", require_postgres(), "--rabbitmq", require_rabbitmq())
    assert completed.returncode == 0, completed.stderr
    first_line, _, rest = completed.stdout.partition("\n")
    # Which servers it ran on, without credentials (the URLs' users and passwords are left out).
    postgres, rabbitmq = urlsplit(require_postgres()), urlsplit(require_rabbitmq())
    assert first_line.startswith(f"pokedex demo on PostgreSQL ({postgres.hostname}:{postgres.port}{postgres.path}, ")
    assert f"with RabbitMQ ({rabbitmq.hostname}:{rabbitmq.port}{rabbitmq.path}, " in first_line
    assert rabbitmq.password is None or rabbitmq.password not in first_line
    # The broker delivers the bus and the queue independently: the same lines, maybe interleaved otherwise.
    assert sorted(rest.splitlines()) == sorted(EXPECTED.splitlines())


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

"""The servers some tests need (PostgreSQL, RabbitMQ): where they are, and skips that say how to run them.

Tests that use a server carry the `service` marker. Without the server they skip with a message naming
the address tried and the variable that changes it; with KASTOR_REQUIRE_SERVICES=1 (as CI sets) such a skip
fails the run (see conftest.py). Each test uses names of its own (a PostgreSQL schema, RabbitMQ exchanges
and queues with a unique suffix) and removes them afterwards.
"""

import os
import socket
import uuid
from collections.abc import Iterator
from functools import cache
from urllib.parse import urlsplit

import pytest

POSTGRES_URL = os.environ.get("KASTOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
RABBITMQ_URL = os.environ.get("KASTOR_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


@cache
def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=2):
            return True
    except OSError:
        return False


def require_postgres() -> str:
    """The PostgreSQL URL of the tests, or a skip saying how to provide one."""
    if not _reachable(POSTGRES_URL):
        pytest.skip(
            f"PostgreSQL is not reachable at {POSTGRES_URL}: start it, or point KASTOR_TEST_POSTGRES_URL at one"
        )
    return POSTGRES_URL


def require_rabbitmq() -> str:
    """The RabbitMQ URL of the tests, or a skip saying how to provide one."""
    if not _reachable(RABBITMQ_URL):
        pytest.skip(f"RabbitMQ is not reachable at {RABBITMQ_URL}: start it, or point KASTOR_TEST_RABBITMQ_URL at one")
    return RABBITMQ_URL


def unique_name(prefix: str) -> str:
    """A name no other test (or test run) uses: `prefix_` and 12 hex digits."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def postgres_schema() -> Iterator[tuple[str, str]]:
    """(URL, schema): a fresh schema for one test, dropped with everything in it afterwards."""
    url = require_postgres()
    import psycopg

    schema = unique_name("kastor_test")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield url, schema
    finally:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

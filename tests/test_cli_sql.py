"""`kastor sql postgres`: prints the runtime's migration SQL (read from its source, not imported), and that
SQL makes a table the PostgreSQL adapter works with."""

import ast
import asyncio

import pytest

from generator.template_files import RUNTIME, runtime_string_constant

from .pokedex_builders import appeared, pokemons_store  # first: it makes the generated pokedex package importable
from .services import postgres_schema
from .support import EXAMPLES, REPO, run_cli

# isort: split
from pokedex import PostgresEventStorageAdapter
from pokedex.runtime.postgres_storage import SCHEMA_SQL, schema_sql

postgres_schema_fixture = postgres_schema  # (URL, schema): a fresh schema, dropped after the test


def test_sql_postgres_prints_the_table_and_its_index_in_public_by_default() -> None:
    result = run_cli("sql", "postgres")
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == schema_sql("public")
    assert 'CREATE SCHEMA IF NOT EXISTS "public";' in result.stdout
    assert 'CREATE TABLE IF NOT EXISTS "public"."kastor_events" (' in result.stdout
    assert "PRIMARY KEY (event_store_id, aggregate_id, version)" in result.stdout
    assert 'CREATE INDEX IF NOT EXISTS "kastor_events_initial"' in result.stdout
    assert "WHERE version = 1;" in result.stdout
    # The outbox table, with its index of pending messages.
    assert 'CREATE TABLE IF NOT EXISTS "public"."kastor_outbox" (' in result.stdout
    assert "id BIGSERIAL PRIMARY KEY" in result.stdout
    assert 'CREATE INDEX IF NOT EXISTS "kastor_outbox_pending"' in result.stdout
    assert "WHERE NOT done;" in result.stdout


def test_sql_postgres_uses_the_schema_given() -> None:
    result = run_cli("sql", "postgres", "--schema", "App_2")
    assert result.code == 0, result.stderr
    assert result.stdout == schema_sql("App_2")
    assert 'ON "App_2"."kastor_events"' in result.stdout
    assert 'ON "App_2"."kastor_outbox"' in result.stdout
    assert '"public"' not in result.stdout


@pytest.mark.parametrize("schema", ["", "2app", "app-x", 'app"; DROP TABLE x; --', "x" * 64])
def test_an_invalid_schema_name_exits_2_and_prints_no_sql(schema: str) -> None:
    result = run_cli("sql", "postgres", "--schema", schema)
    assert result.code == 2
    assert result.stdout == ""
    assert f"kastor: invalid schema name {schema!r}" in result.stderr


def test_an_unknown_database_is_a_usage_error() -> None:
    result = run_cli("sql", "mysql")
    assert result.code == 2
    assert "invalid choice: 'mysql'" in result.stderr


@pytest.mark.parametrize("command", [["sql"], ["sql", "postgres"]])
def test_sql_has_help(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.code == 0
    assert "usage: kastor sql" in result.stdout
    assert "--schema" in result.stdout or "postgres" in result.stdout


def test_the_generator_reads_the_sql_from_the_runtime_source() -> None:
    assert runtime_string_constant("postgres_storage.py", "SCHEMA_SQL") == SCHEMA_SQL
    # The generator never imports the runtime: its modules do not name it.
    for path in (REPO / "generator").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert "runtime" not in (node.module or ""), path
    # The generated copy is the runtime's (under a header).
    generated = (EXAMPLES / "pokedex" / "runtime" / "postgres_storage.py").read_text()
    assert generated.endswith((RUNTIME / "postgres_storage.py").read_text())
    with pytest.raises(RuntimeError, match="no string constant NOPE"):
        runtime_string_constant("postgres_storage.py", "NOPE")


@pytest.mark.service
def test_the_printed_sql_creates_a_table_the_adapter_uses(postgres_schema_fixture: tuple[str, str]) -> None:
    import psycopg

    url, schema = postgres_schema_fixture
    result = run_cli("sql", "postgres", "--schema", schema)
    assert result.code == 0, result.stderr
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(result.stdout)  # several statements, as psql would run them
        connection.execute(result.stdout)  # and again: it is idempotent

    async def push_and_read() -> None:
        async with PostgresEventStorageAdapter(url, schema=schema) as adapter:
            pokemons = pokemons_store(adapter)
            pushed = await pokemons.push_event(appeared("pikachu"))
            assert await pokemons.get_events("pikachu") == [pushed.event]
            assert [entry.aggregate_id for entry in (await pokemons.list_aggregate_ids()).aggregate_ids] == ["pikachu"]
            assert await adapter.count_pending_outbox_messages() == 0  # the outbox table is there too

    asyncio.run(push_and_read())

"""The loader's bounds on what a spec expands to, the same for every command that reads specs: YAML aliases
repeat at most `MAX_ALIAS_VALUES` values, a spec holds at most `MAX_VALUES` once its aliases are expanded."""

import time
from pathlib import Path

import pytest

from generator.yaml_source import MAX_ALIAS_VALUES, MAX_VALUES

from .support import run_cli

STORE = """\
event_stores:
  things:
    aggregate: {name: Thing, schema: {type: object, properties: {t: {$ref: '#/definitions/Shared'}}}}
    events: {THING_MADE: {initial: true}}
"""


def alias_bomb(width: int, depth: int) -> str:
    """A spec of a few hundred bytes whose examples expand to `width ** depth` strings."""
    lines = ["kastor: 1", "package: bombed", "definitions:", "  Shared:", "    type: string", "    examples:"]
    lines.append("      - &a0 [" + ", ".join(["x"] * width) + "]")
    lines.extend(f"      - &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]" for level in range(1, depth))
    return "\n".join(lines) + "\n" + STORE


#: Every command that reads specs, with what it needs besides them (OUT written under the scratch directory).
COMMANDS = {
    "validate": ["validate", "{spec}"],
    "generate": ["generate", "{spec}", "-o", "out"],
    "check": ["check", "{spec}", "-o", "out"],
    "docs": ["docs", "{spec}", "-o", "out"],
    "export": ["export", "asyncapi", "{spec}"],
    "diff": ["diff", "{spec}", "{spec}"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_alias_bomb_is_a_located_error_for_every_command(tmp_path: Path, command: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(alias_bomb(9, 6), encoding="utf-8")  # 531,441 strings from 560 bytes

    started = time.perf_counter()
    result = run_cli(*(argument.format(spec=spec) for argument in COMMANDS[command]), cwd=tmp_path)

    assert time.perf_counter() - started < 5
    assert result.code == 2, result.stderr
    assert f"{spec}:7:26: YAML aliases repeat more than {MAX_ALIAS_VALUES:,} values" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "out").exists()


def test_aliases_that_repeat_fewer_values_are_read(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(alias_bomb(9, 4), encoding="utf-8")  # 6,561 strings

    assert run_cli("validate", str(spec), cwd=tmp_path).code == 0


def test_a_spec_of_more_values_than_the_limit_is_a_located_error(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    many = ", ".join(["x"] * MAX_VALUES)  # no alias: the spec's own size
    text = f"kastor: 1\npackage: huge\ndefinitions:\n  Shared:\n    type: string\n    examples: [{many}]\n{STORE}"
    spec.write_text(text, encoding="utf-8")

    result = run_cli("validate", str(spec), cwd=tmp_path)

    assert result.code == 2
    assert f"the spec holds more than {MAX_VALUES:,} values once its YAML aliases are expanded" in result.stderr


@pytest.mark.parametrize(
    ("items", "rest"),
    [
        ("0", "and 49,000 more structural problems: only the first 1,000 are listed"),  # each not a mapping
        ("{stor: s, chanel: c}", "and 99,000 more structural problems: only the first 1,000 are listed"),
        ("{store: nope, channel: nope}", "and 99,000 more problems: only the first 1,000 are listed"),
    ],
)
def test_thousands_of_problems_list_the_first_thousand_and_count_the_rest(
    tmp_path: Path, items: str, rest: str
) -> None:
    """The fuzz harness's 50,000 wrong connections took minutes (every problem compared with every other)."""
    spec = tmp_path / "spec.yaml"
    connections = ", ".join([items] * 50_000)
    spec.write_text(alias_bomb(2, 1) + f"connections: [{connections}]\n", encoding="utf-8")

    started = time.perf_counter()
    result = run_cli("validate", str(spec), cwd=tmp_path)

    assert time.perf_counter() - started < 8
    assert result.code == 2
    *problems, summary = result.stderr.splitlines()
    assert summary == "kastor: 1001 problems found; nothing was written"
    assert sum(line.endswith(rest) for line in problems) == 1, problems[-3:]

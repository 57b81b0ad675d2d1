"""What mypy --strict accepts and rejects in user code written against the generated pokedex package.

The user code lives in tests/typing_cases/, one small file per case. Every line where mypy must report an
error ends with a marker `# E: <error code>`; each test below also states the codes and messages it
expects, so a lost marker cannot make a test pass vacuously. mypy runs twice per configuration: once on
the cases that must pass (exit status 0) and once on the cases that must fail (exit status 1).

Two configurations: plain `strict = True`, and the same with the pydantic mypy plugin (with
`init_typed = True`, without which the plugin types every model constructor argument as Any).
"""

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytestmark = pytest.mark.typing

REPO = Path(__file__).resolve().parents[1]
GENERATED = REPO / "generated_examples"
CASES = Path(__file__).resolve().parent / "typing_cases"

CLEAN_CASES = ("complete_reducer.py", "store_usage.py", "channel_usage.py")
FAILING_CASES = (
    "missing_hook.py",
    "wrong_event_class.py",
    "initial_hook_signature.py",
    "wrong_return.py",
    "event_construction.py",
    "narrowing.py",
    "store_misuse.py",
    "channel_misuse.py",
)

#: What follows `[mypy]`, `strict = True` and `mypy_path` in each configuration.
MYPY_CONFIGS = {
    "plain": "",
    "pydantic-plugin": "plugins = pydantic.mypy\n\n[pydantic-mypy]\ninit_typed = True\ninit_forbid_extra = True\n",
}

_MESSAGE = re.compile(
    r"^(?P<file>[^:\n]+\.py):(?P<line>\d+): (?P<severity>error|note): (?P<text>.*?)(?:  \[(?P<code>[a-z-]+)\])?$"
)
_MARKER = re.compile(r"#\s*E:\s*(?P<codes>[a-z-]+(?:\s+[a-z-]+)*)\s*$")


@dataclass(frozen=True)
class MypyMessage:
    file: str
    line: int
    severity: str
    text: str
    code: str | None


@dataclass(frozen=True)
class MypyRun:
    exit_status: int
    output: str
    messages: tuple[MypyMessage, ...]

    def errors(self, file: str) -> list[MypyMessage]:
        return [message for message in self.messages if message.file == file and message.severity == "error"]


@dataclass(frozen=True)
class MypyResults:
    config: str
    clean: MypyRun
    failing: MypyRun

    def errors(self, file: str) -> list[MypyMessage]:
        run = self.clean if file in CLEAN_CASES else self.failing
        return run.errors(file)


def run_mypy(files: tuple[str, ...], config_extra: str, work_dir: Path) -> MypyRun:
    """mypy --strict on case files, with `pokedex` resolved to generated_examples/pokedex, no other config."""
    config = work_dir / "mypy.ini"
    config.write_text(
        f"[mypy]\nstrict = True\nexplicit_package_bases = True\nmypy_path = {GENERATED}\n{config_extra}",
        encoding="utf-8",
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("MYPY")}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(config),
            "--cache-dir",
            str(work_dir / "cache"),
            "--strict",
            "--show-error-codes",
            "--no-pretty",
            "--no-color-output",
            "--hide-error-context",
            *files,
        ],
        cwd=CASES,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output = completed.stdout + completed.stderr
    messages = tuple(
        MypyMessage(match["file"], int(match["line"]), match["severity"], match["text"], match["code"])
        for match in map(_MESSAGE.match, output.splitlines())
        if match is not None
    )
    return MypyRun(completed.returncode, output, messages)


@pytest.fixture(scope="module", params=sorted(MYPY_CONFIGS))
def mypy_results(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> MypyResults:
    config: str = request.param
    work_dir = tmp_path_factory.mktemp(f"mypy-{config}")
    clean = run_mypy(CLEAN_CASES, MYPY_CONFIGS[config], work_dir)
    failing = run_mypy(FAILING_CASES, MYPY_CONFIGS[config], work_dir)
    return MypyResults(config, clean, failing)


def markers(file: str) -> list[tuple[int, str]]:
    """The (line, error code) pairs that the `# E: code` markers of a case file announce."""
    lines = (CASES / file).read_text(encoding="utf-8").splitlines()
    return [
        (number, code)
        for number, line in enumerate(lines, 1)
        if (match := _MARKER.search(line))
        for code in match["codes"].split()
    ]


def assert_errors(results: MypyResults, file: str, expected: list[tuple[str, str]]) -> list[MypyMessage]:
    """mypy reported exactly the marked errors of `file`: `expected` lists their (code, message part)."""
    run = results.failing
    assert run.exit_status == 1, f"[{results.config}] mypy found no error or crashed:\n{run.output}"
    errors = results.errors(file)
    report = "\n".join(f"{e.file}:{e.line}: {e.text} [{e.code}]" for e in errors)
    assert [code for code, _ in expected] == [code for _, code in markers(file)], "markers out of date"
    assert [(e.line, e.code) for e in errors] == markers(file), f"[{results.config}] {file}:\n{report}"
    for error, (_, part) in zip(errors, expected, strict=True):
        assert part in error.text, f"[{results.config}] {file}:{error.line}: {error.text!r} lacks {part!r}"
    return errors


@pytest.fixture
def pokedex_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(GENERATED))


def load_case(file: str) -> ModuleType:
    """Imports a case file at run time (the `pokedex_on_path` fixture must be active)."""
    spec = importlib.util.spec_from_file_location(f"typing_case_{Path(file).stem}", CASES / file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_case_file_is_checked() -> None:
    assert sorted(path.name for path in CASES.glob("*.py")) == sorted(CLEAN_CASES + FAILING_CASES)


@pytest.mark.parametrize("case", CLEAN_CASES)
def test_valid_code_is_accepted(mypy_results: MypyResults, case: str) -> None:
    clean = mypy_results.clean
    assert clean.exit_status == 0, f"[{mypy_results.config}] mypy rejected valid code:\n{clean.output}"
    assert mypy_results.errors(case) == []
    assert markers(case) == []


@pytest.mark.usefixtures("pokedex_on_path")
def test_complete_reducer_folds_events_at_run_time() -> None:
    case = load_case("complete_reducer.py")
    pikachu = case.fold_pikachu("pikachu-1")
    assert pikachu is not None
    assert (pikachu.aggregate_id, pikachu.version) == ("pikachu-1", 3)
    assert (pikachu.name, pikachu.level, pikachu.pokemon_type, pikachu.trainer_id) == (
        "Pikachu",
        6,
        "electric",
        "ash",
    )
    leveled = case.level_up(pikachu)
    assert (leveled.aggregate_id, leveled.version, leveled.level) == ("pikachu-1", 4, 7)


def test_missing_hook_cannot_be_instantiated(mypy_results: MypyResults) -> None:
    [error] = assert_errors(
        mypy_results, "missing_hook.py", [("abstract", 'Cannot instantiate abstract class "ForgetfulReducer"')]
    )
    assert "on_pokemon_leveled_up" in error.text


@pytest.mark.usefixtures("pokedex_on_path")
def test_missing_hook_raises_type_error_at_run_time() -> None:
    case = load_case("missing_hook.py")
    with pytest.raises(TypeError, match="on_pokemon_leveled_up"):
        case.make_reducer()


def test_hook_with_another_event_class_is_rejected(mypy_results: MypyResults) -> None:
    assert_errors(
        mypy_results,
        "wrong_event_class.py",
        [("override", 'Argument 2 of "on_pokemon_caught" is incompatible with supertype')],
    )


def test_initial_hook_taking_an_aggregate_is_rejected(mypy_results: MypyResults) -> None:
    assert_errors(
        mypy_results,
        "initial_hook_signature.py",
        [("override", 'Signature of "on_pokemon_appeared" incompatible with supertype')],
    )


def test_hook_returning_another_aggregate_is_rejected(mypy_results: MypyResults) -> None:
    assert_errors(
        mypy_results,
        "wrong_return.py",
        [
            ("return-value", 'Incompatible return value type (got "Trainer", expected "Pokemon")'),
            ("override", 'Return type "Trainer" of "on_pokemon_caught" incompatible with return type "Pokemon"'),
        ],
    )


def test_event_construction_is_checked(mypy_results: MypyResults) -> None:
    # The file also asserts (assert_type) that `.type` is the event's string literal: no error there.
    assert_errors(
        mypy_results,
        "event_construction.py",
        [
            ("arg-type", 'Argument "payload" to "PokemonAppeared" has incompatible type "PokemonCaughtPayload"'),
            ("call-arg", 'Missing named argument "payload" for "PokemonAppeared"'),
            ("arg-type", 'Argument "type" to "PokemonAppeared" has incompatible type "Literal[\'POKEMON_CAUGHT\']"'),
            ("arg-type", 'Argument "pokemon_type" to "PokemonAppearedPayload" has incompatible type'),
        ],
    )


@pytest.mark.usefixtures("pokedex_on_path")
def test_event_construction_errors_also_fail_at_run_time() -> None:
    import pokedex
    from pydantic import ValidationError

    valid: dict[str, Any] = {"aggregate_id": "pikachu-1", "version": 1}
    with pytest.raises(ValidationError):
        pokedex.PokemonAppeared(**valid, payload=pokedex.PokemonCaughtPayload(trainer_id="ash"))
    with pytest.raises(ValidationError):
        pokedex.PokemonAppeared(**valid)
    appeared = pokedex.PokemonAppeared(
        **valid, payload=pokedex.PokemonAppearedPayload(name="Pikachu", level=5, pokemon_type="electric")
    )
    assert appeared.type == "POKEMON_APPEARED"


def test_narrowing_on_the_type_literal(mypy_results: MypyResults) -> None:
    # trainer_of / trainer_by_match read `payload.trainer_id` after narrowing: no error there.
    assert_errors(
        mypy_results,
        "narrowing.py",
        [
            ("union-attr", 'Item "PokemonLeveledUp" of'),
            ("attr-defined", '"PokemonLeveledUp" has no attribute "payload"'),
        ],
    )


@pytest.mark.usefixtures("pokedex_on_path")
def test_narrowing_functions_at_run_time() -> None:
    import pokedex

    case = load_case("narrowing.py")
    caught = pokedex.PokemonCaught(
        aggregate_id="pikachu-1", version=2, payload=pokedex.PokemonCaughtPayload(trainer_id="ash")
    )
    leveled = pokedex.PokemonLeveledUp(aggregate_id="pikachu-1", version=3)
    assert [case.trainer_of(caught), case.trainer_by_match(caught)] == ["ash", "ash"]
    assert [case.trainer_of(leveled), case.trainer_by_match(leveled)] == [None, None]


@pytest.mark.usefixtures("pokedex_on_path")
def test_typed_store_usage_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # store_usage.py imports its reducer from complete_reducer.py, beside it.
    monkeypatch.syspath_prepend(str(CASES))
    case = load_case("store_usage.py")
    assert case.run() == 6


def test_store_misuse_is_rejected(mypy_results: MypyResults) -> None:
    assert_errors(
        mypy_results,
        "store_misuse.py",
        [
            ("arg-type", 'Argument 1 to "push_event" of "EventStore" has incompatible type "TrainerRegistered"'),
            ("union-attr", 'Item "None" of "Pokemon | None" has no attribute "level"'),
            ("return-value", 'Incompatible return value type (got "Pokemon | None", expected "Trainer | None")'),
            ("arg-type", 'Argument "prev_aggregate" to "push_event" of "EventStore" has incompatible type "Trainer"'),
            ("arg-type", 'Argument "reducer" to "PokemonsEventStore" has incompatible type "TrainersReducer"'),
            ("arg-type", 'Argument "on_event_pushed" to "PokemonsEventStore" has incompatible type'),
        ],
    )


@pytest.mark.usefixtures("pokedex_on_path")
def test_typed_channel_usage_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(CASES))
    case = load_case("channel_usage.py")
    assert case.run() == [
        "bus POKEMON_APPEARED Pikachu",
        "queue POKEMON_APPEARED v1",
        "queue POKEMON_LEVELED_UP v2",
        "queue POKEMON_APPEARED v1",
    ]


def test_channel_misuse_is_rejected(mypy_results: MypyResults) -> None:
    assert_errors(
        mypy_results,
        "channel_misuse.py",
        [
            ("misc", 'Cannot infer value of type parameter "StoreIdT" of "ConnectedEventStore"'),
            ("misc", 'Cannot infer value of type parameter "EventT" of "ConnectedEventStore"'),
            ("call-overload", 'No overload variant of "ConnectedEventStore" matches argument types'),
            ("arg-type", 'Argument 1 to "publish_message" of "MessageChannel" has incompatible type'),
            ("arg-type", 'Argument 2 to "on" of "AppMessageBus" has incompatible type'),
            ("type-var", 'Value of type variable "_PokemonsEventT" of "on" of "PokemonNotificationsQueue" cannot be'),
            ("arg-type", 'Argument 2 to "on" of "PokemonNotificationsQueue" has incompatible type'),
            ("arg-type", 'Argument 2 to "on" of "AppMessageBus" has incompatible type'),
        ],
    )

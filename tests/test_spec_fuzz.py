"""The spec fuzz harness (hypothesis): hostile specs through `kastor validate` and `kastor generate`.

Each case starts from an example spec (specs/*.yaml) or a random valid one (`spec_documents`), then takes one to
three mutations: keys deleted, duplicated, renamed (`data_mutation`); a value or a key replaced by YAML of every
type (null, booleans, numbers huge and odd, strings, lists, maps, tagged values such as !!float, !!binary,
!!timestamp, !!set, dates); anchors and aliases, alias bombs among them; nesting thousands of levels deep; huge
sizes (a megabyte of text, thousands of keys or items); and text edits that break the YAML (`text_mutation`).

Every case runs through both commands, in a worker process (tests/spec_fuzz_worker.py) that calls the CLI's
entry function and ends on any call longer than 10 s. Each call must exit 0 or 2, print no traceback, report
every problem as `path:line:col: message` on exit 2 and write nothing then; a package written on exit 0 must
compile; validate and generate must agree (same exit code, same problems).

The short run (part of plain `pytest`) tries 150 cases; `KASTOR_LONG_SPEC_FUZZ=1` tries 5,000 and prints its
figures (cases, exits 0 and 2, the slowest call):

    KASTOR_LONG_SPEC_FUZZ=1 pytest tests/test_spec_fuzz.py
"""

import copy
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .spec_fuzz_worker import HANG_SECONDS
from .spec_strategies import (
    check_located_problems,
    data_mutation,
    dump_yaml,
    parent_of,
    paths_of,
    rename_key,
    spec_documents,
    text_mutation,
)
from .support import EXAMPLE_SPECS, REPO

LONG = os.environ.get("KASTOR_LONG_SPEC_FUZZ") == "1"
CASES = 5000 if LONG else 150

EXAMPLE_DOCUMENTS = [yaml.safe_load(path.read_text(encoding="utf-8")) for path in EXAMPLE_SPECS]

#: A value in YAML of every type, as written in a spec: plain, quoted, flow collections and tagged values.
VALUE_SNIPPETS = (
    *("null", "~", "''", '""', "true", "false", "yes", "No", "on", "OFF"),
    *("0", "-1", "1.5", "-0.0", ".inf", "-.inf", ".nan", "1e400", "0x1F", "0o17", "1_000", "+12"),
    *("18446744073709551616", "9" * 5000, "-" + "9" * 4301, "0." + "0" * 400 + "1"),
    *("text", "'quoted: text'", '"\\ud800"', '"\\x00"', '"\\u2028"', "'#/definitions/Nope'", "object"),
    *("[]", "[1, [2, [3]]]", "[null]", "{}", "{a: 1}", "{type: object}", "{$ref: '#/definitions/Nope'}"),
    *("{type: object, properties: }", "{anyOf: }", "{type: [string, null]}", "{properties: {a: }}"),
    *("!!float object", "!!float 1", "!!int x", "!!int ''", "!!bool maybe", "!!null x", "!!str 1", "!!str"),
    *("!!binary aGVsbG8=", "!!binary '!!!'", "!!timestamp 2001-12-14", "!!timestamp nonsense"),
    *("2001-12-14", "2001-12-14t21:59:43.10-05:00", "12:30:00", "!!set {a, b}", "!!set {}"),
    *("!!omap [a: 1, b: 2]", "!!pairs [a: 1, a: 2]", "!!map {a: 1}", "!!seq [1]", "!!seq {a: 1}", "!!map [1]"),
    *("!custom x", "!<tag:example.com,2000:x> y", "!!python/object/apply:os.system ['touch PWNED']"),
    *("!!python/name:os.system x", "*nope", "&lonely x", "<<: {a: 1}", "? complex\n"),
)

#: A key in YAML that is not a plain string, or one that means something odd.
KEY_SNIPPETS = (
    *("1", "1.5", "true", "null", "~", "2001-12-14", "!!float 1", "!!binary aGk=", "!!int x", "[a]", "{a: 1}"),
    *("''", '"\\ud800"', '"a\\nb"', "'<<'", "<<", "? [a, b]", "!!str 1", "&anchor key", "*nope"),
)

#: Where the placeholder of a slot stands in the dumped YAML, to be replaced by raw YAML text.
SLOT = "kastor_fuzz_slot_{}"


def alias_bomb(width: int, depth: int) -> str:
    """One flow sequence whose anchors repeat the previous one `width` times, `depth` times over."""
    levels = ["&fb0 [" + ", ".join(["lol"] * width) + "]"]
    levels.extend(f"&fb{level} [" + ", ".join([f"*fb{level - 1}"] * width) + "]" for level in range(1, depth))
    return "[" + ", ".join(levels) + "]"


def nested(depth: int, kind: str) -> str:
    if kind == "[":
        return "[" * depth + "1" + "]" * depth
    if kind == "{":
        return "{a: " * depth + "1" + "}" * depth
    if kind == "unclosed":
        return "[" * depth
    return "[{a: " * (depth // 2) + "1" + "}]" * (depth // 2)


def many_keys(count: int, schemas: bool) -> str:
    value = "{type: string}" if schemas else "1"
    return "{" + ", ".join(f"k{index}: {value}" for index in range(count)) + "}"


@st.composite
def hostile_values(draw: st.DrawFn) -> tuple[str, str]:
    """Raw YAML for one value, and what it is (for the failure report)."""
    kind = draw(st.sampled_from(["snippet"] * 6 + ["bomb", "deep", "long text", "many keys", "many items"]))
    if kind == "snippet":
        snippet = draw(st.sampled_from(VALUE_SNIPPETS))
        return snippet, snippet[:60]
    if kind == "bomb":
        width, depth = draw(st.sampled_from([(2, 10), (9, 4), (9, 6), (9, 7), (30, 4), (100, 3)]))
        return alias_bomb(width, depth), f"alias bomb {width}^{depth}"
    if kind == "deep":
        depth = draw(st.sampled_from([50, 99, 101, 1000, 5000]))
        shape = draw(st.sampled_from(["[", "{", "unclosed", "mixed"]))
        return nested(depth, shape), f"nesting {shape} x{depth}"
    if kind == "long text":
        length = draw(st.sampled_from([10_000, 1_000_000]))
        return "x" * length, f"text of {length} characters"
    if kind == "many keys":
        count = draw(st.sampled_from([1000, 5000]))
        schemas = draw(st.booleans())
        return many_keys(count, schemas), f"{count} keys{' of schemas' if schemas else ''}"
    count = draw(st.sampled_from([1000, 50_000]))
    return "[" + ", ".join(str(index) for index in range(count)) + "]", f"{count} items"


@dataclass(frozen=True)
class FuzzCase:
    text: str
    mutations: tuple[str, ...]

    def __repr__(self) -> str:
        shown = self.text if len(self.text) < 4000 else self.text[:4000] + f"... ({len(self.text)} characters)"
        return f"FuzzCase(mutations={self.mutations!r})\n--- spec ---\n{shown}"


@st.composite
def fuzz_cases(draw: st.DrawFn) -> FuzzCase:
    if draw(st.booleans()):
        document: Any = copy.deepcopy(draw(st.sampled_from(EXAMPLE_DOCUMENTS)))
        origin = "example spec"
    else:
        document = draw(spec_documents(max_stores=2, max_events=2))
        document["package"] = "fuzzed"
        origin = "random valid spec"
    mutations = [origin]
    slots: dict[str, str] = {}
    anchors: list[tuple[str, str]] = []  # (anchor slot, alias slot): the first in the text gets the anchor
    for _ in range(draw(st.integers(1, 3))):
        operation = draw(st.sampled_from(["data", "value", "value", "key", "alias"]))
        paths = paths_of(document)
        if operation == "data" or not paths:
            mutations.append(draw(data_mutation(document)))
            continue
        path = draw(st.sampled_from(paths))
        parent = parent_of(document, path)
        slot = SLOT.format(len(slots))
        if operation == "key" and isinstance(parent, dict):
            snippet = draw(st.sampled_from(KEY_SNIPPETS))
            rename_key(parent, path[-1], slot)
            slots[slot] = snippet
            mutations.append(f"key {path} replaced by {snippet!r}")
        elif operation == "alias":
            other = draw(st.sampled_from(paths))
            if other == path or other[: len(path)] == path or path[: len(other)] == other:
                mutations.append("alias (skipped: nested paths)")
                continue
            second = SLOT.format(len(slots) + 1)
            parent[path[-1]] = slot
            parent_of(document, other)[other[-1]] = second
            anchors.append((slot, second))
            slots[slot] = slots[second] = ""
            mutations.append(f"{path} and {other} share one anchored value")
        else:
            snippet, shown = draw(hostile_values())
            parent[path[-1]] = slot
            slots[slot] = snippet
            mutations.append(f"value {path} replaced by {shown}")
    text = dump_yaml(document)
    for first, second in anchors:
        if text.find(first) > text.find(second):
            first, second = second, first
        shared = draw(st.sampled_from(["{type: string}", "[a, b]", "text", "{type: object, properties: {}}"]))
        slots[first], slots[second] = f"&shared_{first} {shared}", f"*shared_{first}"
    for slot, snippet in slots.items():
        text = text.replace(slot, snippet)
    if draw(st.integers(0, 4)) == 0:
        text, done = draw(text_mutation(text))
        mutations.append(done)
    return FuzzCase(text, tuple(mutations))


def fuzz_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


@dataclass
class Outcome:
    case: FuzzCase
    spec: Path
    results: dict[str, dict[str, Any]]  # by command


def run_cases(cases: list[FuzzCase], root: Path) -> list[Outcome]:
    """Runs validate, then generate, on every case in one worker; a hang or a crash of the worker fails here."""
    jobs: list[dict[str, Any]] = []
    specs: list[Path] = []
    for index, case in enumerate(cases):
        directory = root / f"case_{index}"
        directory.mkdir(parents=True)
        spec = directory / "spec.yaml"
        spec.write_text(case.text, encoding="utf-8", errors="surrogatepass")
        specs.append(spec)
        jobs.append({"case": index, "argv": ["validate", str(spec)], "cwd": str(directory), "out": None})
        jobs.append({"case": index, "argv": ["generate", str(spec), "-o", "out"], "cwd": str(directory), "out": "out"})
    jobs_path, results_path = root / "jobs.json", root / "results.jsonl"
    jobs_path.write_text(json.dumps(jobs), encoding="utf-8")
    worker = subprocess.run(
        [sys.executable, "-m", "tests.spec_fuzz_worker", str(jobs_path), str(results_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS * len(jobs) + 60,
        check=False,
    )
    lines = results_path.read_text(encoding="utf-8").splitlines() if results_path.exists() else []
    if worker.returncode != 0 or len(lines) != len(jobs):
        stalled = jobs[len(lines)] if len(lines) < len(jobs) else None
        culprit = f"{stalled['argv'][0]} of {cases[stalled['case']]!r}" if stalled else "after the last job"
        raise AssertionError(f"the worker ended (exit {worker.returncode}) during {culprit}\n{worker.stderr[-5000:]}")
    outcomes = [Outcome(case, spec, {}) for case, spec in zip(cases, specs, strict=True)]
    for line in lines:
        result = json.loads(line)
        outcomes[result["case"]].results[result["argv"][0]] = result
    return outcomes


def problems_of(outcome: Outcome) -> list[str]:
    """What went wrong with one case, if anything."""
    problems = []
    for command, result in outcome.results.items():
        output = result["stdout"] + result["stderr"]
        if "Traceback" in output or result["code"] not in (0, 2):
            problems.append(f"{command}: exit {result['code']}\n{output[-3000:]}")
            continue
        if result["seconds"] > HANG_SECONDS:
            problems.append(f"{command}: took {result['seconds']:.1f}s")
        if result["code"] == 2:
            if result["wrote"]:
                problems.append(f"{command}: wrote its output on exit 2")
            try:
                check_located_problems(outcome.spec, result["stderr"])
            except AssertionError as error:
                problems.append(f"{command}: {error}")
        if result["compile_errors"]:
            problems.append(f"{command}: generated code does not compile: {result['compile_errors']}")
    validate, generate = outcome.results["validate"], outcome.results["generate"]
    if validate["code"] != generate["code"] or (validate["code"] == 2 and validate["stderr"] != generate["stderr"]):
        problems.append(
            f"validate (exit {validate['code']}) and generate (exit {generate['code']}) disagree:\n"
            f"--- validate ---\n{validate['stderr']}--- generate ---\n{generate['stderr']}"
        )
    return problems


def test_fuzzed_specs_exit_0_or_2_with_located_problems_and_no_hang(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases: list[FuzzCase] = []

    @fuzz_settings(CASES)
    @given(fuzz_cases())
    def collect(case: FuzzCase) -> None:
        cases.append(case)

    collect()
    outcomes = run_cases(cases, tmp_path)

    failures = [(outcome, problems) for outcome in outcomes if (problems := problems_of(outcome))]
    calls = [
        (result["seconds"], command, outcome) for outcome in outcomes for command, result in outcome.results.items()
    ]
    slowest = max(calls, key=lambda call: call[0])
    codes = [outcome.results["generate"]["code"] for outcome in outcomes]
    with capsys.disabled():
        print(
            f"\nspec fuzz: {len(outcomes)} specs, {codes.count(0)} exit 0, {codes.count(2)} exit 2, "
            f"slowest call {slowest[0]:.2f}s ({slowest[1]}: {', '.join(slowest[2].case.mutations)})"
        )
    assert not list(tmp_path.rglob("PWNED")) and not (REPO / "PWNED").exists(), "a YAML tag ran code"
    reports = [f"{outcome.case!r}\n--- problems ---\n" + "\n".join(problems) for outcome, problems in failures]
    every = tmp_path / "failures.txt"
    every.write_text("\n\n".join(reports), encoding="utf-8")
    assert not failures, "\n\n".join(reports[:3]) + f"\n\n({len(failures)} failing cases in all, every one in {every})"

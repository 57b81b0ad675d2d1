"""Timing, goals and the report of the benchmarks.

Every figure is the median of repeated runs, and each goal compares Kastor with its anchor measured in the
same process run, their runs interleaved so that a drift of the machine touches both alike.
"""

import json
import os
import platform
import sqlite3
import statistics
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Literal

#: A run prepares what it needs, times its own work with `time.perf_counter` and returns those seconds.
Run = Callable[[], float]


@dataclass(frozen=True)
class Measurement:
    """The median of repeated runs of one workload of `operations` operations."""

    name: str
    operations: int
    unit: str
    runs: tuple[float, ...]

    @property
    def seconds(self) -> float:
        return statistics.median(self.runs)

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds

    @property
    def per_operation(self) -> float:
        return self.seconds / self.operations


@dataclass(frozen=True)
class Goal:
    """A ratio of Kastor to its anchor and the bound it must respect.

    `speedup` goals divide the anchor's time per operation by Kastor's (higher is better, `ratio >= target`);
    `cost` goals divide Kastor's time by the anchor's (lower is better, `ratio <= target`).
    """

    title: str
    subject: Measurement
    anchor: Measurement
    kind: Literal["speedup", "cost"]
    target: float

    @property
    def ratio(self) -> float:
        if self.kind == "speedup":
            return self.anchor.per_operation / self.subject.per_operation
        return self.subject.per_operation / self.anchor.per_operation

    @property
    def met(self) -> bool:
        return self.ratio >= self.target if self.kind == "speedup" else self.ratio <= self.target

    @property
    def bound(self) -> str:
        return f">= {self.target:g}x" if self.kind == "speedup" else f"<= {self.target:g}x"


@dataclass
class Report:
    """What one benchmark run found: goals, and figures reported without a goal."""

    quick: bool
    goals: list[Goal] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)
    measurements: list[Measurement] = field(default_factory=list)

    def keep(self, *measurements: Measurement) -> None:
        self.measurements.extend(measurements)

    def goal(self, goal: Goal) -> None:
        self.goals.append(goal)
        print(f"  {_goal_line(goal)}", flush=True)

    def figure(self, name: str, value: str) -> None:
        self.figures[name] = value
        print(f"  {name}: {value}", flush=True)

    def table(self) -> str:
        lines = [
            "| goal | Kastor | anchor | ratio | bound | met |",
            "|---|---|---|---|---|---|",
        ]
        for goal in self.goals:
            met = "-" if self.quick else ("yes" if goal.met else "**no**")
            lines.append(
                f"| {goal.title} | {_figure(goal.subject)} | {goal.anchor.name}: {_figure(goal.anchor)} "
                f"| {goal.ratio:.2f}x | {goal.bound} | {met} |"
            )
        if self.figures:
            lines += ["", "| figure | value |", "|---|---|"]
            lines += [f"| {name} | {value} |" for name, value in self.figures.items()]
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {
            "quick": self.quick,
            "machine": machine(),
            "goals": [
                {
                    "title": goal.title,
                    "kind": goal.kind,
                    "target": goal.target,
                    "ratio": goal.ratio,
                    "met": goal.met,
                    "subject": _measurement_json(goal.subject),
                    "anchor": _measurement_json(goal.anchor),
                }
                for goal in self.goals
            ],
            "figures": self.figures,
            "measurements": [_measurement_json(measurement) for measurement in self.measurements],
        }

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")


def measure_side_by_side(
    subject: tuple[str, Run], anchor: tuple[str, Run], *, operations: int, unit: str, repeats: int
) -> tuple[Measurement, Measurement]:
    """Runs subject and anchor alternately `repeats` times each (the first pair warms up, uncounted
    when there is more than one repeat)."""
    subject_runs: list[float] = []
    anchor_runs: list[float] = []
    rounds = repeats + 1 if repeats > 1 else repeats
    for index in range(rounds):
        first, second = (subject, anchor) if index % 2 == 0 else (anchor, subject)
        timings = {first[0]: first[1](), second[0]: second[1]()}
        if repeats > 1 and index == 0:
            continue
        subject_runs.append(timings[subject[0]])
        anchor_runs.append(timings[anchor[0]])
    return (
        Measurement(subject[0], operations, unit, tuple(subject_runs)),
        Measurement(anchor[0], operations, unit, tuple(anchor_runs)),
    )


def measure_alone(name: str, run: Run, *, operations: int, unit: str, repeats: int) -> Measurement:
    runs = [run() for _ in range(repeats)]
    return Measurement(name, operations, unit, tuple(runs))


def machine() -> dict[str, object]:
    versions = {}
    for package in ("pydantic", "pydantic-core", "datamodel-code-generator", "mypy", "eventsourcing", "psycopg"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "packages": versions,
    }


def _figure(measurement: Measurement) -> str:
    if measurement.unit == "run":
        return f"{measurement.seconds:.2f} s"
    per_operation = measurement.per_operation
    if per_operation < 1e-3:
        return f"{per_operation * 1e6:.1f} µs/{measurement.unit}"
    return f"{per_operation * 1e3:.2f} ms/{measurement.unit}"


def _goal_line(goal: Goal) -> str:
    return (
        f"{goal.title}: {_figure(goal.subject)} vs {goal.anchor.name} {_figure(goal.anchor)} "
        f"-> {goal.ratio:.2f}x (goal {goal.bound})"
    )


def _measurement_json(measurement: Measurement) -> dict[str, object]:
    return {**asdict(measurement), "median_seconds": measurement.seconds}

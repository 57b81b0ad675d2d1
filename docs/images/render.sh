#!/usr/bin/env bash
# Regenerates docs/images/pokedex-diagram.svg: the Mermaid diagram of `kastor docs specs/pokedex.yaml`,
# rendered by the mermaid CLI (installed on first use by install-mermaid-cli.sh). Run from anywhere:
#   bash docs/images/render.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

mmdc="$(bash docs/images/install-mermaid-cli.sh | tail -n 1)"
tools="$(dirname "$(dirname "$(dirname "$mmdc")")")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python -m generator docs specs/pokedex.yaml -o "$work" >/dev/null
# Given Markdown, mmdc renders each ```mermaid block to <output>-<n>.svg: the pokedex document has one.
(cd "$work" && "$mmdc" --quiet -p "$tools/puppeteer-config.json" -c "$tools/mermaid-config.json" \
    -b white -i pokedex.md -o rendered.md)
cp "$work/rendered-1.svg" docs/images/pokedex-diagram.svg
echo "docs/images/pokedex-diagram.svg: written"

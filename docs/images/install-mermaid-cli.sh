#!/usr/bin/env bash
# Installs the Mermaid tooling that checks and renders the diagrams of `kastor docs`: Debian's Chromium (when
# missing) and the mermaid CLI (mmdc) from the npm registry, pinned, into a cache outside the repository.
# Idempotent: a second run installs nothing. Its last line of output is the path of mmdc, beside which lie
# puppeteer-config.json (the machine's Chromium, no sandbox: CI runs as root) and mermaid-config.json.
#
#   KASTOR_MERMAID_DIR   where to install (default: ~/.cache/kastor/mermaid-cli-<version>)
#   KASTOR_CHROMIUM      the Chromium to drive (default: chromium on PATH)
set -euo pipefail

version=11.17.0
dir="${KASTOR_MERMAID_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kastor/mermaid-cli-$version}"

chromium="${KASTOR_CHROMIUM:-$(command -v chromium || true)}"
if [ -z "$chromium" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-mermaid-cli: Chromium is missing: run 'sudo apt-get install -y chromium' (or set KASTOR_CHROMIUM)" >&2
        exit 1
    fi
    echo "install-mermaid-cli: installing Chromium (apt-get)" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
    chromium="$(command -v chromium)"
fi

mmdc="$dir/node_modules/.bin/mmdc"
if [ ! -x "$mmdc" ]; then
    command -v npm >/dev/null || { echo "install-mermaid-cli: npm is missing (install Node.js 18 or newer)" >&2; exit 1; }
    echo "install-mermaid-cli: installing @mermaid-js/mermaid-cli@$version into $dir" >&2
    mkdir -p "$dir"
    # Puppeteer would download a browser of its own, which this machine cannot fetch: the system's is used.
    (cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error \
        "@mermaid-js/mermaid-cli@$version" >&2)
fi

printf '{"executablePath": "%s", "args": ["--no-sandbox"]}\n' "$chromium" > "$dir/puppeteer-config.json"
# A fixed seed makes the SVG the same on every run; SVG text (no HTML labels) shows wherever an SVG is shown.
cat > "$dir/mermaid-config.json" <<'JSON'
{"handDrawnSeed": 1, "htmlLabels": false, "flowchart": {"htmlLabels": false, "wrappingWidth": 320}}
JSON
echo "$mmdc"

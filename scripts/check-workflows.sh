#!/usr/bin/env bash
# The GitHub Action and every workflow users copy, checked as GitHub reads them and for the mistakes
# that leak secrets: each validates against GitHub's schema (check-jsonschema's vendored
# vendor.github-actions / vendor.github-workflows), and zizmor finds nothing of medium severity or
# more (actions pinned to a commit, no persisted credentials, no template injection, least permissions).
# Both tools come from PyPI, pinned, into a venv of their own.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${VAPP_CI_VENV:-$HOME/.cache/vapp/ci-tools-venv}"
if ! "$venv/bin/zizmor" --version 2>/dev/null | grep -q "1.33.1" ||
   ! "$venv/bin/check-jsonschema" --version 2>/dev/null | grep -q "0.39.0"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "zizmor==1.33.1" "check-jsonschema==0.39.0"
fi

workflows=(.github/workflows/*.yml examples/ci/*.yml)
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-actions action.yml
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"
"$venv/bin/zizmor" --offline --min-severity medium action.yml "${workflows[@]}"

# Shared by scripts/run and scripts/test: make (or reuse) .venv and install StageSub into it.
# Needs only python3 (3.11+) with venv and pip; everything else comes from the package index.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
.venv/bin/python -m pip install --quiet -e ".[test]"
export PATH="$ROOT/.venv/bin:$PATH"

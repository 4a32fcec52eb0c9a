#!/usr/bin/env bash
# The images' Python distributions, fetched on the host (whose pip reaches the package index) and checked against
# the hashed locks: every file of requirements-{platform,api,dashboard}.lock, as wheels, in build/wheelhouse/.
# The image builds install from that folder alone (pip --no-index), at exactly the locks' versions.
#   docker/wheelhouse.sh          (PYTHON: a Python 3.11 with pip; default python3.11)
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3.11}"
out=build/wheelhouse
stamp="$out/.locks.sha256"
mkdir -p "$out"
if [ -f "$stamp" ] && sha256sum --quiet --check "$stamp" >/dev/null 2>&1; then
  echo "wheelhouse $out: up to date with the locks"
  exit 0
fi
start=$(date +%s)
for lock in requirements-platform.lock requirements-api.lock requirements-dashboard.lock; do
  # --require-hashes: a file whose sha256 is not in the lock is refused; sdists (pyspark) are built into wheels here
  "$python" -m pip wheel --quiet --disable-pip-version-check --require-hashes --no-deps -r "$lock" -w "$out" \
    2> >(grep -v "^WARNING: Location .* is ignored" >&2)
done
sha256sum requirements-platform.lock requirements-api.lock requirements-dashboard.lock > "$stamp"
echo "wheelhouse $out: $(find "$out" -name '*.whl' | wc -l) wheels, $(du -sm "$out" | cut -f1) MB, in $(( $(date +%s) - start )) s"

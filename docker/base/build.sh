#!/usr/bin/env bash
# The images' base, made from Debian's own packages when it is absent: a bookworm root filesystem (mmdebstrap,
# minbase) with Python 3.11, loaded with `docker import`. No image registry is needed; Debian's archive is.
#   docker/base/build.sh [--force]      (TAXI_BASE_IMAGE, DEBIAN_MIRROR)
set -euo pipefail
image="${TAXI_BASE_IMAGE:-taxi-fare-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
if [ "${1:-}" != "--force" ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image: present"
  exit 0
fi
command -v mmdebstrap >/dev/null 2>&1 || {
  echo "error: mmdebstrap is needed to build the base image: sudo apt-get install -y mmdebstrap" >&2
  exit 1
}
start=$(date +%s)
# the packages every image needs (Python and venv, certificates, curl for health checks, tini as PID 1), and the
# unprivileged user every service of ours runs as (uid 10001) with its data folder
mmdebstrap --quiet --variant=minbase \
  --include=ca-certificates,python3,python3-venv,curl,tini \
  --aptopt='Acquire::Languages "none"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --customize-hook='chroot "$1" groupadd --gid 10001 taxi' \
  --customize-hook='chroot "$1" useradd --uid 10001 --gid 10001 --no-log-init --create-home --shell /usr/sbin/nologin taxi' \
  --customize-hook='install -d -o 10001 -g 10001 "$1"/data' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm - \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main" \
  | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
      --change 'CMD ["/bin/bash"]' \
      --message "Debian bookworm minbase with Python 3.11 (docker/base/build.sh)" - "$image" >/dev/null
echo "base image $image: built in $(( $(date +%s) - start )) s, $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%d MB", $1/1e6}')"

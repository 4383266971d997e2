#!/usr/bin/env bash
# Install the Debian 12 packages named on the command line that are missing.
# Checks first and does nothing when all are present; installing needs root.
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing missing packages: ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
  echo "deps: not root; install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"

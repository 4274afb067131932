#!/usr/bin/env bash
# Install the Debian packages the build and tests need.
# Package lists live in tools/deps/*.txt (one package per line, '#' comments);
# each subsystem owns its own list. As root, missing packages are installed
# with one `apt-get update` then `apt-get install`; otherwise the exact
# command is printed and we fail.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
want=$(cat "$here"/deps/*.txt | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for p in $want; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages; run as root:" >&2
	echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/bin/bash
# SPDX-License-Identifier: ISC
# build.sh OUTDIR: build the Debian package as Debian builds it: from a
# clean clone of HEAD (committed work only), with dpkg-buildpackage -us
# -uc -b, as a user other than root (nobody, when started as root).
# The .deb, .changes and .buildinfo land in OUTDIR.
set -eu
out=$(mkdir -p "${1:?usage: build.sh OUTDIR}" && cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/bart-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	git clone -q --no-hardlinks "$src" "$tmp/bart"
	if [ -n "$(git -C "$src" status --porcelain --untracked-files=no)" ]; then
		echo "build.sh: note: uncommitted changes are not in the package" >&2
	fi
else				# an exported tree: copy it, minus build output
	mkdir "$tmp/bart"
	tar -C "$src" --exclude=./build --exclude=./run-state -cf - . |
	    tar -C "$tmp/bart" -xf -
fi
as=()
if [ "$(id -u)" = 0 ]; then
	chown -R nobody:nogroup "$tmp"
	as=(setpriv --reuid=nobody --regid=nogroup --clear-groups
	    env HOME="$tmp" USER=nobody LOGNAME=nobody)
fi
(cd "$tmp/bart" && "${as[@]}" dpkg-buildpackage -us -uc -b) \
    >"$tmp/build.log" 2>&1 || {
	tail -60 "$tmp/build.log"; echo "build.sh: dpkg-buildpackage failed" >&2
	exit 1; }
grep -E '^dpkg-(deb|genchanges|buildpackage): ' "$tmp/build.log" || true
rm -f "$out"/*.deb "$out"/bart_*.changes "$out"/bart_*.buildinfo
cp "$tmp"/*.deb "$tmp"/bart_*.changes "$tmp"/bart_*.buildinfo "$out"/
cp "$tmp/build.log" "$out/build.log"
ls "$out"/*.deb

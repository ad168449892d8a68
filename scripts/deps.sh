#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# deps.sh - installs (idempotently) every Debian 12 package allocmap needs to
# build, test and benchmark, and mounts nothing: the tool itself needs no
# tracefs. Safe to run again: only missing packages are installed. musl and
# musl-tools (musl-gcc) build and run the musl tests (tests/e2e/t_musl.py);
# golang-go brings `go tool pprof`, which reads --pprof files in tests/e2e/t_sites.py;
# libmicrohttpd-dev is `allocmap serve`'s HTTP server; prometheus (server and
# promtool) scrapes it in tests/e2e/t_serve_http.py; socat speaks to its control
# socket in docs/guide.md's examples.
set -euo pipefail

PKGS=(
	make gcc clang llvm pkg-config
	libbpf-dev bpftool libelf-dev libdw-dev elfutils zlib1g-dev libcapstone-dev
	libjson-c-dev libncurses-dev libiberty-dev libmicrohttpd-dev
	python3 strace ltrace util-linux procps tmux chromium bpftrace
	libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0
	g++ git sqlite3 redis-server redis-tools
	libc6-dbg
	musl musl-tools musl-dev
	libclang-rt-14-dev
	golang-go prometheus socat
)

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: must run as root (apt-get install)" >&2
	exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "deps.sh: all ${#PKGS[@]} packages present"
	exit 0
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps.sh: done"

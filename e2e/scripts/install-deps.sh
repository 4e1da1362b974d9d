#!/usr/bin/env bash
# Installs what Strata's tests need that Go does not fetch by itself,
# pinned to versions. Safe to run again: it installs only what is missing.
#
#   kcat 1.7.1 (Debian bookworm's package; librdkafka-based Kafka client)
set -euo pipefail

KCAT_VERSION="1.7.1-2"

have_kcat() {
	command -v kcat >/dev/null 2>&1 && kcat -V 2>/dev/null | grep -q "1.7.1"
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "install-deps: need root (or sudo) to run: $*" >&2
		return 1
	fi
}

if ! have_kcat; then
	echo "install-deps: installing kcat ${KCAT_VERSION}"
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -qq
	as_root apt-get install -y -qq "kcat=${KCAT_VERSION}" >/dev/null
fi
have_kcat || { echo "install-deps: kcat ${KCAT_VERSION} not available" >&2; exit 1; }
echo "install-deps: kcat $(kcat -V 2>/dev/null | sed -n 's/^Version \([^ ]*\).*/\1/p') ready"

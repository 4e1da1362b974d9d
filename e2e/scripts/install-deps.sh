#!/usr/bin/env bash
# Installs what Strata's tests need that Go does not fetch by itself,
# pinned to versions. Safe to run again: it installs only what is missing.
#
#   kcat 1.7.1 (Debian bookworm's package; librdkafka-based Kafka client)
#   nats-server 2.9.10 (Debian bookworm's package; the NATS JetStream
#   cluster that e2e's BenchmarkCompareReplicated measures Strata against)
#   MinIO, built from the Go module proxy into $(go env GOPATH)/bin
#   (a few minutes the first time, then cached)
set -euo pipefail

KCAT_VERSION="1.7.1-2"
NATS_SERVER_VERSION="2.9.10-1+b3"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"

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

# "nats-server --version" prints "nats-server: v2.9.10".
have_nats_server() {
	command -v nats-server >/dev/null 2>&1 && nats-server --version 2>/dev/null | grep -q "v${NATS_SERVER_VERSION%%-*}\$"
}
if ! have_nats_server; then
	echo "install-deps: installing nats-server ${NATS_SERVER_VERSION}"
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -qq
	as_root apt-get install -y -qq "nats-server=${NATS_SERVER_VERSION}" >/dev/null
fi
have_nats_server || { echo "install-deps: nats-server ${NATS_SERVER_VERSION} not available" >&2; exit 1; }
echo "install-deps: nats-server $(nats-server --version 2>/dev/null | sed -n 's/^nats-server: v//p') ready"

minio_bin="$(go env GOPATH)/bin/minio"
have_minio() {
	[ -x "$minio_bin" ] && go version -m "$minio_bin" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/minio/minio[[:space:]]+${MINIO_VERSION}"
}
if ! have_minio; then
	echo "install-deps: building minio ${MINIO_VERSION} (a few minutes, once)"
	go install "github.com/minio/minio@${MINIO_VERSION}"
fi
have_minio || { echo "install-deps: minio ${MINIO_VERSION} not installed at $minio_bin" >&2; exit 1; }
echo "install-deps: minio ${MINIO_VERSION} ready"

#!/usr/bin/env bash
# Installs the Debian packages procrun builds and tests with, when they are missing
# (Samples/demo.sh, scripts/test.sh and .ci/run call it). Not root: prints the command to run.
set -euo pipefail
packages=(pkg-config libxml2-dev libcurl4-openssl-dev libsqlite3-dev python3 util-linux librsvg2-bin chromium)
need=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || need+=("$package")
done
if [ "${#need[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "procrun needs these packages: sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
        exit 2
    fi
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi
if ! command -v swift >/dev/null 2>&1; then
    echo "procrun needs Swift 6 on the PATH (this machine's toolchain: export PATH=/opt/swift/usr/bin:\$PATH)" >&2
    exit 2
fi

#!/usr/bin/env bash
# Installs everything lens-pacs needs on a fresh Debian machine: Debian packages, then npm packages.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# Node 20 or later (package.json engines; the Dockerfile's node:20 image; Debian 12's own nodejs is 18).
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup: lens-pacs needs Node >= 20 (package.json engines), found $(node -v 2>/dev/null || echo none)" >&2
  exit 1
fi

need_apt=()
command -v Orthanc >/dev/null          || need_apt+=(orthanc)
[ -f /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || need_apt+=(orthanc-dicomweb)
command -v storescu >/dev/null         || need_apt+=(dcmtk)
command -v dciodvfy >/dev/null         || need_apt+=(dicom3tools)
command -v chromium >/dev/null         || need_apt+=(chromium)
command -v sqlite3 >/dev/null          || need_apt+=(sqlite3)
# PostgreSQL server for the network job store's tests (Debian keeps its binaries off PATH, under a versioned folder).
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
[ -x "$(pg_bin)/postgres" ]            || need_apt+=(postgresql)
/usr/bin/python3 -c 'import torch, numpy, scipy' 2>/dev/null || need_apt+=(python3-torch python3-numpy python3-scipy)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# Debian starts an Orthanc service on install; lens-pacs runs its own instances on free ports.
if command -v systemctl >/dev/null && systemctl is-active --quiet orthanc 2>/dev/null; then
  systemctl stop orthanc || true
fi
# Likewise Debian's PostgreSQL cluster: the tests start their own server (src/jobs/postgres-process.ts).
if command -v systemctl >/dev/null && systemctl is-active --quiet postgresql 2>/dev/null; then
  systemctl stop postgresql || true
fi
echo "setup: PostgreSQL server binaries in $(pg_bin) (found by the tests; LENS_PG_BIN overrides)"

stamp=node_modules/.lens-setup-stamp
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  echo "setup: installing npm packages"
  # onnxruntime-node bundles the CPU provider; without this its install script downloads the CUDA provider from
  # NuGet on linux x64 (and fails where only the npm registry is reachable). The GPU image sets cuda12 instead.
  export ONNXRUNTIME_NODE_INSTALL=skip
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
  touch "$stamp"
fi
# OHIF Viewer (prebuilt dist only) for the viewer test.
bash scripts/setup-ohif.sh
echo "setup: ready"

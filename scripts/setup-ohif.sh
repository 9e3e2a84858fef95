#!/usr/bin/env bash
# Fetches the prebuilt OHIF Viewer v3 (npm @ohif/app, its dist/ folder) for the viewer test.
# `npm install @ohif/app` fails (its peer @ohif/core of the same version is not in the registry), so the package
# tarball is fetched with `npm pack` and only dist/ is kept, under node_modules/.cache (git-ignored, and rebuilt
# after `npm ci` wipes node_modules). Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
OHIF_VERSION="${OHIF_VERSION:-3.12.10}"
dest="node_modules/.cache/ohif/${OHIF_VERSION}"
if [ -f "$dest/dist/index.html" ]; then
  echo "setup-ohif: OHIF ${OHIF_VERSION} present"
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "setup-ohif: fetching @ohif/app@${OHIF_VERSION}"
( cd "$tmp" && npm pack "@ohif/app@${OHIF_VERSION}" --silent >/dev/null )
mkdir -p "$dest"
tar -xzf "$tmp"/ohif-app-*.tgz -C "$tmp" package/dist
rm -rf "$dest/dist"
mv "$tmp/package/dist" "$dest/dist"
echo "setup-ohif: OHIF ${OHIF_VERSION} in $dest/dist"

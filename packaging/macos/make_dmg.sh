#!/bin/sh
# Wraps dist/mua.app (from `pyinstaller packaging/mua.spec` on macOS) in a compressed disk
# image with an Applications link to drag it onto: dist/mua-VERSION-macos-ARCH.dmg.
# Sign the .app before, and sign and notarise the .dmg after (packaging/README.md).
# Usage: packaging/macos/make_dmg.sh            (on macOS, from the repository root)
set -eu
cd "$(dirname "$0")/../.."
version=$(python3 packaging/appmeta.py --version)
arch=$(uname -m)
out="dist/mua-$version-macos-$arch.dmg"
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
ditto dist/mua.app "$staging/mua.app"   # ditto keeps the bundle's symlinks and signature
ln -s /Applications "$staging/Applications"
rm -f "$out"
# On hosted runners hdiutil now and then fails with "Resource busy" (something, Spotlight or
# XProtect, still holds the staging folder or the half-made image): try again after a pause.
attempt=1
until hdiutil create -volname "mua $version" -srcfolder "$staging" -fs HFS+ -format UDZO -ov "$out"; do
    if [ "$attempt" -ge 5 ]; then
        echo "make_dmg: hdiutil create failed $attempt times" >&2
        exit 1
    fi
    echo "make_dmg: hdiutil create failed (attempt $attempt), retrying in $((attempt * 5)) s" >&2
    sleep $((attempt * 5))
    attempt=$((attempt + 1))
    rm -f "$out"
done
echo "$out"

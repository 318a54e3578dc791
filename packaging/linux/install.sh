#!/bin/sh
# Installs mua for one user, without root: the app in PREFIX/lib/mua, the command
# PREFIX/bin/mua, and its menu entry, icons and AppStream metadata under PREFIX/share.
# Run from the unpacked tarball (or by the self-extracting .run, which passes its arguments).
#
# Usage: ./install.sh [--prefix DIR] [--uninstall]      PREFIX defaults to ~/.local
#        PREFIX/lib/mua/install.sh --uninstall          removes what was installed
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# Run from an installed copy (PREFIX/lib/mua/install.sh), the prefix is that copy's.
case "$here" in */lib/mua) prefix=$(dirname "$(dirname "$here")") ;; *) prefix="${HOME}/.local" ;; esac
action=install
while [ $# -gt 0 ]; do
    case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --uninstall) action=uninstall; shift ;;
    -h | --help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case "$prefix" in /*) ;; *) prefix="$(pwd)/$prefix" ;; esac
app="$prefix/lib/mua"
share="$prefix/share"

refresh_caches() {
    command -v update-desktop-database >/dev/null 2>&1 &&
        update-desktop-database -q "$share/applications" 2>/dev/null || true
    # Only refresh an icon cache that exists: a new one would hide icons installed later.
    if [ -f "$share/icons/hicolor/icon-theme.cache" ] && command -v gtk-update-icon-cache >/dev/null 2>&1; then
        gtk-update-icon-cache -q -t "$share/icons/hicolor" || true
    fi
    touch "$share/icons/hicolor" 2>/dev/null || true
}

if [ "$action" = uninstall ]; then
    [ -d "$app/share" ] || { echo "install.sh: mua is not installed in $prefix" >&2; exit 1; }
    (cd "$app/share" && find . -type f) | while read -r rel; do rm -f "$share/${rel#./}"; done
    if [ -L "$prefix/bin/mua" ]; then rm -f "$prefix/bin/mua"; fi
    rm -rf "$app"
    refresh_caches
    echo "mua removed from $prefix"
    exit 0
fi

[ -x "$here/mua" ] && [ -d "$here/_internal" ] || {
    echo "install.sh: run me from the unpacked mua folder (mua and _internal/ beside me)" >&2
    exit 1
}
mkdir -p "$prefix/bin" "$share"
rm -rf "$app.new"
mkdir -p "$app.new"
cp -R "$here/mua" "$here/_internal" "$here/share" "$here/install.sh" "$app.new/"
rm -rf "$app"
mv "$app.new" "$app"
ln -sf "$app/mua" "$prefix/bin/mua"

# The menu entry runs this copy by its absolute path (PREFIX/bin may not be on PATH).
(cd "$here/share" && find . -type f) | while read -r rel; do
    rel="${rel#./}"
    mkdir -p "$(dirname "$share/$rel")"
    case "$rel" in
    applications/*.desktop)
        sed -e "s|^Exec=mua |Exec=\"$app/mua\" |" -e "s|^TryExec=mua\$|TryExec=$app/mua|" \
            "$here/share/$rel" >"$share/$rel" ;;
    *) cp "$here/share/$rel" "$share/$rel" ;;
    esac
done
refresh_caches
echo "mua installed in $app; command: $prefix/bin/mua; uninstall: $app/install.sh --uninstall"

#!/bin/sh
# Validates the app's data files the way distributions do: the desktop
# entry, the AppStream metainfo, the settings schema and the translations
# (every message of every language translated, formats checked).
set -eu
cd "$(dirname "$0")/../.."
desktop-file-validate data/org.hangar.Hangar.desktop
echo "desktop-file-validate: ok"
appstreamcli validate --no-net --explain data/org.hangar.Hangar.metainfo.xml
glib-compile-schemas --strict --dry-run data
echo "gschema: ok"
for lang in $(grep -v '^#' po/LINGUAS); do
	stats=$(LC_ALL=C msgfmt --check --statistics -o /dev/null "po/$lang.po" 2>&1)
	echo "po/$lang.po: $stats"
	case "$stats" in
	*untranslated* | *fuzzy*) echo "po/$lang.po is incomplete" >&2; exit 1 ;;
	esac
	missing=$(msgcmp --use-untranslated "po/$lang.po" po/hangar.pot 2>&1 || true)
	if [ -n "$missing" ]; then
		echo "po/$lang.po does not cover po/hangar.pot:" >&2
		echo "$missing" >&2
		exit 1
	fi
done

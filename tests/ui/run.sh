#!/bin/sh
# Runs the UI tests: a private X server (Xvfb), a private D-Bus session with
# the accessibility bus, the compiled settings schema, then every
# tests/ui/test_*.py (Debian's python3 with pyatspi/dogtail) against the
# debug build of the app. Screenshots go to target/ui-screenshots/.
#
# Usage: tests/ui/run.sh [test_file.py ...]
set -eu
cd "$(dirname "$0")/../.."
REPO=$(pwd)
export HANGAR_BIN="${HANGAR_BIN:-$REPO/target/debug/hangar}"
# The shared corpus sits beside the repository (../shared); a git worktree
# one level deeper finds it one level up.
HANGAR_TESTDRIVER="$REPO/../shared/conformance/virt-manager/testdriver.xml"
[ -f "$HANGAR_TESTDRIVER" ] || HANGAR_TESTDRIVER="$REPO/../../shared/conformance/virt-manager/testdriver.xml"
export HANGAR_TESTDRIVER
export HANGAR_SCREENSHOTS="$REPO/target/ui-screenshots"
mkdir -p "$HANGAR_SCREENSHOTS"

if [ ! -x "$HANGAR_BIN" ]; then
	echo "run.sh: $HANGAR_BIN is missing; run 'cargo build -p hangar' first" >&2
	exit 1
fi
if [ ! -f "$HANGAR_TESTDRIVER" ]; then
	echo "run.sh: $HANGAR_TESTDRIVER is missing (the shared conformance corpus)" >&2
	exit 1
fi

# The schema, compiled the way an installed app finds it.
export GSETTINGS_SCHEMA_DIR="$REPO/target/ui-test-schemas"
mkdir -p "$GSETTINGS_SCHEMA_DIR"
cp data/*.gschema.xml "$GSETTINGS_SCHEMA_DIR/"
glib-compile-schemas --strict "$GSETTINGS_SCHEMA_DIR"

# Fresh, private state for every run.
TMP_HOME=$(mktemp -d)
trap 'rm -rf "$TMP_HOME"' EXIT
export XDG_CONFIG_HOME="$TMP_HOME/config" XDG_DATA_HOME="$TMP_HOME/data" \
	XDG_CACHE_HOME="$TMP_HOME/cache" XDG_RUNTIME_DIR="$TMP_HOME/run"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
export GSETTINGS_BACKEND=memory
# GL under Xvfb draws black windows; cairo draws what users see.
export NO_AT_BRIDGE=0 GTK_A11Y=atspi GDK_BACKEND=x11 GSK_RENDERER=cairo

if [ $# -eq 0 ]; then
	set -- $(ls tests/ui/test_*.py)
fi
# Start the search for a free display at a random number: other X servers
# started at the same moment (parallel test runs) would race for :99.
exec xvfb-run -a -n $((100 + $$ % 800)) -s "-screen 0 1280x900x24" \
	dbus-run-session -- sh -c '
		/usr/libexec/at-spi-bus-launcher --launch-immediately &
		launcher=$!
		sleep 1
		# The first app once failed to open the display right after the
		# server came up: wait until its socket is there.
		d=${DISPLAY#:}
		n=0
		while [ ! -S "/tmp/.X11-unix/X${d%%.*}" ] && [ $n -lt 100 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		status=0
		for test in "$@"; do
			echo "== $test"
			/usr/bin/python3 "$test" || status=1
		done
		kill $launcher 2>/dev/null || true
		exit $status
	' sh "$@"

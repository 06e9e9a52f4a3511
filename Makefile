# Hangar: the two commands a newcomer needs are `make run` and `make test`.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

# Debian packages to build and run the app.
DEBS_RUN = pkg-config libgtk-4-dev libvte-2.91-gtk4-dev libgvnc-1.0-dev \
	libglib2.0-dev-bin gettext liblzma-dev
# ...and what the whole test suite drives: a real X server, accessibility,
# QEMU for the nested KVM sandbox, qemu-img to check images, network tools.
DEBS_TEST = $(DEBS_RUN) xvfb xauth dbus dbus-x11 at-spi2-core python3-pyatspi \
	python3-dogtail desktop-file-utils appstream qemu-system-x86 qemu-utils cpio \
	busybox-static dnsmasq-base nftables iproute2 passt gvncviewer \
	imagemagick

.PHONY: run test deps-run deps-test build check-fmt test-data test-ui bench-ui install bench-storage bench-xml bench-vmm bench-blk bench-vnc bench-vnc-latency bench-qcow2

deps-run:
	@scripts/ensure-debs $(DEBS_RUN)

deps-test:
	@scripts/ensure-debs $(DEBS_TEST)
	@$(MAKE) --no-print-directory $(VNC_VENV)/bin/vncdo

# vncdotool (PyPI), a VNC client the display tests drive, in its own venv.
VNC_VENV = target/vnc-venv
$(VNC_VENV)/bin/vncdo:
	python3 -m venv $(VNC_VENV)
	$(VNC_VENV)/bin/pip install --quiet vncdotool==1.4.2

build: deps-run
	$(CARGO) build --release --workspace

run: build
	./target/release/hangar

check-fmt:
	$(CARGO) fmt --all -- --check

test: deps-test
	$(CARGO) build --workspace --all-targets
	$(CARGO) test --workspace -- --nocapture
	$(MAKE) test-data
	$(MAKE) test-ui
	$(MAKE) bench-storage
	$(MAKE) bench-xml
	$(MAKE) bench-blk

# Installs the app in PREFIX (default /usr/local; DESTDIR for packaging):
# binaries, desktop entry, metainfo, icon, settings schema and translations.
PREFIX ?= /usr/local
install: build
	install -Dm755 target/release/hangar $(DESTDIR)$(PREFIX)/bin/hangar
	install -Dm755 target/release/hangarctl $(DESTDIR)$(PREFIX)/bin/hangarctl
	install -Dm755 target/release/hangar-vmm $(DESTDIR)$(PREFIX)/bin/hangar-vmm
	install -Dm644 data/org.hangar.Hangar.desktop $(DESTDIR)$(PREFIX)/share/applications/org.hangar.Hangar.desktop
	install -Dm644 data/org.hangar.Hangar.metainfo.xml $(DESTDIR)$(PREFIX)/share/metainfo/org.hangar.Hangar.metainfo.xml
	install -Dm644 resources/icons/org.hangar.Hangar.svg $(DESTDIR)$(PREFIX)/share/icons/hicolor/scalable/apps/org.hangar.Hangar.svg
	install -Dm644 data/org.hangar.Hangar.gschema.xml $(DESTDIR)$(PREFIX)/share/glib-2.0/schemas/org.hangar.Hangar.gschema.xml
	for lang in $$(grep -v '^#' po/LINGUAS); do \
		install -d $(DESTDIR)$(PREFIX)/share/locale/$$lang/LC_MESSAGES && \
		msgfmt -o $(DESTDIR)$(PREFIX)/share/locale/$$lang/LC_MESSAGES/hangar.mo po/$$lang.po || exit 1; \
	done
	[ -n "$(DESTDIR)" ] || glib-compile-schemas $(PREFIX)/share/glib-2.0/schemas

# The desktop entry, AppStream metainfo, settings schema and translations.
test-data:
	tests/data/validate.sh

# The GTK app driven through AT-SPI under Xvfb (screenshots in target/ui-screenshots/).
test-ui:
	$(CARGO) build -p hangar
	tests/ui/run.sh

# Launch time and memory of the app against virt-manager's test host.
bench-ui: deps-test
	$(CARGO) build --release -p hangar
	HANGAR_BIN=$(CURDIR)/target/release/hangar tests/ui/run.sh tests/ui/bench.py

# Volume create/clone against qemu-img on this machine; prints ratios (release build).
bench-storage: deps-test
	$(CARGO) run --release -p hangar-core --example storage_bench

# Parse + format libvirt's whole XML corpus in a release build; prints the
# time per family (target: the ~1,070 domain files in under 1 s, one core).
bench-xml:
	$(CARGO) run --release -p hangar-core --example xml_bench

# ZRLE encoding time of the built-in VNC server (1920x1080, full and 10 %
# change; target: full frame <= 15 ms on one core); prints figures.
bench-vnc:
	$(CARGO) run --release -p hangar-core --example vnc_bench

# Boot time and memory overhead of hangar-vmm against QEMU, in the nested
# KVM sandbox (prints figures; several minutes).
bench-vmm: deps-test
	$(CARGO) bench -p hangar-core --bench vmm_boot

# Guest dd read/write throughput on virtio-blk (raw and qcow2) under
# hangar-vmm and QEMU's virtio-blk-pci on the same images, in the nested KVM
# sandbox; prints MB/s and ratios (a few minutes; part of make test).
bench-blk: deps-test
	$(CARGO) bench -p hangar-core --bench vmm_blk

# Latency from a guest's framebuffer write to a VNC client having the
# pixels (p50, p99), hangar-vmm's server against QEMU's with the same guest
# program, in the nested KVM sandbox; prints figures and ratios (minutes).
bench-vnc-latency: deps-test
	$(CARGO) bench -p hangar-core --bench vnc_latency

# The qcow2 backend's fresh-image write path on the host (tmpfs), against
# qemu-img bench and a plain raw file; prints MB/s (seconds; not in test).
bench-qcow2: deps-test
	$(CARGO) bench -p hangar-core --bench qcow2_write

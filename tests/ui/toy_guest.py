"""A toy guest for the console tests: a 512-byte boot sector, assembled
here, that QEMU's SeaBIOS boots in a fraction of a second under TCG.

It writes a banner in white on blue at the top of the text screen and on
COM1, then echoes every byte received on COM1 (a carriage return also
gets a line feed) and shows every key typed on the PS/2 keyboard on the
screen and on COM1. So a VNC client sees a known screen, a serial client
sees the banner, and what either types comes back from the guest itself.

QEMU runs with its VNC server on TCP or a unix socket (optionally with a
VNC password) and COM1 on a unix socket. QEMU drops what a serial port
prints while no client is connected, so a relay here stays connected from
boot and replays the output so far to each client, as hangar-vmm's console
does.
"""

import os
import socket
import subprocess
import threading
import time

BANNER = b"Hangar toy guest ready\r\n"


class Asm:
    """Just enough of a 16-bit assembler: bytes, labels, relative jumps."""

    def __init__(self, origin):
        self.origin = origin
        self.code = bytearray()
        self.labels = {}
        self.fixups = []  # (offset, label, size) of relative operands
        self.absolute = []  # (offset, label) of 16-bit absolute operands

    def label(self, name):
        self.labels[name] = len(self.code)

    def emit(self, *data):
        self.code += bytes(data)

    def rel8(self, opcode, label):
        self.emit(opcode, 0)
        self.fixups.append((len(self.code) - 1, label, 1))

    def rel16(self, opcode, label):
        self.emit(opcode, 0, 0)
        self.fixups.append((len(self.code) - 2, label, 2))

    def imm16_label(self, opcode, label):
        self.emit(opcode, 0, 0)
        self.absolute.append((len(self.code) - 2, label))

    def link(self):
        for at, label, size in self.fixups:
            delta = self.labels[label] - (at + size)
            if size == 1:
                assert -128 <= delta <= 127, label
                self.code[at] = delta & 0xFF
            else:
                self.code[at:at + 2] = (delta & 0xFFFF).to_bytes(2, "little")
        for at, label in self.absolute:
            self.code[at:at + 2] = (self.origin + self.labels[label]).to_bytes(2, "little")
        return bytes(self.code)


def boot_sector():
    a = Asm(0x7C00)
    a.emit(0xFA)                      # cli
    a.emit(0x31, 0xC0)                # xor ax, ax
    a.emit(0x8E, 0xD8)                # mov ds, ax
    a.emit(0x8E, 0xD0)                # mov ss, ax
    a.emit(0xBC, 0x00, 0x7C)          # mov sp, 0x7c00
    a.emit(0xFB)                      # sti
    a.emit(0xFC)                      # cld
    a.emit(0xB8, 0x00, 0xB8)          # mov ax, 0xb800
    a.emit(0x8E, 0xC0)                # mov es, ax
    a.imm16_label(0xBE, "msg")        # mov si, msg
    a.emit(0x31, 0xFF)                # xor di, di
    a.label("vga")
    a.emit(0xAC)                      # lodsb
    a.emit(0x3C, 0x20)                # cmp al, ' '
    a.rel8(0x72, "vga_done")          # jb vga_done (stop at \r)
    a.emit(0xB4, 0x1F)                # mov ah, 0x1f
    a.emit(0xAB)                      # stosw
    a.rel8(0xEB, "vga")               # jmp vga
    a.label("vga_done")
    a.emit(0x83, 0xC7, 0x02)          # add di, 2 (a blank before typed keys)
    a.imm16_label(0xBE, "msg")        # mov si, msg
    a.label("ser")
    a.emit(0xAC)                      # lodsb
    a.emit(0x84, 0xC0)                # test al, al
    a.rel8(0x74, "main")              # jz main
    a.rel16(0xE8, "putc")             # call putc
    a.rel8(0xEB, "ser")               # jmp ser
    a.label("main")
    a.emit(0xBA, 0xFD, 0x03)          # mov dx, 0x3fd
    a.emit(0xEC)                      # in al, dx
    a.emit(0xA8, 0x01)                # test al, 1
    a.rel8(0x74, "kbd")               # jz kbd
    a.emit(0xBA, 0xF8, 0x03)          # mov dx, 0x3f8
    a.emit(0xEC)                      # in al, dx
    a.rel16(0xE8, "putc")             # call putc
    a.emit(0x3C, 0x0D)                # cmp al, 13
    a.rel8(0x75, "kbd")               # jne kbd
    a.emit(0xB0, 0x0A)                # mov al, 10
    a.rel16(0xE8, "putc")             # call putc
    a.label("kbd")
    a.emit(0xB4, 0x01)                # mov ah, 1
    a.emit(0xCD, 0x16)                # int 0x16 (ZF set: no key)
    a.rel8(0x74, "main")              # jz main
    a.emit(0xB4, 0x00)                # mov ah, 0
    a.emit(0xCD, 0x16)                # int 0x16 (al = ASCII)
    a.emit(0xB4, 0x1F)                # mov ah, 0x1f
    a.emit(0xAB)                      # stosw
    a.rel16(0xE8, "putc")             # call putc
    a.rel8(0xEB, "main")              # jmp main
    a.label("putc")                   # sends al on COM1, keeps ax
    a.emit(0x50)                      # push ax
    a.emit(0xBA, 0xFD, 0x03)          # mov dx, 0x3fd
    a.label("wait_tx")
    a.emit(0xEC)                      # in al, dx
    a.emit(0xA8, 0x20)                # test al, 0x20
    a.rel8(0x74, "wait_tx")           # jz wait_tx
    a.emit(0x58)                      # pop ax
    a.emit(0xBA, 0xF8, 0x03)          # mov dx, 0x3f8
    a.emit(0xEE)                      # out dx, al
    a.emit(0xC3)                      # ret
    a.label("msg")
    a.emit(*BANNER, 0)
    code = a.link()
    assert len(code) <= 510, len(code)
    return code + bytes(510 - len(code)) + b"\x55\xaa"


def wait_for_path(path, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} did not appear")


def connect_unix(path, timeout=20.0):
    """A socket connected to the unix socket at `path`. QEMU binds the path
    a moment before it listens on it, so a refused connection is retried."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.connect(path)
            return sock
        except ConnectionRefusedError:
            sock.close()
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


class SerialRelay:
    """Keeps COM1's output from boot and serves it, then the live stream
    both ways, to one client at a time on its own unix socket."""

    def __init__(self, guest_path, path):
        self.path = path
        self.guest = connect_unix(guest_path)
        self.history = b""
        self.client = None
        self.lock = threading.Lock()
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(path)
        self.listener.listen(4)
        threading.Thread(target=self._from_guest, daemon=True).start()
        threading.Thread(target=self._accept, daemon=True).start()

    def _from_guest(self):
        while True:
            try:
                data = self.guest.recv(4096)
            except OSError:
                data = b""
            with self.lock:
                if not data:
                    if self.client:
                        self.client.close()
                    self.listener.close()
                    return
                self.history += data
                if self.client:
                    try:
                        self.client.sendall(data)
                    except OSError:
                        self.client = None

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                client.sendall(self.history)
                self.client = client
            threading.Thread(target=self._to_guest, args=(client,), daemon=True).start()

    def _to_guest(self, client):
        while True:
            try:
                data = client.recv(4096)
            except OSError:
                data = b""
            if not data:
                return
            self.guest.sendall(data)


class ToyGuest:
    """QEMU (TCG) running the boot sector: VNC on TCP display `vnc_tcp`
    (127.0.0.1) or a unix socket, COM1 through a relay (`serial`)."""

    def __init__(self, workdir, name, password=None, vnc_tcp=None):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.image = os.path.join(self.dir, "boot.img")
        with open(self.image, "wb") as out:
            out.write(boot_sector())
        self.vnc = os.path.join(self.dir, "vnc.sock")
        guest_serial = os.path.join(self.dir, "com1.sock")
        self.serial = os.path.join(self.dir, "serial.sock")
        for stale in (self.vnc, guest_serial, self.serial):
            if os.path.exists(stale):
                os.unlink(stale)
        vnc = f"unix:{self.vnc}" if vnc_tcp is None else f"127.0.0.1:{vnc_tcp}"
        args = ["qemu-system-x86_64", "-accel", "tcg", "-m", "16", "-nodefaults",
                "-vga", "std", "-display", "none", "-no-user-config",
                "-drive", f"file={self.image},format=raw,if=ide",
                "-serial", f"unix:{guest_serial},server=on,wait=on"]
        if password:
            args += ["-object", f"secret,id=vncpw,data={password}"]
            vnc += ",password-secret=vncpw"
        args += ["-vnc", vnc]
        self.log = open(os.path.join(self.dir, "qemu.log"), "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        # QEMU waits for COM1's first client before it starts the guest.
        wait_for_path(guest_serial)
        self.relay = SerialRelay(guest_serial, self.serial)
        if vnc_tcp is None:
            wait_for_path(self.vnc)
        else:
            wait_for_port(5900 + vnc_tcp)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_for_port(port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")

"""The VM window's consoles against real VNC servers and a real serial
port: QEMU (TCG) guests running the toy boot sector of toy_guest.py, put
on a test-driver host file as running domains.

- The graphical console connects to QEMU's VNC server over TCP; its
  screenshot (taken through the Screenshot button and file chooser) matches
  gvnccapture's capture of the same server.
- A key typed in the console reaches the guest (its echo on the serial
  port), the keyboard grab shows its release keys in the title, and the
  release keys end it.
- The serial console (View > Consoles > Serial Console) shows the guest's
  banner, and text typed in it comes back as the guest's echo.
- A password-protected VNC server (unix socket) brings up the password
  prompt; a wrong password reads "Authentication failed", the right one
  shows the screen.
- A shut-off domain reads "not running" with a Run button; a VNC server
  that goes away reads "disconnected".
Screenshots in English and Vietnamese go to target/ui-screenshots/."""

import os
import socket
import subprocess
import tempfile
import time

from hangar_ui import (activate, click, compare_png, domain_xml, find, find_all, hold, menu_item,
                       run, save_screenshot, screenshot, set_text, type_text, wait_for,
                       UiTestFailure)
from toy_guest import BANNER, ToyGuest

WORK = tempfile.mkdtemp(prefix="hangar-console-")


def free_vnc_display():
    for display in range(40, 99):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", 5900 + display))
                return display
            except OSError:
                continue
    raise UiTestFailure("no free VNC port between 5940 and 5998")


def host_file(toy, display, locked):
    domains = [
        domain_xml("toy", f"""<graphics type='vnc' port='{5900 + display}' listen='127.0.0.1'/>
    <serial type='unix'><source mode='bind' path='{toy.serial}'/></serial>"""),
        domain_xml("locked", f"<graphics type='vnc' socket='{locked.vnc}'/>"),
        domain_xml("idle", "", runstate=5),
    ]
    path = os.path.join(WORK, "host.xml")
    with open(path, "w") as out:
        out.write("<node>\n" + "\n".join(domains) + "\n</node>\n")
    return "test://" + path


def terminal_text(window):
    return find(window, None, "Serial console").description


def test(app, uri, toy, display):
    window = app.window(f"toy on {uri}")
    screen = find(window, "image", "Graphical console")
    # The guest's banner is on COM1 once it booted, so its screen is final.
    wait_for(lambda: BANNER.decode().strip() in (terminal_text_hidden(window) or ""),
             "the guest's banner on the serial console", timeout=30)
    time.sleep(1.0)
    screenshot("console-graphical")

    # A click grabs the keyboard; typed keys reach the guest, which echoes
    # them on COM1; Ctrl+Alt lets go.
    click(screen)
    wait_for(lambda: "Press Ctrl+Alt to release" in window.name, "the grab hint in the title")
    screenshot("console-grabbed")
    type_text("hangar")
    time.sleep(0.5)
    screenshot("console-typed")
    hold([37, 64])  # Control_L, Alt_L
    wait_for(lambda: "Press Ctrl+Alt" not in window.name, "the grab released")

    ours = os.path.join(WORK, "ours.png")
    theirs = os.path.join(WORK, "gvnccapture.png")
    save_screenshot(app, window, ours)
    subprocess.run(["gvnccapture", "-q", f"127.0.0.1:{display}", theirs], check=True, timeout=30)
    differing = compare_png(ours, theirs)
    print(f"screenshot vs gvnccapture: {differing} differing pixels")
    # The text cursor blinks between the two captures: a few pixels.
    assert differing <= 64, f"{differing} pixels differ from gvnccapture's capture"

    activate(find(window, "push button", "View"))
    activate(menu_item(app, "Serial Console"))
    terminal = find(window, None, "Serial console")
    wait_for(lambda: BANNER.decode().strip() in terminal.description, "the banner in the terminal")
    # The keys typed in the graphical console, as the guest echoed them.
    wait_for(lambda: "hangar" in terminal.description.split(BANNER.decode().strip())[-1],
             "the keys typed on the screen, echoed by the guest")
    type_text("echo from hangar\r")
    wait_for(lambda: "echo from hangar" in terminal.description, "the guest's echo in the terminal")
    screenshot("console-serial")
    activate(find(window, "push button", "View"))
    activate(menu_item(app, "Graphical Console"))
    find(window, "image", "Graphical console")

    # The password prompt.
    subprocess.run([os.environ["HANGAR_BIN"], "--show-domain-console", "locked"], timeout=20, check=True)
    locked = app.window(f"locked on {uri}")
    find(locked, "label", "The graphical console needs a password.")
    entry = find(locked, "password text", "Password")
    set_text(entry, "wrong")
    activate(find(locked, "push button", "Connect"))
    wait_for(lambda: [l for l in find_all(locked, "label") if l.name.startswith("Authentication failed")],
             "the authentication failure")
    screenshot("console-password")
    set_text(find(locked, "password text", "Password"), "s3cret")
    activate(find(locked, "push button", "Connect"))
    find(locked, "image", "Graphical console")

    # A shut-off domain, started from its console.
    subprocess.run([os.environ["HANGAR_BIN"], "--show-domain-console", "idle"], timeout=20, check=True)
    idle = app.window(f"idle on {uri}")
    find(idle, "label", "The virtual machine is not running.")
    screenshot("console-not-running")
    activate(find(idle, "push button", "Run"))
    find(idle, "label", "The virtual machine has no graphical display.")

    # The server goes away.
    toy.stop()
    wait_for(lambda: [l for l in find_all(window, "label")
                      if l.name.startswith("The graphical console was disconnected")],
             "the disconnected page")
    find(window, "push button", "Reconnect")
    screenshot("console-disconnected")


def terminal_text_hidden(window):
    """The serial terminal's text even while its page is not shown."""
    nodes = find_all(window, None, "Serial console", showing=False)
    return nodes[0].description if nodes else ""


def test_vietnamese(app, uri):
    window = app.window(f"toy trên {uri}")
    find(window, "image", "Màn hình đồ họa")
    find(window, "push button", "Gửi phím")
    screenshot("console-vi")
    subprocess.run([os.environ["HANGAR_BIN"], "--show-domain-console", "idle"], timeout=20, check=True)
    idle = app.window(f"idle trên {uri}")
    find(idle, "label", "Máy ảo không chạy.")
    screenshot("console-not-running-vi")


def main():
    display = free_vnc_display()
    toy = ToyGuest(WORK, "toy", vnc_tcp=display)
    locked = ToyGuest(WORK, "locked", password="s3cret")
    try:
        uri = host_file(toy, display, locked)
        run(lambda app: test(app, uri, toy, display), "--connect", uri, "--show-domain-console", "toy")
        toy.stop()
        toy = ToyGuest(WORK, "toy", vnc_tcp=display)
        run(lambda app: test_vietnamese(app, uri), "--connect", uri, "--show-domain-console", "toy",
            env={"LC_ALL": "C.UTF-8", "LANGUAGE": "vi"})
    finally:
        toy.stop()
        locked.stop()


main()

"""The VM window's graphical console against Hangar's own VNC server:
hangar-vmm in the nested KVM sandbox, running the `fb` guest
(tests/sandbox/l2-init.sh), whose VNC port the sandbox forwards to this
host. Run by the `vnc-gtk-console` host action of tests/e2e/vnc_console.rs
(through tests/ui/run.sh; its name keeps it out of run.sh's test_*.py), not
on its own: it needs

- HANGAR_OURS_VNC_PORT: the host port that reaches the guest's VNC server;
- HANGAR_OURS_TYPED: a shell command to type into the console (the
  scenario looks for its output on the guest's serial log);
- HANGAR_OURS_PNG: where to keep the console's screenshot (the host action
  checks the guest's pattern in it).

The console's screenshot (Screenshot button and file chooser) must match
gvnccapture's capture of the same server, a few pixels aside."""

import os
import subprocess
import tempfile
import time

from hangar_ui import (click, compare_png, domain_xml, find, hold, run, save_screenshot,
                       screenshot, type_text, wait_for)

WORK = tempfile.mkdtemp(prefix="hangar-console-ours-")


def host_file(port):
    path = os.path.join(WORK, "host.xml")
    with open(path, "w") as out:
        out.write("<node>\n" + domain_xml(
            "fb1", f"<graphics type='vnc' port='{port}' listen='127.0.0.1'/>") + "\n</node>\n")
    return "test://" + path


def test(app, uri, port, typed, ours):
    window = app.window(f"fb1 on {uri}", timeout=60)
    screen = find(window, "image", "Graphical console", timeout=60)
    # The first full frame crosses the sandbox's user-mode network.
    time.sleep(3.0)
    screenshot("console-ours")

    click(screen)
    wait_for(lambda: "Press Ctrl+Alt to release" in window.name, "the grab hint in the title")
    type_text(typed + "\r")
    hold([37, 64])  # Control_L, Alt_L
    wait_for(lambda: "Press Ctrl+Alt" not in window.name, "the grab released")
    # The guest echoes the typed line on its screen (tty1): let it settle.
    time.sleep(5.0)
    screenshot("console-ours-typed")

    save_screenshot(app, window, ours)
    theirs = os.path.join(WORK, "gvnccapture.png")
    subprocess.run(["gvnccapture", "-q", f"127.0.0.1:{port - 5900}", theirs], check=True,
                   timeout=60)
    differing = compare_png(ours, theirs)
    print(f"screenshot vs gvnccapture: {differing} differing pixels")
    assert differing <= 64, f"{differing} pixels differ from gvnccapture's capture"


def main():
    port = int(os.environ["HANGAR_OURS_VNC_PORT"])
    typed = os.environ["HANGAR_OURS_TYPED"]
    ours = os.environ["HANGAR_OURS_PNG"]
    uri = host_file(port)
    run(lambda app: test(app, uri, port, typed, ours), "--connect", uri,
        "--show-domain-console", "fb1")


main()

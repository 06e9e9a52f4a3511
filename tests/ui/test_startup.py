"""The app starts, its manager window appears, and later invocations reach
the running instance instead of starting another one: --show-host-summary
opens the connection details, --show-domain-editor NAME the domain's window
(with its overview), --show-domain-console NAME its console page."""

import os
import subprocess

from hangar_ui import find, run, screenshot

URI = "test:///default"


def second(*args):
    done = subprocess.run([os.environ["HANGAR_BIN"], *args], timeout=20)
    assert done.returncode == 0, f"hangar {' '.join(args)} exited {done.returncode}"


def test(app):
    window = app.window("Virtual Machine Manager")
    find(window, "list item", "test")
    screenshot("startup")
    second("--show-domain-editor", "test")
    domain = app.window(f"test on {URI}")
    find(domain, "label", "Running")
    screenshot("domain-window")
    second("--show-domain-console", "test")
    find(domain, "label", "The virtual machine has no graphical display.")
    second("--show-host-summary")
    app.window(f"{URI} – Connection Details")
    assert app.proc.poll() is None, "the first instance died"


run(test, "--connect", URI)

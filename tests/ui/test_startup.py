"""The app starts, its manager window appears, and later invocations reach
the running instance instead of starting another one: --show-host-summary
opens the connection details, --show-domain-editor NAME the domain's window
(with its overview), --show-domain-console NAME its console page; New
defines a virtual machine."""

import os
import subprocess

from hangar_ui import activate, find, run, screenshot, set_text

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

    # New: defines a VM with a new disk in default-pool.
    activate(find(window, "push button", "New"))
    dialog = app.window("New Virtual Machine")
    set_text(find(dialog, "text", "Name"), "made-by-test")
    screenshot("new-vm-dialog")
    activate(find(dialog, "push button", "Create"))
    row = find(window, "list item", "made-by-test")
    assert row.description == "Shutoff", row.description


run(test, "--connect", URI)

"""The app starts, its manager window appears, and a second invocation
reaches the running instance instead of starting another one."""

import os
import subprocess

from hangar_ui import run, screenshot


def test(app):
    app.window("Virtual Machine Manager")
    screenshot("startup")
    second = subprocess.run([os.environ["HANGAR_BIN"], "--show-host-summary"], timeout=20)
    assert second.returncode == 0, f"second invocation exited {second.returncode}"
    assert app.proc.poll() is None, "the first instance died"


run(test, "--connect", "test:///default")

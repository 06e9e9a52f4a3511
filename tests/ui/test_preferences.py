"""Preferences (Ctrl+,) are GSettings: turning XML editing on makes the
network XML tab of Connection Details editable, with an Apply button."""

import os
import subprocess
import time

from hangar_ui import activate, find, find_all, press_key, run, screenshot, select, test_uri, wait_for


def test(app):
    uri = test_uri()
    window = app.window("Virtual Machine Manager")
    find(window, "list item", "test")
    time.sleep(0.5)
    press_key("comma", control=True)
    preferences = app.window("Preferences")
    check = find(preferences, "check box", "Enable XML editing")
    activate(check)
    wait_for(lambda: check.getState().contains(__import__("pyatspi").STATE_CHECKED), "XML editing on")
    screenshot("preferences")
    subprocess.run([os.environ["HANGAR_BIN"], "--show-host-summary"], timeout=20, check=True)
    details = app.window(f"{uri} – Connection Details")

    def find_tab(name):
        for page in find_all(details, "page tab"):
            if any(label.name == name for label in find_all(page, "label")):
                return page
        return None

    select(wait_for(lambda: find_tab("Virtual Networks"), "the Virtual Networks tab"))
    select(wait_for(lambda: find_tab("XML"), "the XML tab"))
    find(details, "push button", "Apply XML")
    screenshot("details-xml-editable")


run(test, "--connect", test_uri())

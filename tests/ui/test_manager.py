"""The manager window lists the 14 domains of virt-manager's testdriver.xml
with their states; Run, Pause, Resume and Force Off change a domain's state;
Delete removes a domain."""

from hangar_ui import grab_focus, press_key, activate, find, find_all, absent, run, screenshot, test_uri, wait_for, select

# Every domain of the file, and the states its <test:runstate> and
# managed-save elements give the ones whose state is set explicitly.
DOMAINS = [
    "test", "test-arm-kernel", "test-many-devices", "test-alternate-devs",
    "test-clone-simple", "test-clone", "test-clone-full", "test-state-shutoff",
    "test-state-paused", "test-state-crashed", "test-state-pmsuspended",
    "test-state-transient", "test-state-managedsave", "test-snapshots",
]
EXPECTED = {
    "test": "Running",
    "test-state-shutoff": "Shutoff",
    "test-state-paused": "Paused",
    "test-state-crashed": "Crashed",
    "test-state-pmsuspended": "Suspended",
    "test-state-transient": "Running",
    "test-state-managedsave": "Shutoff",
}
KNOWN_STATES = {"Running", "Idle", "Paused", "Shutting Down", "Shutoff", "Crashed", "Suspended"}


def domain_rows(window):
    rows = {}
    for node in find_all(window, role="list item", showing=False):
        try:
            rows[node.name] = node
        except Exception:
            continue
    return rows


def state_of(window, name):
    row = domain_rows(window).get(name)
    return row.description if row is not None else None


def wait_state(window, name, state):
    wait_for(lambda: state_of(window, name) == state, f"{name} to be {state} (is {state_of(window, name)})")


def test(app):
    window = app.window("Virtual Machine Manager")
    wait_for(lambda: all(n in domain_rows(window) for n in DOMAINS), "the 14 domains")
    rows = domain_rows(window)
    states = {name: rows[name].description for name in DOMAINS}
    print("states:", states)
    assert all(state in KNOWN_STATES for state in states.values()), states
    wrong = {n: (states[n], s) for n, s in EXPECTED.items() if states[n] != s}
    assert not wrong, f"unexpected states (got, wanted): {wrong}"
    screenshot("manager")

    row = domain_rows(window)["test-state-shutoff"]
    select(row)
    activate(find(window, "push button", "Run"))
    wait_state(window, "test-state-shutoff", "Running")
    activate(find(window, "push button", "Pause"))
    wait_state(window, "test-state-shutoff", "Paused")
    activate(find(window, "push button", "Resume"))
    wait_state(window, "test-state-shutoff", "Running")
    screenshot("manager-running")

    menu_buttons = find_all(window, "push button", "Shut Down Menu")
    activate(menu_buttons[-1])
    activate(find(app.node, "menu item", "Force Off"))
    dialog = app.window("Force off “test-state-shutoff”?")
    screenshot("confirm-force-off")
    activate(find(dialog, "push button", "Force Off"))
    wait_state(window, "test-state-shutoff", "Shutoff")

    select(domain_rows(window)["test-clone-simple"])
    # Menu bar items offer no accessible action in GTK 4.8: the Delete
    # shortcut of Edit > Delete does the same.
    press_key("Delete")
    dialog = app.window("Delete “test-clone-simple”")
    screenshot("delete-dialog")
    activate(find(dialog, "push button", "Delete"))
    wait_for(lambda: "test-clone-simple" not in domain_rows(window), "test-clone-simple to go away")
    assert len([n for n in domain_rows(window) if n in DOMAINS]) == 13


run(test, "--connect", test_uri())

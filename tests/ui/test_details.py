"""Connection Details: the overview, a NAT network made with the
create-network assistant (it appears in the list and its XML has the
chosen range), and a qcow2 volume made in a pool (it appears with its
size). Screenshots of each tab and each assistant page."""

import re

from hangar_ui import (activate, find, find_all, run, screenshot, select, set_text,
                       test_uri, text_of, wait_for)


def tab(window, name):
    """Brings the notebook page whose tab reads `name` to the front (GTK 4.8
    names every tab "Tab"; its label child carries the title)."""
    def find_tab():
        for page in find_all(window, "page tab"):
            if any(label.name == name for label in find_all(page, "label")):
                return page
        return None
    select(wait_for(find_tab, f"the {name!r} tab"))


def list_items(root, list_name):
    found = find(root, "list", list_name)
    return {item.name: item for item in find_all(found, "list item", showing=False)}


def field(root, role, name):
    """The editable text inside a labelled entry or spin button."""
    node = find(root, role, name)
    for child in find_all(node, showing=False):
        try:
            child.queryEditableText()
            return child
        except NotImplementedError:
            continue
    return node


def test(app):
    uri = test_uri()
    window = app.window(f"{uri} – Connection Details")
    find(window, "label", uri)
    wait_for(lambda: [l for l in find_all(window, "label") if l.name.startswith("Test ")],
             "the hypervisor's name and version")
    screenshot("details-overview")

    tab(window, "Virtual Networks")
    wait_for(lambda: "default" in list_items(window, "Virtual Networks"), "the network list")
    screenshot("details-networks")

    activate(find(window, "push button", "Add Network"))
    assistant = app.window("Create a new virtual network")
    set_text(field(assistant, "text", "Network name"), "hangar-nat")
    screenshot("assistant-1-details")
    activate(find(assistant, "push button", "Forward"))
    set_text(field(assistant, "text", "IPv4 network"), "192.168.150.0/24")
    set_text(field(assistant, "text", "DHCPv4 start"), "192.168.150.10")
    set_text(field(assistant, "text", "DHCPv4 end"), "192.168.150.100")
    screenshot("assistant-2-ipv4")
    activate(find(assistant, "push button", "Forward"))
    screenshot("assistant-3-ipv6")
    activate(find(assistant, "push button", "Finish"))

    networks = wait_for(lambda: list_items(window, "Virtual Networks").get("hangar-nat"), "hangar-nat in the list")
    select(networks)
    find(window, "label", "192.168.150.0/24")
    find(window, "label", "192.168.150.10 – 192.168.150.100")
    screenshot("details-network-created")
    tab(window, "XML")
    xml_view = find(window, "text", "Network XML")
    xml = wait_for(lambda: (lambda t: t if "hangar-nat" in t else None)(text_of(xml_view)), "the network XML")
    print(xml)
    assert re.search(r"<forward mode=['\"]nat['\"]", xml), xml
    assert re.search(r"<range start=['\"]192\.168\.150\.10['\"] end=['\"]192\.168\.150\.100['\"]", xml), xml
    screenshot("details-network-xml")

    tab(window, "Storage")
    pool = wait_for(lambda: list_items(window, "Storage Pools").get("pool-dir"), "pool-dir in the list")
    select(pool)
    screenshot("details-storage")
    activate(find(window, "push button", "Add Volume"))
    dialog = app.window("Add a Storage Volume")
    set_text(field(dialog, "text", "Name"), "hangar-disk")
    set_text(field(dialog, "spin button", "Capacity (GiB)"), "3")
    screenshot("volume-dialog")
    activate(find(dialog, "push button", "Finish"))
    volume = wait_for(lambda: list_items(window, "Volumes").get("hangar-disk.qcow2"), "the new volume in the list")
    assert volume.description == "3.0 GiB qcow2", volume.description
    screenshot("details-volume-created")


run(test, "--connect", test_uri(), "--show-host-summary")

"""Helpers for Hangar's UI tests: start the app, find widgets through
AT-SPI (pyatspi) by role and accessible name, act on them, wait for the
app to react and take screenshots.

Run through tests/ui/run.sh, which provides Xvfb, the accessibility bus,
the schema and these environment variables: HANGAR_BIN,
HANGAR_TESTDRIVER, HANGAR_SCREENSHOTS.
"""

import os
import subprocess
import sys
import time

import pyatspi

TIMEOUT = 20.0


class UiTestFailure(AssertionError):
    """A UI expectation that did not hold."""


def test_uri():
    """The test-driver URI of virt-manager's testdriver.xml."""
    return "test://" + os.path.abspath(os.environ["HANGAR_TESTDRIVER"])


class App:
    """A running hangar process and its AT-SPI application node."""

    def __init__(self, *args, env=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen([os.environ["HANGAR_BIN"], *args], env=full_env)
        self.node = wait_for(self._find_app, "the hangar application on the accessibility bus")

    def _find_app(self):
        if self.proc.poll() is not None:
            raise UiTestFailure(f"hangar exited with status {self.proc.returncode}")
        desktop = pyatspi.Registry.getDesktop(0)
        for index in range(desktop.childCount):
            app = desktop.getChildAtIndex(index)
            try:
                if app is not None and app.name == "hangar" and app.get_process_id() == self.proc.pid:
                    return app
            except Exception:
                continue
        return None

    def window(self, name, timeout=TIMEOUT):
        """The top-level window (or dialog) called `name`."""
        def find():
            for index in range(self.node.childCount):
                child = self.node.getChildAtIndex(index)
                if child is not None and child.name == name and child.getState().contains(pyatspi.STATE_VISIBLE):
                    return child
            return None
        return wait_for(find, f"window {name!r}", timeout)

    def quit(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_for(predicate, what, timeout=TIMEOUT):
    """Polls `predicate` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except UiTestFailure:
            raise
        except Exception as err:  # the tree changes under us; retry
            last_error = err
        time.sleep(0.1)
    raise UiTestFailure(f"timed out waiting for {what}" + (f" ({last_error})" if last_error else ""))


def role_name(node):
    try:
        return node.getRoleName()
    except Exception:
        return ""


def walk(node, depth=0, max_depth=60):
    """Every descendant of `node`, depth first, showing ones only."""
    if node is None or depth > max_depth:
        return
    yield node
    try:
        count = node.childCount
    except Exception:
        return
    for index in range(count):
        try:
            child = node.getChildAtIndex(index)
        except Exception:
            continue
        yield from walk(child, depth + 1, max_depth)


def find_all(root, role=None, name=None, showing=True):
    found = []
    for node in walk(root):
        try:
            if role is not None and role_name(node) != role:
                continue
            if name is not None and node.name != name:
                continue
            # GTK 4.8 reports "visible" but never "showing" for widgets.
            if showing and not node.getState().contains(pyatspi.STATE_VISIBLE):
                continue
        except Exception:
            continue
        found.append(node)
    return found


def find(root, role=None, name=None, timeout=TIMEOUT, showing=True):
    """The first showing descendant with that role and accessible name."""
    return wait_for(lambda: (find_all(root, role, name, showing) or [None])[0],
                    f"{role or 'widget'} {name!r}", timeout)


def absent(root, role=None, name=None, timeout=TIMEOUT):
    wait_for(lambda: not find_all(root, role, name), f"{role or 'widget'} {name!r} to go away", timeout)


def activate(node):
    """Clicks a button, toggles a check box or opens a menu item, once it
    is sensitive."""
    wait_for(lambda: node.getState().contains(pyatspi.STATE_SENSITIVE),
             f"{role_name(node)} {node.name!r} to be sensitive")
    try:
        action = node.queryAction()
    except NotImplementedError:
        click(node)
        return
    for index in range(action.nActions):
        if action.getName(index) in ("click", "activate", "press", "toggle", "select"):
            action.doAction(index)
            return
    if action.nActions:
        action.doAction(0)
        return
    click(node)


def click(node):
    """Clicks the middle of `node` with the (synthesized) mouse; for widgets
    GTK 4.8 gives no accessible action, such as check boxes."""
    extents = node.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
    if extents.width <= 0 or extents.height <= 0:
        raise UiTestFailure(f"{role_name(node)} {node.name!r} has no action and no size")
    x = extents.x + extents.width // 2
    y = extents.y + extents.height // 2
    pyatspi.Registry.generateMouseEvent(x, y, "b1c")


def press_key(keysym_name, control=False):
    """Sends a key press and release (X keysym name, e.g. "Delete"), with
    Control held if asked, to the window under the pointer through the
    accessibility registry."""
    import gi
    gi.require_version("Gdk", "3.0")
    from gi.repository import Gdk
    keyval = Gdk.keyval_from_name(keysym_name)
    control_mask = int(Gdk.ModifierType.CONTROL_MASK)
    if control:
        pyatspi.Registry.generateKeyboardEvent(control_mask, None, pyatspi.KEY_LOCKMODIFIERS)
    pyatspi.Registry.generateKeyboardEvent(keyval, None, pyatspi.KEY_SYM)
    if control:
        pyatspi.Registry.generateKeyboardEvent(control_mask, None, pyatspi.KEY_UNLOCKMODIFIERS)


def grab_focus(node):
    """Moves keyboard focus to `node`."""
    node.queryComponent().grabFocus()


def select(node):
    """Selects a list row through the Selection interface of its list."""
    parent = node.parent
    parent.querySelection().selectChild(node.getIndexInParent())


def set_text(node, text):
    editable = node.queryEditableText()
    editable.setTextContents(text)


def text_of(node):
    text = node.queryText()
    return text.getText(0, text.characterCount)


def screenshot(name):
    """Saves the whole X screen as target/ui-screenshots/NAME.png."""
    time.sleep(0.6)  # let GTK finish drawing the last change
    path = os.path.join(os.environ["HANGAR_SCREENSHOTS"], name + ".png")
    subprocess.run(["import", "-window", "root", path], check=True)
    print(f"screenshot: {path}")
    return path


def dump(node, depth=0, limit=400):
    """Prints the accessible tree under `node` (for failure reports)."""
    lines = []
    for child in walk(node):
        if len(lines) >= limit:
            break
        try:
            lines.append(f"{role_name(child)} {child.name!r} {child.description!r}")
        except Exception:
            continue
    print("\n".join(lines), file=sys.stderr)


def run(test, *args, env=None):
    """Starts the app with `args`, runs `test(app)`; on failure saves a
    screenshot named after the test file and prints the window tree."""
    app = App(*args, env=env)
    try:
        test(app)
    except Exception as err:
        print(f"FAIL: {err}", file=sys.stderr)
        name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
        try:
            screenshot(f"failure-{name}")
            dump(app.node, limit=150)
        except Exception:
            pass
        raise
    finally:
        app.quit()
    print("PASS")


# Consoles (test_console.py against QEMU, test_console_ours.py against
# hangar-vmm in the sandbox).

def domain_xml(name, devices, runstate=None):
    """A test-driver domain (for a host file of test:// URIs) with these
    <devices> children; `runstate` is the test driver's state number
    (5: shut off), running by default."""
    state = f"<test:runstate>{runstate}</test:runstate>" if runstate else ""
    return f"""<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  {state}
  <name>{name}</name>
  <memory>16384</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>{devices}</devices>
</domain>"""


def key(keysym_name):
    """Types one key (X keysym name) into the focused window."""
    import gi
    gi.require_version("Gdk", "3.0")
    from gi.repository import Gdk
    pyatspi.Registry.generateKeyboardEvent(Gdk.keyval_from_name(keysym_name), None,
                                           pyatspi.KEY_SYM)


def hold(keycodes):
    """Presses the X hardware keycodes together, then lets them go."""
    for code in keycodes:
        pyatspi.Registry.generateKeyboardEvent(code, None, pyatspi.KEY_PRESS)
    for code in reversed(keycodes):
        pyatspi.Registry.generateKeyboardEvent(code, None, pyatspi.KEY_RELEASE)


def type_text(text):
    """Types `text` key by key (space and \\r as their keys)."""
    for char in text:
        key({" ": "space", "\r": "Return"}.get(char, char))
        time.sleep(0.05)


def menu_item(app, name):
    """A showing menu item of any popover of the app."""
    return wait_for(lambda: next(iter(find_all(app.node, "menu item", name)), None)
                    or next(iter(find_all(app.node, "check menu item", name)), None)
                    or next(iter(find_all(app.node, "radio menu item", name)), None),
                    f"menu item {name!r}")


def compare_png(ours, theirs):
    """The number of differing pixels (ImageMagick's absolute error)."""
    done = subprocess.run(["compare", "-metric", "AE", ours, theirs, "null:"],
                          capture_output=True, text=True)
    return int(float(done.stderr.split()[0]))


def save_screenshot(app, window, path):
    """Saves the console's screen to `path` through the window's Screenshot
    button and its file chooser."""
    activate(find(window, "push button", "Screenshot"))
    chooser = app.window("Save Screenshot")
    name = wait_for(lambda: next((n for n in find_all(chooser, "text") if n.queryEditableText()), None),
                    "the file name entry")
    set_text(name, path)
    activate(find(chooser, "push button", "Save"))
    wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 0, f"{path} written")

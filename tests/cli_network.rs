//! Replays the seed's virsh session on the 192.168.10.0 NAT network
//! (`../shared/seeds/003_*.txt`) against the real `hangarctl` binary and
//! checks every line in virsh 9.0's layout.

mod cli_common;

use cli_common::{assert_lines, xml_attr, Sandbox, SEED_NETWORK};

/// The seed's commands in one interactive session on `test:///default`
/// (in memory, so the whole session runs in one process, through the shell).
#[test]
fn seed_network_session_on_the_test_driver() {
    let sb = Sandbox::new("net-test");
    sb.write("192.168.10.0.xml", SEED_NETWORK);
    let editor = sb.script(
        "edit-range.sh",
        "sed -i 's/192.168.10.254/192.168.10.200/' \"$1\"",
    );
    let input = "net-list --all
net-define 192.168.10.0.xml
net-list --all
net-start 192.168.10.0
net-autostart 192.168.10.0
net-list --all
net-info 192.168.10.0
net-dumpxml 192.168.10.0
net-edit 192.168.10.0
net-dumpxml 192.168.10.0 --inactive
net-destroy 192.168.10.0
net-start 192.168.10.0
net-destroy 192.168.10.0
net-undefine 192.168.10.0
net-list --all
net-info 192.168.10.0
";
    let run = sb.shell(&["-c", "test:///default"], input, &[("EDITOR", &editor)]);
    let uuid = run.field("UUID:");
    let mac = xml_attr(&run.stdout, "mac", "address");
    // The running network shows libvirt's NAT port range, as in the seed.
    let xml = |end: &str, live: bool| {
        let forward = if live {
            "<forward mode='nat'>\n    <nat>\n      <port start='1024' end='65535'/>\n    </nat>\n  </forward>"
        } else {
            "<forward mode='nat'/>"
        };
        format!(
            "<network>
  <name>192.168.10.0</name>
  <uuid>{uuid}</uuid>
  {forward}
  <bridge name='bridge1' stp='on' delay='0'/>
  <mac address='{mac}'/>
  <domain name='8.8.8.8'/>
  <ip address='192.168.10.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.10.2' end='{end}'/>
    </dhcp>
  </ip>
</network>
"
        )
    };
    let expected = format!(
        " Name      State    Autostart   Persistent
--------------------------------------------
 default   active   no          yes

Network 192.168.10.0 defined from 192.168.10.0.xml

 Name           State      Autostart   Persistent
---------------------------------------------------
 192.168.10.0   inactive   no          yes
 default        active     no          yes

Network 192.168.10.0 started

Network 192.168.10.0 marked as autostarted

 Name           State    Autostart   Persistent
-------------------------------------------------
 192.168.10.0   active   yes         yes
 default        active   no          yes

Name:           192.168.10.0
UUID:           {uuid}
Active:         yes
Persistent:     yes
Autostart:      yes
Bridge:         bridge1

{}
Network 192.168.10.0 XML configuration edited.

{}
Network 192.168.10.0 destroyed

Network 192.168.10.0 started

Network 192.168.10.0 destroyed

Network 192.168.10.0 has been undefined

 Name      State    Autostart   Persistent
--------------------------------------------
 default   active   no          yes


",
        xml("192.168.10.254", true),
        xml("192.168.10.200", false)
    );
    assert_lines(&run.stdout, &expected);
    // The session's status is the last command's: net-info of the undefined network.
    run.fails(
        "error: failed to get network '192.168.10.0'
error: Network not found: no network with matching name '192.168.10.0'
",
    );
}

/// An edit the backend refuses keeps the old definition; without a terminal
/// there is nobody to ask `Try again?`, so the command fails.
#[test]
fn refused_edit_keeps_the_old_definition() {
    let sb = Sandbox::new("net-bad-edit");
    let breaker = sb.script("break.sh", "printf '<network><name>default' > \"$1\"");
    let input =
        "net-dumpxml default --inactive\nnet-edit default\nnet-dumpxml default --inactive\n";
    let run = sb.shell(&["-c", "test:///default"], input, &[("EDITOR", &breaker)]);
    assert_eq!(run.code, 0, "the last command succeeds: {run:?}");
    let errors: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(errors.first(), Some(&"error: Failed."), "{}", run.stderr);
    assert!(
        errors.len() == 2 && errors[1].starts_with("error: XML error: "),
        "{}",
        run.stderr
    );
    let (before, after) = run
        .stdout
        .split_once("</network>\n\n\n")
        .expect("two dumps");
    assert_lines(after, &format!("{before}</network>\n\n"));
}

/// On a terminal a refused edit asks virsh's `Failed. Try again?`; `y` opens
/// the editor again, and the second, valid edit is defined.
#[test]
fn refused_edit_on_a_terminal_offers_to_edit_again() {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let sb = Sandbox::new("net-tty-edit");
    // First run: write a broken document; second run: restore it with a new DHCP range.
    let editor = sb.script(
        "two-step.sh",
        &format!(
            "if [ -e '{0}/broke' ]; then\n  cp '{0}/good.xml' \"$1\"\n  sed -i 's/192.168.122.254/192.168.122.200/' \"$1\"\nelse\n  cp \"$1\" '{0}/good.xml'\n  touch '{0}/broke'\n  printf '<network><name>default' > \"$1\"\nfi",
            sb.work().display()
        ),
    );
    let shell = format!("{} -c test:///default", cli_common::HANGARCTL);
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &shell, "/dev/null"])
        .current_dir(sb.work())
        .env("EDITOR", &editor)
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start script(1)");
    let seen = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().expect("pty output");
    let reader = {
        let seen = Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = seen.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        })
    };
    let wait_for = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = seen.lock().map(|s| s.clone()).unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            assert!(Instant::now() < deadline, "no {needle:?} in:\n{text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let mut stdin = child.stdin.take().expect("pty input");
    wait_for("hangarctl # ");
    stdin.write_all(b"net-edit default\n").expect("type");
    let text = wait_for("Failed. Try again? [y,n,f,?]: ");
    assert!(text.contains("error: XML error: "), "{text}");
    stdin.write_all(b"y").expect("answer");
    wait_for("Network default XML configuration edited.");
    stdin
        .write_all(b"net-dumpxml default --inactive\n")
        .expect("type");
    let text = wait_for("192.168.122.200");
    assert!(text.contains("end='192.168.122.200'"), "{text}");
    stdin.write_all(b"quit\n").expect("type");
    drop(stdin);
    let status = child.wait().expect("wait for script(1)");
    let _ = reader.join();
    assert!(status.success(), "{status}");
}

/// The same definition commands, one `hangarctl` process each, on the
/// per-user `hangar:///session` driver: the definition persists between runs.
#[test]
fn seed_network_definition_on_the_session_driver() {
    let sb = Sandbox::new("net-session");
    sb.write("192.168.10.0.xml", SEED_NETWORK);
    let before = sb.run(&["net-list", "--all", "--name"]);
    assert_eq!(before.code, 0, "{}", before.stderr);
    let others: Vec<String> = before
        .stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    assert!(!others.iter().any(|n| n == "192.168.10.0"));

    sb.run(&["net-define", "192.168.10.0.xml"])
        .ok("Network 192.168.10.0 defined from 192.168.10.0.xml\n\n");
    let listed = sb.run(&["net-list", "--inactive"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(
        listed
            .stdout
            .contains("\n 192.168.10.0   inactive   no          yes\n"),
        "{}",
        listed.stdout
    );

    sb.run(&["net-autostart", "192.168.10.0"])
        .ok("Network 192.168.10.0 marked as autostarted\n\n");
    let info = sb.run(&["net-info", "192.168.10.0"]);
    let uuid = info.field("UUID:");
    info.ok(&format!(
        "Name:           192.168.10.0
UUID:           {uuid}
Active:         no
Persistent:     yes
Autostart:      yes
Bridge:         bridge1

"
    ));
    // By UUID too, as virsh accepts.
    let by_uuid = sb.run(&["net-info", "--network", &uuid]);
    assert_eq!(by_uuid.field("Name:"), "192.168.10.0");

    let dump = sb.run(&["net-dumpxml", "192.168.10.0"]);
    assert_eq!(dump.code, 0, "{}", dump.stderr);
    for line in [
        "<network>",
        "  <name>192.168.10.0</name>",
        &format!("  <uuid>{uuid}</uuid>"),
        "  <bridge name='bridge1' stp='on' delay='0'/>",
        "  <domain name='8.8.8.8'/>",
        "  <ip address='192.168.10.1' netmask='255.255.255.0'>",
        "      <range start='192.168.10.2' end='192.168.10.254'/>",
        "</network>",
    ] {
        assert!(
            dump.stdout.lines().any(|l| l == line),
            "missing {line:?} in:\n{}",
            dump.stdout
        );
    }
    assert!(dump.stdout.ends_with("</network>\n\n"));

    // net-edit with an $EDITOR that changes the DHCP range, then one that changes nothing.
    let editor = sb.script(
        "edit-range.sh",
        "sed -i 's/192.168.10.254/192.168.10.200/' \"$1\"",
    );
    sb.run_env(&["net-edit", "192.168.10.0"], &[("EDITOR", &editor)])
        .ok("Network 192.168.10.0 XML configuration edited.\n\n");
    let edited = sb.run(&["net-dumpxml", "192.168.10.0", "--inactive"]);
    assert!(edited
        .stdout
        .contains("<range start='192.168.10.2' end='192.168.10.200'/>"));
    assert!(edited.stdout.contains(&format!("<uuid>{uuid}</uuid>")));
    let unchanged = sb.script("unchanged.sh", "true");
    sb.run_env(&["net-edit", "192.168.10.0"], &[("VISUAL", &unchanged)])
        .ok("Network 192.168.10.0 XML configuration not changed.\n\n");

    sb.run(&["net-autostart", "--disable", "192.168.10.0"])
        .ok("Network 192.168.10.0 unmarked as autostarted\n\n");
    sb.run(&["net-undefine", "192.168.10.0"])
        .ok("Network 192.168.10.0 has been undefined\n\n");
    let after = sb.run(&["net-list", "--all", "--name"]);
    assert_lines(&after.stdout, &before.stdout);
    sb.run(&["net-info", "192.168.10.0"]).fails(
        "error: failed to get network '192.168.10.0'
error: Network not found: no network with matching name '192.168.10.0'
",
    );
}

/// `net-update` of DHCP hosts and `net-dhcp-leases` (issue 8's lifecycle) on `test:///default`.
#[test]
fn net_update_and_dhcp_leases_on_the_test_driver() {
    let sb = Sandbox::new("net-update");
    let host = "<host mac='52:54:00:00:00:01' name='vm1' ip='192.168.122.10'/>";
    sb.write("host.xml", host);
    let input = format!(
        "net-dhcp-leases default
net-update default add ip-dhcp-host host.xml --live --config
net-dhcp-leases default --mac 52:54:00:00:00:01
net-update default delete ip-dhcp-host \"{host}\"
net-dumpxml default
net-update default frob ip-dhcp-host host.xml
"
    );
    let utc = std::path::Path::new("UTC");
    let run = sb.shell(&["-c", "test:///default"], &input, &[("TZ", utc)]);
    let dump_start = run.stdout.find("<network").unwrap_or(0);
    let (before, dump) = run.stdout.split_at(dump_start);
    assert_lines(
        before,
        " Expiry Time   MAC address   Protocol   IP address   Hostname   Client ID or DUID
-----------------------------------------------------------------------------------

Updated network default persistent config and live state
 Expiry Time           MAC address         Protocol   IP address          Hostname   Client ID or DUID
--------------------------------------------------------------------------------------------------------
 1970-01-01 00:00:00   52:54:00:00:00:01   ipv4       192.168.122.10/24   vm1        -

Updated network default live state
",
    );
    assert!(!dump.contains("52:54:00:00:00:01"), "{dump}");
    run.fails("error: unrecognized command name 'frob'\n");
}

//! `hangar-net-helper`: makes and removes a rootless network's parts from
//! inside the user's own user and network namespace, where `hangar:///session`
//! enters it with `nsenter` (a threaded program cannot join a user namespace
//! itself). Network XML comes on standard input; errors go to standard error.
//!
//! ```text
//! hangar-net-helper up                 loopback up in a new namespace
//! hangar-net-helper start DIR          start the network on stdin, print its state
//! hangar-net-helper stop DIR NAME      stop a network
//! hangar-net-helper update DIR         apply the changed running network on stdin
//! hangar-net-helper adopt DIR NAME     restart a running network's dnsmasq if it died
//! hangar-net-helper tap BRIDGE [MAC]   make a persistent VM tap on BRIDGE, print its name
//! hangar-net-helper untap NAME...      remove VM taps
//! ```

use std::io::Read as _;

use anyhow::{bail, Context as _, Result};
use hangar_core::network::runtime::netlink::{link_index, Rtnl};
use hangar_core::network::runtime::NetworkRuntime;
use hangar_core::xml::Network;

fn network_from_stdin() -> Result<Network> {
    let mut xml = String::new();
    std::io::stdin()
        .read_to_string(&mut xml)
        .context("cannot read the network XML")?;
    Ok(Network::parse(&xml)?)
}

/// Inside the user namespace only root exists; dnsmasq must not switch users.
fn runtime(dir: &str) -> NetworkRuntime {
    NetworkRuntime::new(dir).with_dnsmasq_user("root")
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The caller shows this line as the reason the operation failed.
            eprintln!("{e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["up"] => {
            let lo = link_index("lo").context("no loopback device")?;
            Rtnl::open()?.set_up(lo, true)?;
        }
        ["start", dir] => {
            let state = runtime(dir).start(&network_from_stdin()?)?;
            println!("{}", serde_json::to_string(&state)?);
        }
        ["stop", dir, name] => runtime(dir).stop(name)?,
        ["update", dir] => runtime(dir).update_live(&network_from_stdin()?)?,
        ["adopt", dir, name] => runtime(dir).adopt(name)?,
        ["tap", bridge, mac @ ..] if mac.len() <= 1 => {
            let guest_mac = match mac.first() {
                Some(m) => Some(hangar_core::xml::MacAddr::parse(m)?.0),
                None => None,
            };
            // Made inside the namespace, where this runtime has no session.
            println!(
                "{}",
                NetworkRuntime::new("/").plug_vm_tap(bridge, guest_mac)?
            );
        }
        ["untap", names @ ..] => hangar_core::network::runtime::remove_vm_taps(None, names)?,
        _ => bail!(
            "usage: hangar-net-helper up | start DIR | stop DIR NAME | update DIR | adopt DIR NAME \
             | tap BRIDGE [MAC] | untap NAME..."
        ),
    }
    Ok(())
}

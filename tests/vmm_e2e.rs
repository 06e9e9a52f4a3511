//! End-to-end tests of `hangar-vmm`, run in the nested KVM sandbox.

#[path = "sandbox/mod.rs"]
mod sandbox;

use sandbox::{Options, Sandbox, Scenario};
use std::path::Path;
use std::time::Duration;

#[test]
fn sandbox_has_kvm() {
    let sb = Sandbox::prepare(
        Path::new(env!("CARGO_BIN_EXE_hangar-vmm")),
        Options::default(),
    )
    .expect("sandbox");
    let report = sb
        .run(
            &[Scenario::new("kvm", "ls -l /dev/kvm && echo KVM-OK; nproc")],
            Duration::from_secs(60),
            Duration::from_secs(300),
        )
        .expect("run");
    println!("{}", report.raw);
    assert!(report.scenario("kvm").has("KVM-OK"));
}

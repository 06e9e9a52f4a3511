//! Build script: compiles the GResource bundle, the GSettings schema and the
//! translations so that a plain `cargo run` finds all of them.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let repo_root = manifest_dir
        .parent()
        .expect("ui/ lives inside the repository")
        .to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    let resources = repo_root.join("resources");
    glib_build_tools::compile_resources(
        &[&resources],
        resources
            .join("hangar.gresource.xml")
            .to_str()
            .expect("UTF-8 path"),
        "hangar.gresource",
    );

    compile_schemas(&repo_root.join("data"), &out_dir.join("schemas"));
    compile_translations(&repo_root.join("po"), &out_dir.join("locale"));

    println!(
        "cargo:rustc-env=HANGAR_BUILD_SCHEMA_DIR={}",
        out_dir.join("schemas").display()
    );
    println!(
        "cargo:rustc-env=HANGAR_BUILD_LOCALE_DIR={}",
        out_dir.join("locale").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        repo_root.join("data").display()
    );
    println!("cargo:rerun-if-changed={}", repo_root.join("po").display());
}

/// Compiles `data/*.gschema.xml` with `glib-compile-schemas --strict`.
fn compile_schemas(data_dir: &Path, target: &Path) {
    std::fs::create_dir_all(target).expect("create schema output dir");
    for entry in std::fs::read_dir(data_dir).expect("read data/") {
        let path = entry.expect("list data/").path();
        if path.to_string_lossy().ends_with(".gschema.xml") {
            std::fs::copy(&path, target.join(path.file_name().expect("file name")))
                .expect("copy schema");
        }
    }
    let status = Command::new("glib-compile-schemas")
        .arg("--strict")
        .arg(target)
        .status()
        .expect("run glib-compile-schemas (package libglib2.0-dev-bin)");
    assert!(status.success(), "glib-compile-schemas failed");
}

/// Compiles every `po/<lang>.po` into `<target>/<lang>/LC_MESSAGES/hangar.mo`.
fn compile_translations(po_dir: &Path, target: &Path) {
    let linguas = std::fs::read_to_string(po_dir.join("LINGUAS")).expect("read po/LINGUAS");
    for lang in linguas
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
    {
        let dir = target.join(lang).join("LC_MESSAGES");
        std::fs::create_dir_all(&dir).expect("create locale dir");
        let status = Command::new("msgfmt")
            .arg("--check")
            .arg("-o")
            .arg(dir.join("hangar.mo"))
            .arg(po_dir.join(format!("{lang}.po")))
            .status()
            .expect("run msgfmt (package gettext)");
        assert!(status.success(), "msgfmt failed for {lang}.po");
    }
}

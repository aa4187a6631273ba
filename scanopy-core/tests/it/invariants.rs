//! Architecture invariant: scanopy-core does no I/O, so it never depends on the crates that do
//! (sqlx, axum, bollard, pnet, hyper, reqwest) nor enables Tokio's networking or filesystem.

use std::process::Command;

#[test]
fn core_never_depends_on_io_crates() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "scanopy-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-f",
            "{p} {f}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    for line in tree.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        for banned in ["sqlx", "axum", "bollard", "pnet", "hyper", "reqwest", "mio"] {
            assert!(
                !(name == banned || name.starts_with(&format!("{banned}-"))),
                "scanopy-core depends on {name}: {line}"
            );
        }
        if name == "tokio" {
            for feature in ["net", "fs", "process"] {
                assert!(
                    !line.split([' ', ',']).any(|f| f == feature),
                    "scanopy-core enables tokio's {feature}: {line}"
                );
            }
        }
    }
}

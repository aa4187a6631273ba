//! The UI's pure modules (formatting, routes, the map's layout) under node's test runner:
//! `node --test scanopy-server/tests/ui`. Without node it says so and passes, unless
//! `SCANOPY_BROWSER=1` (CI) promised node.

use std::path::Path;
use std::process::Command;

#[test]
fn the_ui_modules_pass_their_node_tests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let out = match Command::new("node").arg("--test").arg(&dir).output() {
        Ok(o) => o,
        Err(e) => {
            assert!(
                !std::env::var("SCANOPY_BROWSER").is_ok_and(|v| v == "1"),
                "SCANOPY_BROWSER=1 but node cannot run: {e}"
            );
            eprintln!("SKIPPED the UI's node tests: node is missing ({e}); apt-get install nodejs");
            return;
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "node --test failed:\n{text}");
    assert!(text.contains("# fail 0"), "{text}");
    assert!(!text.contains("# pass 0"), "no test ran:\n{text}");
}

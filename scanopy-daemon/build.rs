//! Build script: the git commit for `--version`.

include!("../build/git_commit.rs");

fn main() {
    emit_git_commit();
}

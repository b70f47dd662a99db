//! The server embeds `www/` (with the wasm build in `www/pkg/`) at compile time with
//! `include_dir!`, which does not tell cargo which files it read: say so here, so that a change
//! to the UI rebuilds the binary that serves it.

fn main() {
    println!("cargo::rerun-if-changed=../www");
}

//! Embeds the fixture corpus (`tests/data`) for the wasm tests, which cannot read files: writes
//! `$OUT_DIR/fixtures.rs` with every fixture's expectation and input bytes (`include_bytes!`).
//! See `tests/data/README.md` for the layout.

use std::fmt::Write;
use std::path::{Path, PathBuf};

fn sorted(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
    paths.sort();
    paths
}

fn main() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data");
    println!("cargo::rerun-if-changed={}", data.display());
    let mut out =
        String::from("/// Every fixture: name, expectation JSON, input files.\npub static FIXTURES: &[Fixture] = &[\n");
    for format in ["ldif", "csv"] {
        for verdict in ["ok", "err"] {
            let dir = data.join(format).join(verdict);
            println!("cargo::rerun-if-changed={}", dir.display());
            let paths = sorted(&dir);
            for path in &paths {
                let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
                let Some(stem) = file_name.strip_suffix(".expect.json") else { continue };
                let folder = dir.join(stem);
                let inputs: Vec<PathBuf> = if folder.is_dir() {
                    sorted(&folder).into_iter().filter(|p| p.is_file()).collect()
                } else {
                    paths
                        .iter()
                        .filter(|p| {
                            let n = p.file_name().unwrap().to_string_lossy();
                            n.starts_with(&format!("{stem}.")) && !n.ends_with(".expect.json")
                        })
                        .cloned()
                        .collect()
                };
                write!(
                    out,
                    "    Fixture {{ name: \"{format}/{verdict}/{stem}\", expect: include_str!({path:?}), inputs: &["
                )
                .unwrap();
                for input in &inputs {
                    let name = input.file_name().unwrap().to_string_lossy();
                    write!(out, "({name:?}, include_bytes!({input:?})), ").unwrap();
                }
                out.push_str("] },\n");
            }
        }
    }
    out.push_str("];\n");
    std::fs::write(Path::new(&std::env::var("OUT_DIR").unwrap()).join("fixtures.rs"), out).unwrap();
}

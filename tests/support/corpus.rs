//! The fixture corpus (`tests/data/{ldif,csv}/{ok,err}/`): every expectation with the input
//! files it names, for each suite that runs the corpus (the CLI and the core, the HTTP API).

use std::path::{Path, PathBuf};

use serde_json::Value;

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data")
}

/// One fixture: its expectation file and the input files it names.
pub struct Fixture {
    /// `format/verdict/NNNN_name`.
    pub name: String,
    /// The `.expect.json`.
    pub expect: Value,
    /// The input files, sorted.
    pub inputs: Vec<PathBuf>,
}

pub fn fixtures() -> Vec<Fixture> {
    let mut found = Vec::new();
    for format in ["ldif", "csv"] {
        for verdict in ["ok", "err"] {
            let dir = data_dir().join(format).join(verdict);
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
            paths.sort();
            for path in &paths {
                let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
                let Some(stem) = file_name.strip_suffix(".expect.json") else { continue };
                let expect: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let folder = dir.join(stem);
                let inputs = if folder.is_dir() {
                    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
                        .unwrap()
                        .map(|e| e.unwrap().path())
                        .filter(|p| p.is_file())
                        .collect();
                    files.sort();
                    files
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
                assert!(!inputs.is_empty(), "{}: no input file beside the expectation", path.display());
                found.push(Fixture { name: format!("{format}/{verdict}/{stem}"), expect, inputs });
            }
        }
    }
    found
}

pub fn args_of(expect: &Value) -> Vec<String> {
    expect["args"].as_array().map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect()).unwrap_or_default()
}

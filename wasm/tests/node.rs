//! The fixture corpus through the wasm build, in Node (`make wasm-test`).
#![cfg(target_arch = "wasm32")]

mod common;

use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
async fn every_fixture_matches_its_expectation_in_node() {
    common::every_fixture_matches_its_expectation().await;
}

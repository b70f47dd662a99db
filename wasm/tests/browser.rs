//! The fixture corpus through the wasm build, in headless Chromium (`make wasm-test`, with
//! `CHROMEDRIVER` set).
#![cfg(target_arch = "wasm32")]

mod common;

use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn every_fixture_matches_its_expectation_in_chromium() {
    common::every_fixture_matches_its_expectation().await;
}

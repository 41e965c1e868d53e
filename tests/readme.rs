//! The README shows the Rust API with the example that tests/rust_api.rs
//! compiles for wasm32 and runs against the local upstream: the two must be
//! the same code, line for line (doc-tests are off in this crate).
#![cfg(not(target_arch = "wasm32"))]

#[test]
fn the_readme_rust_example_is_the_tested_one() {
    let root = env!("CARGO_MANIFEST_DIR");
    let tested = std::fs::read_to_string(format!("{root}/tests/rust_api.rs")).unwrap();
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let begin = tested
        .find("// README:begin\n")
        .expect("a README:begin mark")
        + "// README:begin\n".len();
    let end = tested.find("// README:end").expect("a README:end mark");
    let example = &tested[begin..end];
    assert!(example.contains("InferenceClient::builder()"), "{example}");
    let fenced = format!("```rust\n{example}```");
    assert!(
        readme.contains(&fenced),
        "README.md must show tests/rust_api.rs's example as written:\n{fenced}"
    );
}

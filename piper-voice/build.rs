//! Lets the piper-voice program (and this package's tests and examples) find sherpa-onnx's shared
//! libraries at run time without LD_LIBRARY_PATH: an rpath to SHERPA_ONNX_LIB_DIR
//! (models/sherpa-onnx/lib, set in .cargo/config.toml) and one to the executable's own folder
//! (sherpa-onnx-sys copies the libraries into target/<profile>/, and an installed binary keeps
//! them beside it). No other binary links them: the agent's processes run piper-voice as a child.

fn main() {
    println!("cargo:rerun-if-env-changed=SHERPA_ONNX_LIB_DIR");
    println!("cargo:rerun-if-changed=build.rs");
    if let Ok(dir) = std::env::var("SHERPA_ONNX_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN");
}

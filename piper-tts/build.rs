//! Lets this package's binaries, tests and examples find sherpa-onnx's shared libraries at run
//! time without LD_LIBRARY_PATH: an rpath to SHERPA_ONNX_LIB_DIR (models/sherpa-onnx/lib, set in
//! .cargo/config.toml) and one to the executable's own folder (sherpa-onnx-sys copies the
//! libraries into target/<profile>/, and an installed binary keeps them beside it). A dependency's
//! link arguments do not reach the packages that use it, so gymcall and media-worker, which link
//! piper-tts into their binaries, use this build script too (`build = "../piper-tts/build.rs"`).

fn main() {
    println!("cargo:rerun-if-env-changed=SHERPA_ONNX_LIB_DIR");
    println!("cargo:rerun-if-changed=../piper-tts/build.rs");
    if let Ok(dir) = std::env::var("SHERPA_ONNX_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN");
}

//! What every service binary does around its `run`: set up logging, then wait for SIGTERM or
//! Ctrl-C to start a graceful stop.

/// Logs to stderr, filtered by `RUST_LOG` (else `default_filter`, e.g. `info`). Safe to call
/// twice (the second call does nothing).
///
/// The NATS client logs its server address with the credentials in it at debug level, so when the
/// filter's default level is `debug` or `trace`, `async_nats` stays at `info` unless the filter
/// names `async_nats` explicitly.
pub fn init_logging(default_filter: &str) {
    let requested = std::env::var("RUST_LOG").ok().filter(|value| !value.trim().is_empty());
    let mut filter = requested
        .as_deref()
        .and_then(|value| tracing_subscriber::EnvFilter::try_new(value).ok())
        .unwrap_or_else(|| default_filter.into());
    if caps_nats_client(requested.as_deref().unwrap_or(default_filter)) {
        if let Ok(directive) = NATS_CLIENT_LOG_CAP.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// True when `filter` lets every target log at debug or trace and does not name `async_nats`.
fn caps_nats_client(filter: &str) -> bool {
    let default_level_is_verbose = filter
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.contains('='))
        .any(|level| level.eq_ignore_ascii_case("debug") || level.eq_ignore_ascii_case("trace"));
    default_level_is_verbose && !filter.contains("async_nats")
}

/// The NATS client's log level unless `RUST_LOG` names `async_nats` (see [`init_logging`]).
pub const NATS_CLIENT_LOG_CAP: &str = "async_nats=info";

/// Malloc arenas a process keeps when `MALLOC_ARENA_MAX` is not set ([`limit_malloc_arenas`]).
pub const MALLOC_ARENAS: i32 = 2;

/// Caps glibc's malloc arenas at [`MALLOC_ARENAS`] (in `gymcall`, `media-worker` and the
/// `piper-voice` child), unless the environment sets
/// `MALLOC_ARENA_MAX` (glibc then reads that itself). glibc gives threads up to eight arenas per
/// core, and each keeps the memory its threads freed: with calls on many runtime and decoder
/// threads the RSS grew by 11-50 MiB per extra call from one step of the load bench to the next,
/// against 5-9 MiB with two arenas and no cost in CPU or reply latency (README "Load benchmark",
/// 2026-12-05 evening). Call first thing in `main`, before any thread starts. Returns the cap set,
/// or `None` (set by the environment, or not glibc).
pub fn limit_malloc_arenas() -> Option<i32> {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return None;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets an allocator parameter; M_ARENA_MAX takes any positive count.
        let set = unsafe { libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS) };
        (set == 1).then_some(MALLOC_ARENAS)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

/// Resolves on SIGTERM or Ctrl-C (Ctrl-C only where SIGTERM cannot be watched).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM, stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nats_client_is_capped_only_where_it_would_print_debug_lines() {
        assert!(caps_nats_client("debug"));
        assert!(caps_nats_client("gateway=info,trace"));
        assert!(!caps_nats_client("info"));
        assert!(!caps_nats_client("warn"), "a quieter default is left alone");
        assert!(!caps_nats_client("gateway=debug"), "only one target is verbose");
        assert!(!caps_nats_client("debug,async_nats=debug"), "asked for explicitly");
    }

    #[test]
    fn malloc_arenas_are_capped_unless_the_environment_sets_them() {
        let glibc = cfg!(all(target_os = "linux", target_env = "gnu"));
        let expected = (glibc && std::env::var_os("MALLOC_ARENA_MAX").is_none()).then_some(MALLOC_ARENAS);
        assert_eq!(limit_malloc_arenas(), expected);
    }
}

/// Makes a crash inside native code say where it happened: on SIGSEGV, SIGBUS, SIGILL or SIGFPE
/// the process writes `<name>: fatal signal N` and the native stack (`backtrace_symbols_fd`:
/// library, symbol and offset per frame) to stderr, then dies of the same signal as before (its
/// parent sees the same exit). For `piper-voice`, whose onnxruntime has crashed with SIGSEGV on a
/// CI machine without a word. Only async-signal-safe calls in the handler; glibc's unwinder is
/// loaded here, first, so the handler does not allocate. Runs on the alternate signal stack Rust
/// sets up for the main thread (a stack overflow can still be reported). glibc only; elsewhere it
/// does nothing.
pub fn report_fatal_signals(name: &'static str) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
        static NAME: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
        static NAME_LEN: AtomicUsize = AtomicUsize::new(0);
        extern "C" {
            fn backtrace(buffer: *mut *mut libc::c_void, size: libc::c_int) -> libc::c_int;
            fn backtrace_symbols_fd(buffer: *const *mut libc::c_void, size: libc::c_int, fd: libc::c_int);
        }
        extern "C" fn on_fatal(signal: libc::c_int) {
            let write = |bytes: &[u8]| {
                // SAFETY: write(2) to stderr with a valid buffer and length.
                unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
            };
            let name = NAME.load(Ordering::Relaxed);
            if !name.is_null() {
                // SAFETY: NAME and NAME_LEN were set together from a &'static str.
                write(unsafe { std::slice::from_raw_parts(name, NAME_LEN.load(Ordering::Relaxed)) });
            }
            let mut number = [0u8; 12];
            let (mut n, mut at) = (signal.unsigned_abs(), number.len());
            loop {
                at -= 1;
                number[at] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 || at == 0 {
                    break;
                }
            }
            write(b": fatal signal ");
            write(&number[at..]);
            write(b"; native stack:\n");
            let mut frames = [std::ptr::null_mut::<libc::c_void>(); 64];
            // SAFETY: the buffer holds 64 frames; glibc's unwinder was loaded before any signal.
            unsafe {
                let count = backtrace(frames.as_mut_ptr(), frames.len() as libc::c_int);
                backtrace_symbols_fd(frames.as_ptr(), count, 2);
                // die of the same signal, as without this handler
                libc::signal(signal, libc::SIG_DFL);
                libc::raise(signal);
            }
        }
        NAME_LEN.store(name.len(), Ordering::Relaxed);
        NAME.store(name.as_ptr().cast_mut(), Ordering::Relaxed);
        let mut warm_up = [std::ptr::null_mut::<libc::c_void>(); 4];
        // SAFETY: loads the unwinder now (its first use allocates); the buffer holds 4 frames.
        unsafe { backtrace(warm_up.as_mut_ptr(), warm_up.len() as libc::c_int) };
        for signal in [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE] {
            // SAFETY: a plain sigaction with a handler that only makes async-signal-safe calls.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_fatal as *const () as usize;
                action.sa_flags = libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = name;
}

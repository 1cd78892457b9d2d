//! CPU time and resident memory of a process and its descendants, read from `/proc`:
//! `utime + stime` (plus `cutime + cstime`, the children it already reaped) from
//! `/proc/PID/stat`, `VmRSS` from `/proc/PID/status`. Linux only.
//!
//! A child caught between its fork and its exec (the server spawning `espeak-ng`, say) still
//! runs its parent's program and reports its parent's whole `VmRSS`: summed, the server's memory
//! would count twice for that one reading (seen: a 140 MB `gymcall` child for a few ms, which
//! made one step's peak 485 MiB against 330 MiB on either side). Such a child's memory is not
//! counted ([`counts_memory`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc/*/stat` times: `USER_HZ`, which the Linux ABI fixes at 100
/// on every architecture whatever the kernel's own tick rate.
pub const USER_HZ: u64 = 100;

/// Most processes looked at when searching for descendants.
const MAX_PROCESSES_SCANNED: usize = 65_536;

/// Largest `/proc` file read (a `stat` line is a few hundred bytes, `status` ~1.5 kB).
const MAX_PROC_FILE_BYTES: usize = 16 * 1024;

/// One reading of a process tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TreeSample {
    /// CPU time of every process in the tree, in clock ticks.
    pub cpu_ticks: u64,
    pub rss_bytes: u64,
    pub processes: usize,
}

/// The fields of `/proc/PID/stat` this module needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatLine {
    pub ppid: u32,
    /// utime + stime + cutime + cstime.
    pub cpu_ticks: u64,
    /// When the process started, in clock ticks since boot.
    pub start_ticks: u64,
}

/// Parses a `/proc/PID/stat` line. The command name may hold spaces and parentheses, so
/// fields are counted after the last `)`.
pub fn parse_stat(line: &str) -> Option<StatLine> {
    let after_name = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after the name: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17)
    let field = |number: usize| fields.get(number - 3).and_then(|value| value.parse::<i64>().ok());
    let ppid = u32::try_from(field(4)?).ok()?;
    let cpu_ticks = [14, 15, 16, 17].iter().map(|&n| field(n).map(|v| v.max(0) as u64)).sum::<Option<u64>>()?;
    let start_ticks = field(22).map_or(0, |v| v.max(0) as u64);
    Some(StatLine { ppid, cpu_ticks, start_ticks })
}

/// Youngest a child running its parent's own program may be for its memory to count: a spawn
/// reaches its exec within milliseconds, a worker forked on purpose lives on.
pub const FORK_GRACE_TICKS: u64 = USER_HZ;

/// Whether a child's `VmRSS` is its own: not when it still runs its parent's program (same
/// executable) and started less than [`FORK_GRACE_TICKS`] ago, i.e. a spawn before its exec,
/// whose memory is its parent's.
pub fn counts_memory(exe: Option<&Path>, parent_exe: Option<&Path>, age_ticks: u64) -> bool {
    !(exe.is_some() && exe == parent_exe && age_ticks < FORK_GRACE_TICKS)
}

/// Time since boot in clock ticks (`/proc/uptime`).
fn uptime_ticks() -> Option<u64> {
    let text = read_proc("/proc/uptime")?;
    let seconds: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some((seconds * USER_HZ as f64) as u64)
}

/// Parses `VmRSS` (kB) out of `/proc/PID/status`, in bytes.
pub fn parse_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

fn read_proc(path: &str) -> Option<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(MAX_PROC_FILE_BYTES as u64).read_to_string(&mut text).ok()?;
    Some(text)
}

/// `pid` and every live descendant of it.
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten().take(MAX_PROCESSES_SCANNED) {
            let Some(child) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
            if let Some(stat) = read_proc(&format!("/proc/{child}/stat")).as_deref().and_then(parse_stat) {
                parents.push((child, stat.ppid));
            }
        }
    }
    let mut tree = vec![pid];
    let mut index = 0;
    while index < tree.len() {
        let parent = tree[index];
        tree.extend(parents.iter().filter(|(_, ppid)| *ppid == parent).map(|(child, _)| *child));
        index += 1;
    }
    tree
}

/// Reads CPU time and RSS of `pid` and its descendants; `None` when `pid` is gone.
pub fn sample_tree(pid: u32) -> Option<TreeSample> {
    let own = read_proc(&format!("/proc/{pid}/stat")).as_deref().and_then(parse_stat)?;
    let mut sample = TreeSample::default();
    let now_ticks = uptime_ticks().unwrap_or(u64::MAX);
    let exe = |pid: u32| -> Option<PathBuf> { std::fs::read_link(format!("/proc/{pid}/exe")).ok() };
    for member in process_tree(pid) {
        let stat = if member == pid {
            Some(own)
        } else {
            read_proc(&format!("/proc/{member}/stat")).as_deref().and_then(parse_stat)
        };
        let Some(stat) = stat else { continue };
        sample.cpu_ticks += stat.cpu_ticks;
        if member != pid {
            let age_ticks = now_ticks.saturating_sub(stat.start_ticks);
            if !counts_memory(exe(member).as_deref(), exe(stat.ppid).as_deref(), age_ticks) {
                continue;
            }
        }
        sample.rss_bytes +=
            read_proc(&format!("/proc/{member}/status")).as_deref().and_then(parse_rss_bytes).unwrap_or(0);
        sample.processes += 1;
    }
    Some(sample)
}

/// CPU used by a process tree between two readings.
#[derive(Clone, Copy, Debug)]
pub struct CpuMeter {
    pid: u32,
    started: Instant,
    start_ticks: u64,
}

impl CpuMeter {
    /// Starts measuring `pid` now; `None` when it is gone.
    pub fn start(pid: u32) -> Option<CpuMeter> {
        let sample = sample_tree(pid)?;
        Some(CpuMeter { pid, started: Instant::now(), start_ticks: sample.cpu_ticks })
    }

    /// Cores used on average since the start (1.0 = one core busy all the time).
    pub fn cores(&self) -> Option<f64> {
        let sample = sample_tree(self.pid)?;
        Some(cores_used(sample.cpu_ticks.saturating_sub(self.start_ticks), self.started.elapsed()))
    }
}

/// `ticks` of CPU time over `wall` as a number of cores.
pub fn cores_used(ticks: u64, wall: Duration) -> f64 {
    if wall.is_zero() {
        return 0.0;
    }
    ticks as f64 / USER_HZ as f64 / wall.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names() {
        let line = "4242 (gym call) x) S 17 4242 4242 0 -1 4194560 1000 0 0 0 250 75 3 2 20 0 9 0 100 1000000 500";
        assert_eq!(parse_stat(line), Some(StatLine { ppid: 17, cpu_ticks: 250 + 75 + 3 + 2, start_ticks: 100 }));
        assert_eq!(parse_stat("4242 (truncated"), None);
        assert_eq!(parse_stat("1 (init) S"), None);
    }

    #[test]
    fn rss_from_status() {
        let status = "Name:\tgymcall\nVmPeak:\t  900 kB\nVmRSS:\t   31337 kB\nThreads:\t9\n";
        assert_eq!(parse_rss_bytes(status), Some(31_337 * 1024));
        assert_eq!(parse_rss_bytes("Name:\tkthreadd\n"), None);
    }

    #[test]
    fn a_young_child_still_running_its_parents_program_is_its_parents_memory() {
        let server = Path::new("/srv/gymcall");
        let espeak = Path::new("/usr/bin/espeak-ng");
        // between fork and exec: the server's program, its VmRSS
        assert!(!counts_memory(Some(server), Some(server), 0));
        assert!(!counts_memory(Some(server), Some(server), FORK_GRACE_TICKS - 1));
        // after the exec, or a worker forked on purpose that lives on
        assert!(counts_memory(Some(espeak), Some(server), 0));
        assert!(counts_memory(Some(server), Some(server), FORK_GRACE_TICKS));
        // unknown programs (a process gone, or not ours to read) count
        assert!(counts_memory(None, None, 0));
        assert!(counts_memory(None, Some(server), 0));
    }

    #[test]
    #[ignore = "helper: a_young_child_running_this_test_binary_is_not_counted starts it"]
    fn child_helper_waits_a_second() {
        std::thread::sleep(Duration::from_secs(1));
    }

    #[test]
    fn a_young_child_running_this_test_binary_is_not_counted() {
        // this test binary started again, running only the helper above: a young child of the
        // parent's own program, as a spawn is before its exec
        let own = std::process::id();
        let mut child = std::process::Command::new(std::env::current_exe().expect("own exe"))
            .args(["--ignored", "--exact", "procstat::tests::child_helper_waits_a_second"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("runs");
        std::thread::sleep(Duration::from_millis(100));
        let stat = read_proc(&format!("/proc/{}/stat", child.id())).as_deref().and_then(parse_stat).expect("alive");
        let exe = std::fs::read_link(format!("/proc/{}/exe", child.id())).expect("readable");
        let own_exe = std::fs::read_link(format!("/proc/{own}/exe")).expect("readable");
        let age = uptime_ticks().expect("uptime").saturating_sub(stat.start_ticks);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(exe, own_exe);
        assert!(!counts_memory(Some(&exe), Some(&own_exe), age), "age {age} ticks");
    }

    #[test]
    fn cores_from_ticks() {
        assert_eq!(cores_used(150, Duration::from_secs(3)), 0.5);
        assert_eq!(cores_used(10, Duration::ZERO), 0.0);
    }

    #[test]
    fn this_process_and_its_child_are_measured() {
        let mut child = std::process::Command::new("sleep").arg("5").spawn().expect("sleep runs");
        let own = std::process::id();
        let tree = process_tree(own);
        assert!(tree.contains(&own) && tree.contains(&child.id()), "{tree:?}");
        let sample = sample_tree(own).expect("this process exists");
        assert!(sample.processes >= 2 && sample.rss_bytes > 0, "{sample:?}");
        let _ = child.kill();
        let _ = child.wait();
    }
}

//! The machine a run came from: cores, memory, kernel, CPU model.

use serde::Serialize;

/// What the report says about the machine.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical CPUs available to this process.
    pub cores: usize,
    /// `MemTotal` from `/proc/meminfo`, KiB.
    pub mem_total_kib: u64,
    /// `uname -r`.
    pub kernel: String,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
}

impl Machine {
    /// Reads the current machine's facts (unknown ones are empty or zero).
    pub fn current() -> Machine {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Machine {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            mem_total_kib: meminfo
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|r| r.trim_start_matches([' ', '\t', ':']).trim().to_string())
                .unwrap_or_default(),
        }
    }
}

//! `sys/host-info`: the host's CPUs, CPU times, disks, memory and identity, read from Linux's
//! `/proc` and shaped (camelCase keys and all) as the gopsutil structs Vault answers with.
//! Elsewhere the sections Linux alone provides come back empty.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

/// The kernel's clock ticks per second for `/proc/stat` (`USER_HZ`, 100 on every Linux ABI).
const USER_HZ: f64 = 100.0;

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Every section of the answer, with the time it was taken.
pub(crate) fn collect() -> Value {
    json!({
        "cpu": cpus(),
        "cpu_times": cpu_times(),
        "disk": disks(),
        "host": host(),
        "memory": memory(),
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
    })
}

/// One entry per processor of `/proc/cpuinfo`.
fn cpus() -> Vec<Value> {
    read("/proc/cpuinfo")
        .split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let field = |k: &str| -> &str {
                block
                    .lines()
                    .find_map(|l| {
                        let (name, v) = l.split_once(':')?;
                        (name.trim() == k).then_some(v.trim())
                    })
                    .unwrap_or("")
            };
            let int = |k: &str| field(k).parse::<i64>().unwrap_or(0);
            let cache_kb = field("cache size")
                .trim_end_matches("KB")
                .trim()
                .parse::<i64>()
                .unwrap_or(0);
            json!({
                "cpu": int("processor"),
                "vendorId": field("vendor_id"),
                "family": field("cpu family"),
                "model": field("model"),
                "stepping": int("stepping"),
                "physicalId": field("physical id"),
                "coreId": field("core id"),
                "cores": int("cpu cores"),
                "modelName": field("model name"),
                "mhz": field("cpu MHz").parse::<f64>().unwrap_or(0.0),
                "cacheSize": cache_kb,
                "flags": field("flags").split_whitespace().collect::<Vec<_>>(),
                "microcode": field("microcode"),
            })
        })
        .collect()
}

/// Each CPU's times from `/proc/stat`, in seconds.
fn cpu_times() -> Vec<Value> {
    read("/proc/stat")
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            let mut parts = l.split_whitespace();
            let name = parts.next().unwrap_or("");
            let t: Vec<f64> = parts
                .map(|v| v.parse::<f64>().unwrap_or(0.0) / USER_HZ)
                .collect();
            let at = |i: usize| t.get(i).copied().unwrap_or(0.0);
            json!({
                "cpu": name,
                "user": at(0),
                "nice": at(1),
                "system": at(2),
                "idle": at(3),
                "iowait": at(4),
                "irq": at(5),
                "softirq": at(6),
                "steal": at(7),
                "guest": at(8),
                "guestNice": at(9),
            })
        })
        .collect()
}

/// The usage of every mounted file system that sits on a device (those `/proc/filesystems`
/// does not mark `nodev`), once per device.
fn disks() -> Vec<Value> {
    let physical: HashSet<String> = read("/proc/filesystems")
        .lines()
        .filter(|l| !l.starts_with("nodev"))
        .map(|l| l.trim().to_string())
        .collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for line in read("/proc/self/mounts").lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [device, path, fstype, ..] = f[..] else {
            continue;
        };
        if !physical.contains(fstype) || !seen.insert(device.to_string()) {
            continue;
        }
        let Ok(st) = rustix::fs::statvfs(path) else {
            continue;
        };
        let frsize = st.f_frsize;
        let total = st.f_blocks * frsize;
        let free = st.f_bavail * frsize;
        let used = (st.f_blocks - st.f_bfree) * frsize;
        let percent = |part: u64, whole: u64| {
            if whole == 0 {
                0.0
            } else {
                part as f64 / whole as f64 * 100.0
            }
        };
        let inodes_used = st.f_files.saturating_sub(st.f_ffree);
        out.push(json!({
            "path": path,
            "fstype": fstype,
            "total": total,
            "free": free,
            "used": used,
            "usedPercent": percent(used, used + free),
            "inodesTotal": st.f_files,
            "inodesUsed": inodes_used,
            "inodesFree": st.f_ffree,
            "inodesUsedPercent": percent(inodes_used, st.f_files),
        }));
    }
    out
}

/// A value of `/etc/os-release`.
fn os_release(key: &str) -> String {
    read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default()
}

/// The host's identity, uptime and process count.
fn host() -> Value {
    let uptime = read("/proc/uptime")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0) as u64;
    let boot_time = read("/proc/stat")
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let procs = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .count()
        })
        .unwrap_or(0);
    let platform = os_release("ID");
    let family = os_release("ID_LIKE");
    let family = family
        .split_whitespace()
        .next()
        .unwrap_or(&platform)
        .to_string();
    let container = std::path::Path::new("/.dockerenv").exists();
    json!({
        "hostname": read("/proc/sys/kernel/hostname").trim(),
        "uptime": uptime,
        "bootTime": boot_time,
        "procs": procs,
        "os": std::env::consts::OS,
        "platform": platform,
        "platformFamily": family,
        "platformVersion": os_release("VERSION_ID"),
        "kernelVersion": read("/proc/sys/kernel/osrelease").trim(),
        "kernelArch": std::env::consts::ARCH,
        "virtualizationSystem": if container { "docker" } else { "" },
        "virtualizationRole": if container { "guest" } else { "" },
        "hostid": read("/proc/sys/kernel/random/boot_id").trim(),
    })
}

/// `/proc/meminfo` in bytes, with gopsutil's derived `used` and `usedPercent`.
fn memory() -> Value {
    let info = read("/proc/meminfo");
    let kb = |k: &str| -> u64 {
        info.lines()
            .find_map(|l| {
                let (name, v) = l.split_once(':')?;
                (name == k).then(|| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())?
            })
            .unwrap_or(0)
            * 1024
    };
    let total = kb("MemTotal");
    let available = kb("MemAvailable");
    let used = total.saturating_sub(available);
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("total", json!(total));
    put("available", json!(available));
    put("used", json!(used));
    put(
        "usedPercent",
        json!(if total == 0 {
            0.0
        } else {
            used as f64 / total as f64 * 100.0
        }),
    );
    put("free", json!(kb("MemFree")));
    put("active", json!(kb("Active")));
    put("inactive", json!(kb("Inactive")));
    put("wired", json!(0));
    put("laundry", json!(0));
    put("buffers", json!(kb("Buffers")));
    put("cached", json!(kb("Cached")));
    put("writeback", json!(kb("Writeback")));
    put("dirty", json!(kb("Dirty")));
    put("writebacktmp", json!(kb("WritebackTmp")));
    put("shared", json!(kb("Shmem")));
    put("slab", json!(kb("Slab")));
    put("sreclaimable", json!(kb("SReclaimable")));
    put("sunreclaim", json!(kb("SUnreclaim")));
    put("pagetables", json!(kb("PageTables")));
    put("swapcached", json!(kb("SwapCached")));
    put("commitlimit", json!(kb("CommitLimit")));
    put("committedas", json!(kb("Committed_AS")));
    put("hightotal", json!(kb("HighTotal")));
    put("highfree", json!(kb("HighFree")));
    put("lowtotal", json!(kb("LowTotal")));
    put("lowfree", json!(kb("LowFree")));
    put("swaptotal", json!(kb("SwapTotal")));
    put("swapfree", json!(kb("SwapFree")));
    put("mapped", json!(kb("Mapped")));
    put("vmalloctotal", json!(kb("VmallocTotal")));
    put("vmallocused", json!(kb("VmallocUsed")));
    put("vmallocchunk", json!(kb("VmallocChunk")));
    put("hugepagestotal", json!(kb("HugePages_Total") / 1024));
    put("hugepagesfree", json!(kb("HugePages_Free") / 1024));
    put("hugepagesize", json!(kb("Hugepagesize")));
    Value::Object(m)
}

//! Instruction counts per request (`bench/callgrind.sh`): the driver that sends a fixed number
//! of one workload's requests over one keep-alive connection to a server running under
//! `valgrind --tool=callgrind` (running shell commands just before and after them, to zero and
//! dump the counters), and the report that turns the dumps into `callgrind.json` and
//! `callgrind.md`: total instructions (Ir) per workload, Ir per request, and the functions
//! with the most inclusive and self Ir, per request.
//!
//! Instruction counts do not depend on the machine's load or clock, so they can be compared
//! run to run on a shared machine where perf events are not available.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::client::{call, new_client};
use crate::error::BenchError;
use crate::load::{LoadSpec, drive};
use crate::workload::{WORKLOADS, Workload};

/// Functions listed per workload, by inclusive and by self Ir.
pub const TOP: usize = 15;

/// What one driver run sends.
#[derive(Debug, Clone)]
pub struct DriveSpec {
    /// `http://host:port` of the server.
    pub base: String,
    /// The workload (a name from [`WORKLOADS`]).
    pub workload: String,
    /// Token sent as `X-Vault-Token`.
    pub token: String,
    /// Unmeasured requests first.
    pub warmup: u64,
    /// Measured requests.
    pub requests: u64,
    /// Shell command run after the warm-up, before the measured requests (e.g.
    /// `callgrind_control -z PID`).
    pub before: Option<String>,
    /// Shell command run after the measured requests (e.g. `callgrind_control -d NAME PID`).
    pub after: Option<String>,
}

/// The workload named `name`.
pub fn workload(name: &str) -> Result<&'static Workload, BenchError> {
    WORKLOADS
        .iter()
        .find(|w| w.name == name)
        .ok_or_else(|| BenchError::Callgrind(format!("no workload named {name}")))
}

/// Runs the workload's setup, the warm-up, `before`, the measured requests one after another
/// on one keep-alive connection, then `after`. Any failed request fails the run (its counts
/// would not be the workload's).
pub async fn drive_fixed(spec: &DriveSpec) -> Result<(), BenchError> {
    let w = workload(&spec.workload)?;
    let client = new_client(1);
    for step in w.setup {
        let body: Value = serde_json::from_str(step.body)?;
        let (status, answer) = call(
            &client,
            &spec.base,
            step.method,
            step.path,
            Some(&spec.token),
            Some(&body),
        )
        .await?;
        if !(200..300).contains(&status) {
            return Err(BenchError::Setup {
                server: spec.base.clone(),
                step: format!("{} {}", step.method, step.path),
                status,
                body: answer.to_string(),
            });
        }
    }
    let batch = |max_requests| LoadSpec {
        concurrency: 1,
        duration: Duration::from_secs(3600),
        max_requests,
        rate: None,
    };
    let check = |out: crate::load::RunOutcome, what: &str| {
        if out.errors > 0 {
            return Err(BenchError::Callgrind(format!(
                "{} {what}: {} failed requests, first: {}",
                w.name,
                out.errors,
                out.first_error.unwrap_or_default()
            )));
        }
        Ok(out.latencies_us.len())
    };
    let out = drive(&client, &spec.base, &spec.token, w, batch(spec.warmup)).await?;
    check(out, "warm-up")?;
    if let Some(cmd) = &spec.before {
        shell(cmd)?;
    }
    let out = drive(&client, &spec.base, &spec.token, w, batch(spec.requests)).await?;
    let done = check(out, "measured requests")?;
    if let Some(cmd) = &spec.after {
        shell(cmd)?;
    }
    if done as u64 != spec.requests {
        return Err(BenchError::Callgrind(format!(
            "{}: {done} of {} requests done",
            w.name, spec.requests
        )));
    }
    Ok(())
}

fn shell(cmd: &str) -> Result<(), BenchError> {
    let status = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .status()
        .map_err(|e| BenchError::io(format!("run {cmd}"), e))?;
    if !status.success() {
        return Err(BenchError::Callgrind(format!("{cmd}: {status}")));
    }
    Ok(())
}

/// One function's share of a workload's instructions.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FunctionCost {
    /// Function name as callgrind gives it (demangled, hash suffix removed).
    pub function: String,
    /// Its instructions over all measured requests.
    pub ir: u64,
    /// Its instructions per request.
    pub ir_per_request: f64,
}

/// The instruction counts of one workload.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadCost {
    /// Workload name (the dump's name).
    pub workload: String,
    /// Measured requests.
    pub requests: u64,
    /// Instructions executed by the server process while they ran (all threads).
    pub total_ir: u64,
    /// `total_ir / requests`.
    pub ir_per_request: f64,
    /// This workload's Ir per request over the floor's (absent for the floor itself or when
    /// the floor was not measured).
    pub over_floor: Option<f64>,
    /// The functions with the most inclusive Ir (themselves and what they call).
    pub top_inclusive: Vec<FunctionCost>,
    /// The functions with the most self Ir.
    pub top_self: Vec<FunctionCost>,
}

/// Everything `callgrind.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct CallgrindReport {
    /// What was measured (e.g. the commit), as given.
    pub label: String,
    /// The workloads, in the order their dumps were given; the floor's is named `floor`.
    pub workloads: Vec<WorkloadCost>,
}

/// The name a dump was asked for with (`callgrind_control -d NAME`): its `desc: Trigger: dump
/// NAME` line.
pub fn dump_name(dump: &str) -> Option<String> {
    dump.lines()
        .find_map(|l| l.strip_prefix("desc: Trigger: dump "))
        .map(|n| n.trim().to_string())
}

/// The per-function lines of `callgrind_annotate` output: `(function, Ir)`, summed over the
/// files a function's code was attributed to, and the program total.
pub fn parse_annotate(text: &str) -> (u64, Vec<(String, u64)>) {
    let mut total = 0;
    let mut sums: HashMap<String, u64> = HashMap::new();
    let mut order = Vec::new();
    let mut in_functions = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.ends_with("file:function") {
            in_functions = true;
            continue;
        }
        let Some((count, rest)) = split_count(trimmed) else {
            if in_functions && !trimmed.is_empty() && !trimmed.starts_with("---") {
                // The per-function list ends where source annotation starts.
                in_functions = false;
            }
            continue;
        };
        if rest == "PROGRAM TOTALS" {
            total = count;
            continue;
        }
        if !in_functions {
            continue;
        }
        let name = function_name(rest);
        let sum = sums.entry(name.clone()).or_insert_with(|| {
            order.push(name);
            0
        });
        *sum += count;
    }
    let mut functions: Vec<(String, u64)> = order
        .into_iter()
        .map(|n| {
            let c = sums.get(&n).copied().unwrap_or(0);
            (n, c)
        })
        .collect();
    functions.sort_by_key(|f| std::cmp::Reverse(f.1));
    (total, functions)
}

/// `12,345 (1.23%)  rest` → `(12345, "rest")`; the percentage is optional.
fn split_count(line: &str) -> Option<(u64, &str)> {
    let end = line.find(|c: char| !(c.is_ascii_digit() || c == ','))?;
    let count: u64 = line[..end].replace(',', "").parse().ok()?;
    let mut rest = line[end..].trim_start();
    if rest.starts_with('(') {
        let close = rest.find(')')?;
        rest = rest[close + 1..].trim_start();
    }
    (!rest.is_empty()).then_some((count, rest))
}

/// `file:function [object]` → `function`, without a Rust hash suffix (`::h0123456789abcdef`).
fn function_name(entry: &str) -> String {
    let entry = match entry.rfind(" [") {
        Some(i) if entry.ends_with(']') => &entry[..i],
        _ => entry,
    };
    let function = entry.split_once(':').map_or(entry, |(_, f)| f);
    let function = match function.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            head
        }
        _ => function,
    };
    function.to_string()
}

fn annotate(dump: &Path, inclusive: bool) -> Result<String, BenchError> {
    let out = Command::new("callgrind_annotate")
        .arg(format!(
            "--inclusive={}",
            if inclusive { "yes" } else { "no" }
        ))
        .arg("--threshold=100")
        .arg("--auto=no")
        .arg(dump)
        .output()
        .map_err(|e| BenchError::io("run callgrind_annotate", e))?;
    if !out.status.success() {
        return Err(BenchError::Callgrind(format!(
            "callgrind_annotate {}: {}",
            dump.display(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn top(functions: &[(String, u64)], requests: u64) -> Vec<FunctionCost> {
    functions
        .iter()
        .take(TOP)
        .map(|(function, ir)| FunctionCost {
            function: function.clone(),
            ir: *ir,
            ir_per_request: per_request(*ir, requests),
        })
        .collect()
}

fn per_request(ir: u64, requests: u64) -> f64 {
    if requests == 0 {
        0.0
    } else {
        ir as f64 / requests as f64
    }
}

/// The costs of one workload from `callgrind_annotate`'s self and inclusive listings.
pub fn workload_cost(name: &str, requests: u64, self_text: &str, incl_text: &str) -> WorkloadCost {
    let (total, selfs) = parse_annotate(self_text);
    let (_, incl) = parse_annotate(incl_text);
    WorkloadCost {
        workload: name.to_string(),
        requests,
        total_ir: total,
        ir_per_request: per_request(total, requests),
        over_floor: None,
        top_inclusive: top(&incl, requests),
        top_self: top(&selfs, requests),
    }
}

/// Reads the dumps (each named by its `callgrind_control -d NAME`), runs `callgrind_annotate`
/// on each and puts the workload named `floor` beside the others.
pub fn report(
    dumps: &[PathBuf],
    requests: u64,
    label: &str,
) -> Result<CallgrindReport, BenchError> {
    let mut workloads = Vec::new();
    for dump in dumps {
        let text = std::fs::read_to_string(dump)
            .map_err(|e| BenchError::io(format!("read {}", dump.display()), e))?;
        let name = dump_name(&text).ok_or_else(|| {
            BenchError::Callgrind(format!("{} is not a named dump", dump.display()))
        })?;
        let cost = workload_cost(
            &name,
            requests,
            &annotate(dump, false)?,
            &annotate(dump, true)?,
        );
        workloads.push(cost);
    }
    let mut r = CallgrindReport {
        label: label.to_string(),
        workloads,
    };
    r.compare_to_floor();
    Ok(r)
}

impl CallgrindReport {
    /// Sets every workload's Ir per request over the floor's.
    pub fn compare_to_floor(&mut self) {
        let floor = self
            .workloads
            .iter()
            .find(|w| w.workload == "floor")
            .map(|w| w.ir_per_request)
            .filter(|f| *f > 0.0);
        for w in &mut self.workloads {
            w.over_floor = match floor {
                Some(f) if w.workload != "floor" => Some(w.ir_per_request / f),
                _ => None,
            };
        }
    }

    /// The Markdown form: one table of Ir per request, then the top functions per workload.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# Instructions per request ({})\n", self.label);
        let _ = writeln!(
            s,
            "| workload | requests | total Ir | Ir/request | vs floor Ir/request |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|");
        for w in &self.workloads {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.0} | {} |",
                w.workload,
                w.requests,
                w.total_ir,
                w.ir_per_request,
                w.over_floor.map_or("-".into(), |r| format!("{r:.2}x"))
            );
        }
        for w in &self.workloads {
            for (kind, list) in [("self", &w.top_self), ("inclusive", &w.top_inclusive)] {
                let _ = writeln!(
                    s,
                    "\n## {}: top {} functions by {kind} Ir\n",
                    w.workload,
                    list.len()
                );
                let _ = writeln!(s, "| Ir/request | share | function |");
                let _ = writeln!(s, "|---:|---:|---|");
                for f in list {
                    let share = if w.total_ir > 0 {
                        100.0 * f.ir as f64 / w.total_ir as f64
                    } else {
                        0.0
                    };
                    let _ = writeln!(
                        s,
                        "| {:.0} | {share:.1}% | `{}` |",
                        f.ir_per_request,
                        f.function.replace('|', "\\|").replace('`', "'")
                    );
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SELF: &str = "\
--------------------------------------------------------------------------------
Profile data file 'cg.out.1' (creator: callgrind-3.19.0)
--------------------------------------------------------------------------------
Events recorded:  Ir
--------------------------------------------------------------------------------
Ir
--------------------------------------------------------------------------------
2,000,000 (100.0%)  PROGRAM TOTALS

--------------------------------------------------------------------------------
Ir                file:function
--------------------------------------------------------------------------------
600,000 (30.00%)  ???:hyper::proto::h1::role::Server::parse::h0123456789abcdef [/work/target/release/arca]
400,000 (20.00%)  ./string/../sysdeps/x86_64/multiarch/memmove-vec-unaligned-erms.S:__memcpy_avx_unaligned_erms [/usr/lib/x86_64-linux-gnu/libc.so.6]
300,000 (15.00%)  ???:<alloc::vec::Vec<T> as core::clone::Clone>::clone [/work/target/release/arca]
200,000 (10.00%)  ./malloc/malloc.c:malloc [/usr/lib/x86_64-linux-gnu/libc.so.6]
100,000 ( 5.00%)  ./malloc/arena.c:malloc [/usr/lib/x86_64-linux-gnu/libc.so.6]
";

    #[test]
    fn annotate_output_becomes_function_costs() {
        let (total, f) = parse_annotate(SELF);
        assert_eq!(total, 2_000_000);
        assert_eq!(
            f[0],
            ("hyper::proto::h1::role::Server::parse".into(), 600_000)
        );
        // malloc's two files are one function.
        assert_eq!(f[1], ("__memcpy_avx_unaligned_erms".into(), 400_000));
        assert_eq!(f[2].1, 300_000);
        assert_eq!(f[3], ("malloc".into(), 300_000));
        assert!(
            f.iter()
                .any(|(n, _)| n == "<alloc::vec::Vec<T> as core::clone::Clone>::clone")
        );
        assert_eq!(f.len(), 4);
    }

    #[test]
    fn costs_are_per_request_and_against_the_floor() {
        let floor_text = SELF.replace(
            "2,000,000 (100.0%)  PROGRAM TOTALS",
            "1,000,000 (100.0%)  PROGRAM TOTALS",
        );
        let mut r = CallgrindReport {
            label: "test".into(),
            workloads: vec![
                workload_cost("kv2-read", 100, SELF, SELF),
                workload_cost("floor", 100, &floor_text, &floor_text),
            ],
        };
        r.compare_to_floor();
        let kv = &r.workloads[0];
        assert_eq!(kv.ir_per_request, 20_000.0);
        assert_eq!(kv.over_floor, Some(2.0));
        assert_eq!(r.workloads[1].over_floor, None);
        assert_eq!(kv.top_self[0].ir_per_request, 6_000.0);
        let md = r.markdown();
        assert!(
            md.contains("| kv2-read | 100 | 2000000 | 20000 | 2.00x |"),
            "{md}"
        );
        assert!(md.contains("| floor | 100 | 1000000 | 10000 | - |"), "{md}");
        assert!(
            md.contains("| 6000 | 30.0% | `hyper::proto::h1::role::Server::parse` |"),
            "{md}"
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["workloads"][0]["top_inclusive"][0]["ir"], 600_000);
    }

    #[test]
    fn dumps_are_named_by_their_trigger() {
        let dump = "version: 1\ncmd: arca\npart: 2\ndesc: I1 cache: \ndesc: Trigger: dump kv2-read\nsummary: 5\n";
        assert_eq!(dump_name(dump).as_deref(), Some("kv2-read"));
        assert_eq!(dump_name("desc: Trigger: Program termination\n"), None);
    }

    #[test]
    fn the_driven_workloads_exist() {
        for name in ["sys-health", "kv2-read", "kv2-write", "token-lookup-self"] {
            assert!(workload(name).is_ok(), "{name}");
        }
        assert!(workload("nope").is_err());
    }
}

//! The numbers of a run (JSON-serialisable) and their Markdown tables.

use std::fmt::Write as _;

use serde::Serialize;

use crate::audit::AuditVolumes;
use crate::machine::Machine;
use crate::server::{Product, Storage};
use crate::stats::Summary;

/// How the run was driven.
#[derive(Debug, Clone, Serialize)]
pub struct RunSettings {
    /// Concurrency levels, in order.
    pub concurrency: Vec<usize>,
    /// Time bound of one measured run, milliseconds.
    pub duration_ms: u64,
    /// Request bound of one measured run.
    pub max_requests: u64,
    /// Measured runs per server and cell (A B A B ...).
    pub rounds: usize,
    /// Tokio worker threads of the load generator.
    pub client_threads: usize,
    /// Pause between plugin reload calls in under-reload workloads, milliseconds (0: back to
    /// back).
    pub reload_interval_ms: u64,
    /// Open loop: requests per second each run was scheduled at (`None`: closed loop).
    pub rate: Option<f64>,
}

/// The floor: a bare hyper server answering every request with Arca's `sys/health` answer
/// (see [`crate::floor`]), measured with `GET sys/health` at each concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct Floor {
    /// Where its answer came from (a live Arca's `sys/health`, or the fixed copy).
    pub answer: String,
    /// Length of the body it answered, bytes.
    pub body_bytes: usize,
    /// One measurement per concurrency level.
    pub runs: Vec<FloorRun>,
}

/// The floor at one concurrency level.
#[derive(Debug, Clone, Serialize)]
pub struct FloorRun {
    /// Concurrency level.
    pub concurrency: usize,
    /// Its numbers, over the same warm-up and rounds as a server's.
    pub summary: Summary,
}

/// Start-up and memory of one server process.
#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    /// Which implementation.
    pub product: Product,
    /// Which storage kind.
    pub storage: Storage,
    /// Spawn to first HTTP answer, milliseconds.
    pub startup_ms: f64,
    /// Spawn to active (`sys/health` 200, after init and unseal when durable), milliseconds.
    pub ready_ms: f64,
    /// Peak RSS (`VmHWM`) at the end of its runs, KiB.
    pub peak_rss_kib: Option<u64>,
    /// The idle-memory measurement on a fresh server of this kind, when it was run.
    pub idle: Option<IdleRss>,
    /// The equal-work memory measurement on a fresh server of this kind, when it was run.
    pub equal_work: Option<EqualWork>,
}

/// Memory of a fresh server after the same requests the other server got: every selected
/// workload (plugin ones aside) a fixed number of times, then 3 s at rest.
#[derive(Debug, Clone, Serialize)]
pub struct EqualWork {
    /// Requests sent per workload (pairs, for the pair workloads).
    pub requests_per_workload: u64,
    /// The workloads, in the order they were sent.
    pub workloads: Vec<String>,
    /// Requests that failed, all workloads together.
    pub errors: u64,
    /// Seconds the requests took, all workloads together.
    pub elapsed_s: f64,
    /// RSS (`VmRSS`) once idle after them, KiB.
    pub rss_kib: Option<u64>,
    /// Peak RSS (`VmHWM`) at that point, KiB.
    pub peak_rss_kib: Option<u64>,
}

/// Memory of a fresh server holding many live leases (tokens with a long TTL), once idle.
#[derive(Debug, Clone, Serialize)]
pub struct IdleRss {
    /// Leases asked for (token creates sent).
    pub leases: u64,
    /// Creates that failed.
    pub errors: u64,
    /// Seconds the creates took.
    pub fill_s: f64,
    /// RSS (`VmRSS`) before the creates, KiB.
    pub before_kib: Option<u64>,
    /// RSS (`VmRSS`) once idle after them, KiB.
    pub after_kib: Option<u64>,
}

/// One workload at one concurrency on one storage kind, both servers.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// Storage kind.
    pub storage: Storage,
    /// Workload name.
    pub workload: String,
    /// Concurrency level.
    pub concurrency: usize,
    /// Arca's numbers (absent when skipped).
    pub arca: Option<Summary>,
    /// OpenBao's numbers (absent when skipped).
    pub openbao: Option<Summary>,
    /// Why the workload was not run.
    pub skipped: Option<String>,
    /// What each server's audit device wrote (audited workloads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditVolumes>,
    /// The floor measured in this cell, one run before each round of the servers' (same
    /// concurrency, same run length), when the floor ran; the cell's floor fraction uses it
    /// rather than the run's opening floor measurement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor: Option<Summary>,
}

impl Cell {
    /// Arca requests/s over OpenBao requests/s (above 1: Arca is faster).
    pub fn ratio_rps(&self) -> Option<f64> {
        ratio(self.arca.as_ref()?.rps, self.openbao.as_ref()?.rps)
    }

    /// Arca p50 over OpenBao p50 (below 1: Arca is faster).
    pub fn ratio_p50(&self) -> Option<f64> {
        ratio(self.arca.as_ref()?.p50_ms, self.openbao.as_ref()?.p50_ms)
    }

    /// Arca p99 over OpenBao p99 (below 1: Arca is faster).
    pub fn ratio_p99(&self) -> Option<f64> {
        ratio(self.arca.as_ref()?.p99_ms, self.openbao.as_ref()?.p99_ms)
    }
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then_some(a / b)
}

/// Which servers a storage kind's audited workloads ran on.
#[derive(Debug, Clone, Serialize)]
pub struct AuditServers {
    /// Storage kind.
    pub storage: Storage,
    /// `false`: the servers that ran the other workloads, given the device just for the
    /// audited ones; `true`: a second pair started for them (from config files allowing API
    /// audit creation, in-memory ones initialised over the API) because one of the first pair
    /// refused the device.
    pub dedicated: bool,
    /// Why a second pair was needed (the refusal), when it was.
    pub reason: Option<String>,
}

/// Everything one run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Seconds since the Unix epoch when the run ended.
    pub generated_unix: u64,
    /// Wall time of the whole run, seconds.
    pub total_s: f64,
    /// The machine.
    pub machine: Machine,
    /// How it was driven.
    pub settings: RunSettings,
    /// Each server process.
    pub servers: Vec<ServerInfo>,
    /// Each measured (or skipped) cell.
    pub cells: Vec<Cell>,
    /// Where each storage kind's audited workloads ran (empty when none ran).
    pub audit_servers: Vec<AuditServers>,
    /// The floor, when it was measured.
    pub floor: Option<Floor>,
}

/// A cell's JSON form with its ratios spelled out.
#[derive(Serialize)]
struct CellJson<'a> {
    #[serde(flatten)]
    cell: &'a Cell,
    ratio_rps: Option<f64>,
    ratio_p50: Option<f64>,
    ratio_p99: Option<f64>,
    floor_rps: Option<f64>,
    arca_over_floor_rps: Option<f64>,
    openbao_over_floor_rps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audited_over_unaudited_rps: Option<AuditCost>,
}

/// What auditing costs each server on one workload: audited requests/s over unaudited
/// requests/s (1: free; 0.5: half the rate).
#[derive(Debug, Clone, Copy, Serialize)]
struct AuditCost {
    arca: Option<f64>,
    openbao: Option<f64>,
}

impl Report {
    /// The report as pretty JSON, ratios included.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let cells: Vec<CellJson<'_>> = self
            .cells
            .iter()
            .map(|cell| CellJson {
                cell,
                ratio_rps: cell.ratio_rps(),
                ratio_p50: cell.ratio_p50(),
                ratio_p99: cell.ratio_p99(),
                floor_rps: self.cell_floor(cell).map(|f| f.rps),
                arca_over_floor_rps: self.over_floor(cell, cell.arca.as_ref()),
                openbao_over_floor_rps: self.over_floor(cell, cell.openbao.as_ref()),
                audited_over_unaudited_rps: self.audit_cost(cell),
            })
            .collect();
        let mut value = serde_json::to_value(self)?;
        value["cells"] = serde_json::to_value(cells)?;
        serde_json::to_string_pretty(&value)
    }

    /// The floor's numbers at `concurrency`, when it was measured there.
    pub fn floor_at(&self, concurrency: usize) -> Option<&Summary> {
        self.floor
            .as_ref()?
            .runs
            .iter()
            .find(|r| r.concurrency == concurrency)
            .map(|r| &r.summary)
    }

    /// The floor a cell is compared with: the one measured between its rounds when there is
    /// one, else the run's opening measurement at the cell's concurrency.
    pub fn cell_floor<'a>(&'a self, cell: &'a Cell) -> Option<&'a Summary> {
        cell.floor
            .as_ref()
            .or_else(|| self.floor_at(cell.concurrency))
    }

    /// A server's requests/s in `cell` as a fraction of the cell's floor (1: as fast as a bare
    /// hyper server answering a constant).
    pub fn over_floor(&self, cell: &Cell, server: Option<&Summary>) -> Option<f64> {
        ratio(server?.rps, self.cell_floor(cell)?.rps)
    }

    /// The throughput/latency table (with the floor and each workload as a fraction of it), the
    /// floor's own table, the open-loop table (open-loop runs), the under-reload table (when
    /// such cells were measured) and the server table, in Markdown.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| storage | workload | conc | Arca req/s | OpenBao req/s | ratio | floor req/s | Arca/floor | Arca p50 ms | OpenBao p50 ms | ratio | Arca p99 ms | OpenBao p99 ms | ratio | errors A/O |"
        );
        let _ = writeln!(
            s,
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for c in &self.cells {
            match (&c.arca, &c.openbao) {
                (Some(a), Some(o)) => {
                    let _ = writeln!(
                        s,
                        "| {} | {} | {} | {:.0} | {:.0} | {} | {} | {} | {:.2} | {:.2} | {} | {:.2} | {:.2} | {} | {}/{} |",
                        c.storage,
                        c.workload,
                        c.concurrency,
                        a.rps,
                        o.rps,
                        fmt_ratio(c.ratio_rps()),
                        self.cell_floor(c)
                            .map_or("-".into(), |f| format!("{:.0}", f.rps)),
                        fmt_ratio(self.over_floor(c, Some(a))),
                        a.p50_ms,
                        o.p50_ms,
                        fmt_ratio(c.ratio_p50()),
                        a.p99_ms,
                        o.p99_ms,
                        fmt_ratio(c.ratio_p99()),
                        a.errors,
                        o.errors
                    );
                }
                _ => {
                    let _ = writeln!(
                        s,
                        "| {} | {} | - | skipped: {} | | | | | | | | | | | |",
                        c.storage,
                        c.workload,
                        c.skipped.as_deref().unwrap_or("not run")
                    );
                }
            }
        }
        let _ = writeln!(s);
        self.floor_table(&mut s);
        self.open_loop_table(&mut s);
        self.audit_tables(&mut s);
        self.reload_table(&mut s);
        let _ = writeln!(
            s,
            "| server | storage | start-up ms (first answer) | ready ms (active) | peak RSS MiB |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|");
        for srv in &self.servers {
            let _ = writeln!(
                s,
                "| {} | {} | {:.0} | {:.0} | {} |",
                srv.product,
                srv.storage,
                srv.startup_ms,
                srv.ready_ms,
                srv.peak_rss_kib
                    .map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0))
            );
        }
        let idle: Vec<(&ServerInfo, &IdleRss)> = self
            .servers
            .iter()
            .filter_map(|srv| srv.idle.as_ref().map(|i| (srv, i)))
            .collect();
        if !idle.is_empty() {
            let mib =
                |k: Option<u64>| k.map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0));
            let _ = writeln!(s);
            let _ = writeln!(
                s,
                "| server | storage | live leases | failed creates | fill s | idle RSS before MiB | idle RSS with leases MiB |"
            );
            let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|");
            for (srv, i) in idle {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {:.1} | {} | {} |",
                    srv.product,
                    srv.storage,
                    i.leases,
                    i.errors,
                    i.fill_s,
                    mib(i.before_kib),
                    mib(i.after_kib)
                );
            }
        }
        self.equal_work_table(&mut s);
        s
    }
}

impl Report {
    /// Appends the equal-work memory table, one row per storage kind with both servers
    /// (nothing when it was not measured).
    fn equal_work_table(&self, s: &mut String) {
        let of = |storage: Storage, product: Product| {
            self.servers
                .iter()
                .find(|srv| srv.storage == storage && srv.product == product)
                .and_then(|srv| srv.equal_work.as_ref())
        };
        let mut rows = Vec::new();
        for srv in &self.servers {
            if srv.product != Product::Arca {
                continue;
            }
            if let (Some(a), Some(o)) = (
                of(srv.storage, Product::Arca),
                of(srv.storage, Product::OpenBao),
            ) {
                rows.push((srv.storage, a, o));
            }
        }
        if rows.is_empty() {
            return;
        }
        let mib = |k: Option<u64>| k.map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0));
        let share = |a: Option<u64>, o: Option<u64>| match (a, o) {
            (Some(a), Some(o)) if o > 0 => format!("{:.2}", a as f64 / o as f64),
            _ => "?".into(),
        };
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "| storage | workloads | requests each | failed A/O | Arca s | OpenBao s | Arca RSS MiB | OpenBao RSS MiB | RSS A/O | Arca peak MiB | OpenBao peak MiB | peak A/O |"
        );
        let _ = writeln!(
            s,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for (storage, a, o) in rows {
            let _ = writeln!(
                s,
                "| {storage} | {} | {} | {}/{} | {:.1} | {:.1} | {} | {} | {} | {} | {} | {} |",
                a.workloads.len(),
                a.requests_per_workload,
                a.errors,
                o.errors,
                a.elapsed_s,
                o.elapsed_s,
                mib(a.rss_kib),
                mib(o.rss_kib),
                share(a.rss_kib, o.rss_kib),
                mib(a.peak_rss_kib),
                mib(o.peak_rss_kib),
                share(a.peak_rss_kib, o.peak_rss_kib)
            );
        }
    }
}

impl Report {
    /// Appends the floor's own table (nothing when it was not measured).
    fn floor_table(&self, s: &mut String) {
        let Some(floor) = &self.floor else { return };
        let _ = writeln!(
            s,
            "| floor ({}, {} B body) | conc | req/s | p50 ms | p99 ms | max ms | errors |",
            floor.answer, floor.body_bytes
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
        for r in &floor.runs {
            let f = &r.summary;
            let _ = writeln!(
                s,
                "| GET sys/health | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
                r.concurrency, f.rps, f.p50_ms, f.p99_ms, f.max_ms, f.errors
            );
        }
        let _ = writeln!(s);
    }

    /// Appends the open-loop table (nothing for closed-loop runs): the rate asked for, the rate
    /// each server and the floor achieved, the slowest request from its due time and how many
    /// requests were sent more than 1 ms late.
    fn open_loop_table(&self, s: &mut String) {
        let Some(rate) = self.settings.rate else {
            return;
        };
        let _ = writeln!(
            s,
            "| storage | workload (open loop) | conc | target req/s | Arca achieved | OpenBao achieved | floor achieved | Arca max ms | OpenBao max ms | floor max ms | late A/O/floor |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        let late = |x: Option<&Summary>| {
            x.and_then(|x| x.open_loop.as_ref())
                .map_or("-".into(), |o| o.late.to_string())
        };
        for c in &self.cells {
            let (Some(a), Some(o)) = (&c.arca, &c.openbao) else {
                continue;
            };
            let f = self.cell_floor(c);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {} | {:.2} | {:.2} | {} | {}/{}/{} |",
                c.storage,
                c.workload,
                c.concurrency,
                rate,
                a.rps,
                o.rps,
                f.map_or("-".into(), |f| format!("{:.0}", f.rps)),
                a.max_ms,
                o.max_ms,
                f.map_or("-".into(), |f| format!("{:.2}", f.max_ms)),
                late(Some(a)),
                late(Some(o)),
                late(f)
            );
        }
        let _ = writeln!(s);
    }

    /// Appends the tables of the audited cells (nothing when none were measured): what each
    /// device wrote, and the audited rate against the same workload unaudited, per server.
    fn audit_tables(&self, s: &mut String) {
        let rows: Vec<(&Cell, &AuditVolumes)> = self
            .cells
            .iter()
            .filter_map(|c| c.audit.as_ref().map(|v| (c, v)))
            .collect();
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(
            s,
            "| storage | audited workload | conc | Arca bytes/line | OpenBao bytes/line | Arca bytes/request | OpenBao bytes/request | lines A/O |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|");
        for (c, v) in &rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {}/{} |",
                c.storage,
                c.workload,
                c.concurrency,
                v.arca.bytes_per_line,
                v.openbao.bytes_per_line,
                v.arca.bytes_per_request,
                v.openbao.bytes_per_request,
                v.arca.lines,
                v.openbao.lines
            );
        }
        for a in &self.audit_servers {
            if let Some(reason) = &a.reason {
                let _ = writeln!(
                    s,
                    "\n{}: audited on a second pair of servers ({reason}).",
                    a.storage
                );
            }
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "| storage | audited workload | conc | Arca audited/unaudited req/s | OpenBao audited/unaudited req/s | Arca/OpenBao audited | Arca/OpenBao unaudited |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|");
        for (c, _) in rows {
            let cost = self.audit_cost(c);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} |",
                c.storage,
                c.workload,
                c.concurrency,
                fmt_ratio(cost.and_then(|k| k.arca)),
                fmt_ratio(cost.and_then(|k| k.openbao)),
                fmt_ratio(c.ratio_rps()),
                fmt_ratio(self.unaudited_twin(c).and_then(Cell::ratio_rps))
            );
        }
        let _ = writeln!(s);
    }

    /// For an audited cell: each server's audited requests/s over its requests/s on the
    /// unaudited twin (same workload without `-audited`, same storage and concurrency).
    fn audit_cost(&self, c: &Cell) -> Option<AuditCost> {
        c.audit.as_ref()?;
        let base = self.unaudited_twin(c)?;
        let own = |a: Option<&Summary>, b: Option<&Summary>| ratio(a?.rps, b?.rps);
        Some(AuditCost {
            arca: own(c.arca.as_ref(), base.arca.as_ref()),
            openbao: own(c.openbao.as_ref(), base.openbao.as_ref()),
        })
    }

    /// The cell of the same workload without its `-audited` suffix, same storage and
    /// concurrency, when it was measured.
    fn unaudited_twin(&self, c: &Cell) -> Option<&Cell> {
        let name = c.workload.strip_suffix("-audited")?;
        self.cells.iter().find(|b| {
            b.workload == name
                && b.storage == c.storage
                && b.concurrency == c.concurrency
                && b.arca.is_some()
        })
    }

    /// Appends the table of the cells measured under plugin reloads (nothing when none were).
    fn reload_table(&self, s: &mut String) {
        let rows: Vec<(&Cell, &Summary, &Summary)> = self
            .cells
            .iter()
            .filter_map(|c| match (&c.arca, &c.openbao) {
                (Some(a), Some(o)) if a.reloads.is_some() && o.reloads.is_some() => Some((c, a, o)),
                _ => None,
            })
            .collect();
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(
            s,
            "| storage | under reload | conc | requests A/O | failed A/O | Arca p50 ms | OpenBao p50 ms | Arca p99 ms | OpenBao p99 ms | Arca max ms | OpenBao max ms | reloads A/O | failed reloads A/O | reload p50 ms A/O |"
        );
        let _ = writeln!(
            s,
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for (c, a, o) in rows {
            let (ra, ro) = match (&a.reloads, &o.reloads) {
                (Some(ra), Some(ro)) => (ra, ro),
                _ => continue,
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {}/{} | {}/{} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | {}/{} | {}/{} | {:.1}/{:.1} |",
                c.storage,
                c.workload,
                c.concurrency,
                a.requests,
                o.requests,
                a.errors,
                o.errors,
                a.p50_ms,
                o.p50_ms,
                a.p99_ms,
                o.p99_ms,
                a.max_ms,
                o.max_ms,
                ra.done,
                ro.done,
                ra.failed,
                ro.failed,
                ra.p50_ms,
                ro.p50_ms
            );
        }
        let _ = writeln!(s);
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{r:.2}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn summary(rps: f64, p50: f64) -> Summary {
        Summary {
            requests: 100,
            errors: 0,
            elapsed_s: 1.0,
            rps,
            p50_ms: p50,
            p99_ms: p50 * 3.0,
            max_ms: p50 * 10.0,
            reloads: None,
            open_loop: None,
        }
    }

    pub(crate) fn under_reload(p50: f64, errors: u64, done: u64) -> Summary {
        Summary {
            errors,
            reloads: Some(crate::stats::ReloadSummary {
                done,
                failed: 0,
                p50_ms: 40.0,
                max_ms: 90.0,
            }),
            ..summary(1000.0, p50)
        }
    }

    pub(crate) fn sample_report() -> Report {
        Report {
            generated_unix: 0,
            total_s: 1.0,
            machine: Machine::current(),
            settings: RunSettings {
                concurrency: vec![1, 16],
                duration_ms: 1000,
                max_requests: 10,
                rounds: 2,
                client_threads: 1,
                reload_interval_ms: 200,
                rate: None,
            },
            servers: vec![ServerInfo {
                product: Product::Arca,
                storage: Storage::Memory,
                startup_ms: 12.0,
                ready_ms: 15.0,
                peak_rss_kib: Some(20480),
                idle: None,
                equal_work: None,
            }],
            cells: vec![
                Cell {
                    storage: Storage::Memory,
                    workload: "sys-health".into(),
                    concurrency: 1,
                    arca: Some(summary(2000.0, 0.5)),
                    openbao: Some(summary(1000.0, 1.0)),
                    skipped: None,
                    audit: None,
                    floor: None,
                },
                Cell {
                    storage: Storage::Durable,
                    workload: "kv2-read".into(),
                    concurrency: 16,
                    arca: Some(summary(8000.0, 0.5)),
                    openbao: Some(summary(4000.0, 1.0)),
                    skipped: None,
                    audit: None,
                    floor: None,
                },
                Cell {
                    storage: Storage::Memory,
                    workload: "plugin-mount-reload".into(),
                    concurrency: 0,
                    arca: None,
                    openbao: None,
                    skipped: Some("later".into()),
                    audit: None,
                    floor: None,
                },
                Cell {
                    storage: Storage::Memory,
                    workload: "plugin-mount-reload".into(),
                    concurrency: 16,
                    arca: Some(under_reload(0.5, 0, 9)),
                    openbao: Some(under_reload(2.0, 3, 8)),
                    skipped: None,
                    audit: None,
                    floor: None,
                },
            ],
            audit_servers: vec![],
            floor: None,
        }
    }

    #[test]
    fn ratios_and_table() {
        let r = sample_report();
        assert_eq!(r.cells[0].ratio_rps(), Some(2.0));
        assert_eq!(r.cells[0].ratio_p50(), Some(0.5));
        assert_eq!(r.cells[2].ratio_rps(), None);
        let t = r.table();
        assert!(t.contains(
            "| in-memory | sys-health | 1 | 2000 | 1000 | 2.00 | - | - | 0.50 | 1.00 | 0.50 |"
        ));
        assert!(t.contains("skipped: later"));
        assert!(t.contains("| Arca | in-memory | 12 | 15 | 20.0 |"));
        let json: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        assert_eq!(json["cells"][0]["ratio_rps"], 2.0);
        assert_eq!(json["cells"][0]["arca"]["rps"], 2000.0);
        assert_eq!(json["cells"][0]["storage"], "memory");
        assert!(json["cells"][0]["arca"].get("reloads").is_none());
        assert_eq!(json["cells"][3]["openbao"]["reloads"]["done"], 8);
        assert_eq!(json["cells"][3]["arca"]["max_ms"], 5.0);
    }

    #[test]
    fn equal_work_table_pairs_the_servers_of_a_storage_kind() {
        let mut r = sample_report();
        assert!(!r.table().contains("requests each"));
        let work = |rss: u64, peak: u64, errors: u64| EqualWork {
            requests_per_workload: 2000,
            workloads: vec!["kv2-write".into(), "token-create".into()],
            errors,
            elapsed_s: 1.5,
            rss_kib: Some(rss),
            peak_rss_kib: Some(peak),
        };
        r.servers[0].equal_work = Some(work(20480, 30720, 0));
        // One server alone makes no row: the table compares both.
        assert!(!r.table().contains("requests each"));
        r.servers.push(ServerInfo {
            product: Product::OpenBao,
            equal_work: Some(work(102400, 122880, 2)),
            ..r.servers[0].clone()
        });
        let t = r.table();
        assert!(
            t.contains(
                "| in-memory | 2 | 2000 | 0/2 | 1.5 | 1.5 | 20.0 | 100.0 | 0.20 | 30.0 | 120.0 | 0.25 |"
            ),
            "{t}"
        );
        let json: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        assert_eq!(json["servers"][1]["equal_work"]["rss_kib"], 102400);
    }

    #[test]
    fn reload_table_lists_failures_and_reloads() {
        let r = sample_report();
        let t = r.table();
        assert!(t.contains("| storage | under reload |"), "{t}");
        assert!(
            t.contains(
                "| in-memory | plugin-mount-reload | 16 | 100/100 | 0/3 | 0.50 | 2.00 | 1.50 | 6.00 | 5.0 | 20.0 | 9/8 | 0/0 | 40.0/40.0 |"
            ),
            "{t}"
        );
        let mut plain = sample_report();
        plain.cells.truncate(3);
        assert!(!plain.table().contains("under reload"));
    }

    #[test]
    fn audit_tables_give_volumes_and_the_cost_against_the_unaudited_twin() {
        use crate::audit::{AuditVolume, AuditVolumes};
        let mut r = sample_report();
        assert!(!r.table().contains("audited workload"));
        r.cells.push(Cell {
            storage: Storage::Durable,
            workload: "kv2-read-audited".into(),
            concurrency: 16,
            arca: Some(summary(4000.0, 0.5)),
            openbao: Some(summary(1000.0, 1.0)),
            skipped: None,
            audit: Some(AuditVolumes {
                arca: AuditVolume::new(3000, 3, 1),
                openbao: AuditVolume::new(5000, 5, 2),
            }),
            floor: None,
        });
        r.audit_servers.push(AuditServers {
            storage: Storage::Durable,
            dedicated: true,
            reason: Some("Arca refused the device".into()),
        });
        let t = r.table();
        assert!(
            t.contains("| durable | kv2-read-audited | 16 | 1000 | 1000 | 3000 | 2500 | 3/5 |"),
            "{t}"
        );
        // Arca 4000 audited vs 8000 unaudited, OpenBao 1000 vs 4000; 4x audited, 2x not.
        assert!(
            t.contains("| durable | kv2-read-audited | 16 | 0.50 | 0.25 | 4.00 | 2.00 |"),
            "{t}"
        );
        assert!(
            t.contains("second pair of servers (Arca refused the device)"),
            "{t}"
        );
        let json: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        let cell = &json["cells"][4];
        assert_eq!(cell["audit"]["arca"]["bytes_per_line"], 1000.0);
        assert_eq!(cell["audit"]["openbao"]["bytes_per_request"], 2500.0);
        assert_eq!(cell["audited_over_unaudited_rps"]["arca"], 0.5);
        assert_eq!(cell["audited_over_unaudited_rps"]["openbao"], 0.25);
        assert!(json["cells"][1].get("audited_over_unaudited_rps").is_none());
        assert!(json["cells"][1].get("audit").is_none());
        assert_eq!(json["audit_servers"][0]["dedicated"], true);
    }

    pub(crate) fn with_floor(mut r: Report) -> Report {
        r.floor = Some(Floor {
            answer: "fixed copy".into(),
            body_bytes: 250,
            runs: vec![
                FloorRun {
                    concurrency: 1,
                    summary: summary(8000.0, 0.1),
                },
                FloorRun {
                    concurrency: 16,
                    summary: summary(32000.0, 0.2),
                },
            ],
        });
        r
    }

    #[test]
    fn every_row_gives_the_floor_and_arca_as_a_fraction_of_it() {
        let r = with_floor(sample_report());
        assert_eq!(r.floor_at(16).map(|f| f.rps), Some(32000.0));
        assert_eq!(r.floor_at(64), None);
        // Arca 2000 req/s at 1 connection against a floor of 8000.
        let c0 = &r.cells[0];
        assert_eq!(r.over_floor(c0, c0.arca.as_ref()), Some(0.25));
        assert_eq!(r.over_floor(c0, c0.openbao.as_ref()), Some(0.125));
        let at64 = Cell {
            concurrency: 64,
            ..c0.clone()
        };
        assert_eq!(r.over_floor(&at64, at64.arca.as_ref()), None);
        assert_eq!(r.over_floor(c0, None), None);
        // A floor measured between the cell's rounds wins over the opening one.
        let own = Cell {
            floor: Some(summary(4000.0, 0.1)),
            ..c0.clone()
        };
        assert_eq!(r.over_floor(&own, own.arca.as_ref()), Some(0.5));
        assert_eq!(r.over_floor(&at64, Some(&summary(1.0, 1.0))), None);
        let t = r.table();
        assert!(
            t.contains("| ratio | floor req/s | Arca/floor | Arca p50 ms |"),
            "{t}"
        );
        assert!(
            t.contains(
                "| in-memory | sys-health | 1 | 2000 | 1000 | 2.00 | 8000 | 0.25 | 0.50 | 1.00 | 0.50 |"
            ),
            "{t}"
        );
        assert!(
            t.contains("| durable | kv2-read | 16 | 8000 | 4000 | 2.00 | 32000 | 0.25 |"),
            "{t}"
        );
        assert!(
            t.contains("| floor (fixed copy, 250 B body) | conc |"),
            "{t}"
        );
        assert!(
            t.contains("| GET sys/health | 16 | 32000 | 0.20 | 0.60 | 2.00 | 0 |"),
            "{t}"
        );
        let json: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        assert_eq!(json["cells"][0]["floor_rps"], 8000.0);
        assert_eq!(json["cells"][0]["arca_over_floor_rps"], 0.25);
        assert_eq!(json["cells"][0]["openbao_over_floor_rps"], 0.125);
        assert_eq!(json["cells"][2]["floor_rps"], serde_json::Value::Null);
        assert_eq!(json["floor"]["runs"][1]["summary"]["rps"], 32000.0);
        assert_eq!(json["floor"]["body_bytes"], 250);
        // Without a floor the columns are there, empty.
        let bare = sample_report().table();
        assert!(!bare.contains("| floor ("));
        assert!(bare.contains("| 2.00 | - | - | 0.50 |"), "{bare}");
    }

    #[test]
    fn open_loop_runs_get_their_own_table() {
        let mut r = with_floor(sample_report());
        assert!(!r.table().contains("open loop"));
        r.settings.rate = Some(5000.0);
        let late = |late: u64| crate::stats::OpenLoopSummary {
            target_rps: 5000.0,
            late,
            late_fraction: 0.0,
        };
        if let Some(a) = r.cells[0].arca.as_mut() {
            a.open_loop = Some(late(2));
        }
        if let Some(o) = r.cells[0].openbao.as_mut() {
            o.open_loop = Some(late(40));
        }
        let t = r.table();
        assert!(t.contains("| storage | workload (open loop) |"), "{t}");
        assert!(
            t.contains(
                "| in-memory | sys-health | 1 | 5000 | 2000 | 1000 | 8000 | 5.00 | 10.00 | 1.00 | 2/40/- |"
            ),
            "{t}"
        );
        let json: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        assert_eq!(json["settings"]["rate"], 5000.0);
        assert_eq!(json["cells"][0]["openbao"]["open_loop"]["late"], 40);
    }
}

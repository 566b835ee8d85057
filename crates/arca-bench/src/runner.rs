//! The plan of a run: for each storage kind, start Arca and OpenBao side by side, then for each
//! workload and concurrency warm both up and measure them in alternation (A B A B ...).
//! Under-reload workloads run the same way while a second task reloads the plugin.
//! Audited workloads run last in a storage kind, each cell with a fresh `file` audit device on
//! both servers (enabled before its warm-up, disabled after), so no other workload is ever
//! measured with a device enabled; their cells are then put back in table order.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::audit::{AuditVolumes, file_volume};
use crate::client::{HttpClient, new_client};
use crate::error::BenchError;
use crate::floor::FloorProcess;
use crate::load::{LoadSpec, RunOutcome, drive};
use crate::machine::Machine;
use crate::reload::{ReloadSpec, drive_under_reload};
use crate::report::{
    AuditServers, Cell, EqualWork, Floor, FloorRun, IdleRss, Report, RunSettings, ServerInfo,
};
use crate::server::{AuditEnable, Product, RunningServer, StartOptions, Storage};
use crate::stats::Samples;
use crate::workload::{LEASE_FILL, PLUGIN_NAME, SYS_HEALTH, WORKLOADS, Workload};

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The `arca` binary (release build).
    pub arca_bin: PathBuf,
    /// OpenBao's `bao` binary.
    pub bao_bin: PathBuf,
    /// Storage kinds to run, in order.
    pub storages: Vec<Storage>,
    /// Concurrency levels, in order.
    pub concurrency: Vec<usize>,
    /// Time bound of one measured run.
    pub duration: Duration,
    /// Request bound of one measured run.
    pub max_requests: u64,
    /// Measured runs per server and cell.
    pub rounds: usize,
    /// Time bound of the unmeasured warm-up per server and cell.
    pub warmup: Duration,
    /// First port; each storage kind takes four (Arca, OpenBao and OpenBao's cluster port),
    /// the floor the one after those.
    pub base_port: u16,
    /// Only workloads whose name contains one of these (all when empty).
    pub only: Vec<String>,
    /// Tokio worker threads of the load generator (recorded in the report).
    pub client_threads: usize,
    /// The example KV plugin binary (`cargo build --release -p arca-plugin --example
    /// kv_plugin`); under-reload workloads are skipped without it.
    pub plugin_bin: Option<PathBuf>,
    /// Pause between plugin reload calls (zero: back to back).
    pub reload_interval: Duration,
    /// Live leases (tokens with a long TTL) a fresh pair of servers is filled with before its
    /// idle RSS is read (0: no idle-memory measurement).
    pub idle_leases: u64,
    /// Requests per workload sent to a fresh pair of servers before their memory is compared
    /// at equal work (0: no equal-work measurement).
    pub equal_work: u64,
    /// Open loop: requests per second of every run (`None`: closed loop).
    pub rate: Option<f64>,
    /// The `arca-bench` binary that serves the floor (`arca-bench floor`); `None`: no floor.
    pub floor_bin: Option<PathBuf>,
}

/// Connections the idle-memory fill creates its tokens over.
const FILL_CONCURRENCY: usize = 16;
/// How long a filled server is left alone before its RSS is read.
const IDLE_SETTLE: Duration = Duration::from_secs(3);

/// Runs the whole plan; `progress` gets one line per step.
pub async fn run(settings: &Settings, progress: impl Fn(&str)) -> Result<Report, BenchError> {
    let started = Instant::now();
    let workloads = selected(&settings.only);
    let plugin = settings
        .plugin_bin
        .as_deref()
        .filter(|p| p.is_file() && workloads.iter().any(|w| w.needs_plugin));
    let mut servers = Vec::new();
    let mut cells = Vec::new();
    let mut audit_servers = Vec::new();
    let (audited, plain): (Vec<&Workload>, Vec<&Workload>) =
        workloads.iter().copied().partition(|w| w.audited);
    let mut floor = None;
    let mut floor_proc: Option<FloorProcess> = None;
    for (k, &storage) in settings.storages.iter().enumerate() {
        let port = settings.base_port + 4 * k as u16;
        let setup_client = new_client(4);
        progress(&format!("starting Arca and OpenBao ({storage})"));
        let opts = StartOptions {
            plugin,
            api_audit: !audited.is_empty(),
            inmem_config: false,
        };
        let (arca, bao) = start_pair(settings, storage, port, &setup_client, opts).await?;
        for server in [&arca, &bao] {
            run_setup(server, &setup_client, &workloads).await?;
        }
        if let (Some(bin), None) = (&settings.floor_bin, &floor) {
            let floor_port = settings.base_port + 4 * settings.storages.len() as u16;
            progress(&format!(
                "floor: bare hyper server on port {floor_port}, answering a copy of {storage} Arca's sys/health"
            ));
            let (measured, process) =
                measure_floor(settings, bin, floor_port, &arca, &setup_client).await?;
            floor_proc = Some(process);
            for r in &measured.runs {
                progress(&format!(
                    "floor c{}: {:.0} req/s",
                    r.concurrency, r.summary.rps
                ));
            }
            floor = Some(Floor {
                answer: format!("copy of {storage} Arca's answer"),
                ..measured
            });
        }
        let first = cells.len();
        for w in &plain {
            if let Some(note) = skip_note(w, &arca, &bao) {
                progress(&format!("{storage} {}: skipped ({note})", w.name));
                cells.push(skipped_cell(storage, w, note));
                continue;
            }
            for &conc in &settings.concurrency {
                let (cell, _) =
                    measure(settings, storage, w, conc, &arca, &bao, floor_proc.as_ref()).await?;
                progress(&progress_line(storage, w.name, conc, &cell));
                cells.push(cell);
            }
        }
        let mut infos: Vec<ServerInfo> = [&arca, &bao]
            .iter()
            .map(|server| ServerInfo {
                product: server.product,
                storage,
                startup_ms: server.startup.as_secs_f64() * 1000.0,
                ready_ms: server.ready.as_secs_f64() * 1000.0,
                peak_rss_kib: server.peak_rss_kib(),
                idle: None,
                equal_work: None,
            })
            .collect();
        if audited.is_empty() {
            drop((arca, bao));
        } else {
            let (pair, where_) =
                audit_pair(settings, storage, port, &setup_client, arca, bao, &audited).await?;
            if let Some(reason) = &where_.reason {
                progress(&format!(
                    "{storage}: audited workloads on a second pair of servers ({reason})"
                ));
            }
            let [arca, bao] = &pair;
            for w in &audited {
                for &conc in &settings.concurrency {
                    let cell = measure_audited(
                        settings,
                        storage,
                        w,
                        conc,
                        [arca, bao],
                        &setup_client,
                        floor_proc.as_ref(),
                    )
                    .await?;
                    progress(&progress_line(storage, w.name, conc, &cell));
                    cells.push(cell);
                }
            }
            audit_servers.push(where_);
        }
        cells[first..].sort_by_key(|c| WORKLOADS.iter().position(|w| w.name == c.workload));
        let same_work: Vec<&Workload> = plain.iter().copied().filter(|w| !w.needs_plugin).collect();
        if settings.equal_work > 0 && !same_work.is_empty() {
            for info in infos.iter_mut() {
                let product = info.product;
                progress(&format!(
                    "{storage} equal work: a fresh {product}, {} requests of each of {} workloads",
                    settings.equal_work,
                    same_work.len()
                ));
                let server = start_fresh(settings, product, storage, port, &setup_client).await?;
                run_setup(&server, &setup_client, &same_work).await?;
                let done = equal_work(&server, &same_work, settings.equal_work).await?;
                progress(&format!(
                    "{storage} equal work {product}: RSS {} KiB, peak {} KiB ({} failed requests)",
                    done.rss_kib.unwrap_or(0),
                    done.peak_rss_kib.unwrap_or(0),
                    done.errors
                ));
                info.equal_work = Some(done);
            }
        }
        if settings.idle_leases > 0 {
            for info in infos.iter_mut() {
                let product = info.product;
                progress(&format!(
                    "{storage} idle RSS: filling a fresh {product} with {} leases",
                    settings.idle_leases
                ));
                let server = start_fresh(settings, product, storage, port, &setup_client).await?;
                let idle = idle_rss(&server, settings.idle_leases).await?;
                progress(&format!(
                    "{storage} idle RSS {product}: {} KiB before, {} KiB with {} leases ({} failed creates)",
                    idle.before_kib.unwrap_or(0),
                    idle.after_kib.unwrap_or(0),
                    idle.leases,
                    idle.errors
                ));
                info.idle = Some(idle);
            }
        }
        servers.extend(infos);
    }
    Ok(Report {
        generated_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        total_s: started.elapsed().as_secs_f64(),
        machine: Machine::current(),
        settings: RunSettings {
            concurrency: settings.concurrency.clone(),
            duration_ms: u64::try_from(settings.duration.as_millis()).unwrap_or(u64::MAX),
            max_requests: settings.max_requests,
            rounds: settings.rounds,
            client_threads: settings.client_threads,
            reload_interval_ms: u64::try_from(settings.reload_interval.as_millis())
                .unwrap_or(u64::MAX),
            rate: settings.rate,
        },
        servers,
        cells,
        audit_servers,
        floor,
    })
}

/// The workloads of [`WORKLOADS`] that `only` selects: those whose name contains one of its
/// entries, or all of them when it is empty. (The 3-node cluster workload, [`crate::raft3`],
/// is not among them: it runs only when `--only` names it.)
pub fn selected(only: &[String]) -> Vec<&'static Workload> {
    WORKLOADS
        .iter()
        .filter(|w| only.is_empty() || only.iter().any(|o| w.name.contains(o.as_str())))
        .collect()
}

/// Starts the floor server on `port` answering a copy of `arca`'s `sys/health` answer and
/// measures it with `GET sys/health` at every concurrency level: the same warm-up and rounds
/// as a server gets (alone: it does not depend on the storage kind, so once per run). The
/// process is returned running: every cell measures it again between its rounds.
async fn measure_floor(
    settings: &Settings,
    bin: &std::path::Path,
    port: u16,
    arca: &RunningServer,
    client: &HttpClient,
) -> Result<(Floor, FloorProcess), BenchError> {
    let floor = FloorProcess::start(bin, port, Some(&arca.base), client).await?;
    let answer = crate::floor::HealthAnswer::copy_from(client, &floor.base).await?;
    let mut runs = Vec::new();
    for &conc in &settings.concurrency {
        let client = new_client(conc);
        drive(
            &client,
            &floor.base,
            arca.token(),
            &SYS_HEALTH,
            load_spec(settings, conc, settings.warmup),
        )
        .await?;
        let mut samples = Samples::default();
        for _ in 0..settings.rounds {
            let out = drive(
                &client,
                &floor.base,
                arca.token(),
                &SYS_HEALTH,
                load_spec(settings, conc, settings.duration),
            )
            .await?;
            if let Some(e) = &out.first_error {
                eprintln!("  floor c{conc}: {} errors, first: {e}", out.errors);
            }
            add_outcome(&mut samples, out, settings.rate);
        }
        runs.push(FloorRun {
            concurrency: conc,
            summary: samples.summary(),
        });
    }
    let measured = Floor {
        answer: String::new(),
        body_bytes: answer.body.len(),
        runs,
    };
    Ok((measured, floor))
}

/// The load of one run at `conc` for `duration`, open loop when the settings give a rate.
pub(crate) fn load_spec(settings: &Settings, conc: usize, duration: Duration) -> LoadSpec {
    LoadSpec {
        concurrency: conc,
        duration,
        max_requests: settings.max_requests,
        rate: settings.rate,
    }
}

/// Adds one run to `samples`, with its late requests when it ran open loop at `rate`.
pub(crate) fn add_outcome(samples: &mut Samples, out: RunOutcome, rate: Option<f64>) {
    if let (Some(rate), Some(late)) = (rate, out.late) {
        samples.add_late(rate, late);
    }
    samples.add_run(out.latencies_us, out.errors, out.elapsed_s);
}

/// Starts Arca on `port` and OpenBao on `port + 2`, with the same storage kind and options.
async fn start_pair(
    settings: &Settings,
    storage: Storage,
    port: u16,
    client: &HttpClient,
    opts: StartOptions<'_>,
) -> Result<(RunningServer, RunningServer), BenchError> {
    let arca = RunningServer::start(
        Product::Arca,
        storage,
        &settings.arca_bin,
        port,
        client,
        opts,
    )
    .await?;
    let bao = RunningServer::start(
        Product::OpenBao,
        storage,
        &settings.bao_bin,
        port + 2,
        client,
        opts,
    )
    .await?;
    Ok((arca, bao))
}

/// Starts a fresh server of `product` for a memory measurement, on the port its product has
/// in the pair (Arca `port`, OpenBao `port + 2`), with default options.
async fn start_fresh(
    settings: &Settings,
    product: Product,
    storage: Storage,
    port: u16,
    client: &HttpClient,
) -> Result<RunningServer, BenchError> {
    let (bin, port) = match product {
        Product::Arca => (&settings.arca_bin, port),
        Product::OpenBao => (&settings.bao_bin, port + 2),
    };
    RunningServer::start(product, storage, bin, port, client, StartOptions::default()).await
}

/// Sends every setup step of `workloads` to `server`.
async fn run_setup(
    server: &RunningServer,
    client: &HttpClient,
    workloads: &[&Workload],
) -> Result<(), BenchError> {
    for w in workloads {
        for step in w.setup {
            let body: Value = serde_json::from_str(step.body)?;
            server
                .expect_ok(client, step.method, step.path, &body)
                .await?;
        }
    }
    Ok(())
}

/// A cell for a workload that was not run, and why.
fn skipped_cell(storage: Storage, w: &Workload, note: String) -> Cell {
    Cell {
        storage,
        workload: w.name.into(),
        concurrency: 0,
        arca: None,
        openbao: None,
        skipped: Some(note),
        audit: None,
        floor: None,
    }
}

/// The pair the audited workloads run on: the running one when both of its servers accept an
/// audit device over the API (tried once, then disabled again); otherwise, once the running
/// pair is stopped, a second pair on the same ports started from config files that allow it
/// (in-memory ones from `storage "inmem"`, initialised over the API), given the audited
/// workloads' setup. Arca's dev mode reads no `-config` file, so its dev server refuses.
async fn audit_pair(
    settings: &Settings,
    storage: Storage,
    port: u16,
    client: &HttpClient,
    arca: RunningServer,
    bao: RunningServer,
    audited: &[&Workload],
) -> Result<([RunningServer; 2], AuditServers), BenchError> {
    let mut refusals = Vec::new();
    for server in [&arca, &bao] {
        match server.enable_file_audit(client, "audit-probe.log").await? {
            (file, AuditEnable::Enabled) => {
                server.disable_audit(client).await?;
                remove_quietly(&file);
            }
            (_, AuditEnable::Refused { status, body }) => {
                refusals.push(format!(
                    "{} refused the device: {status} {body}",
                    server.product
                ));
            }
        }
    }
    if refusals.is_empty() {
        let where_ = AuditServers {
            storage,
            dedicated: false,
            reason: None,
        };
        return Ok(([arca, bao], where_));
    }
    drop((arca, bao));
    let opts = StartOptions {
        plugin: None,
        api_audit: true,
        inmem_config: storage == Storage::Memory,
    };
    let (arca, bao) = start_pair(settings, storage, port, client, opts).await?;
    for server in [&arca, &bao] {
        run_setup(server, client, audited).await?;
    }
    let where_ = AuditServers {
        storage,
        dedicated: true,
        reason: Some(refusals.join("; ")),
    };
    Ok(([arca, bao], where_))
}

/// Measures an audited workload: a fresh device on both servers, the usual warm-up and
/// rounds, then what each device wrote; the devices are disabled and their files removed
/// after. A server refusing the device makes the cell a skipped one, with its answer.
async fn measure_audited(
    settings: &Settings,
    storage: Storage,
    w: &Workload,
    conc: usize,
    [arca, bao]: [&RunningServer; 2],
    client: &HttpClient,
    floor: Option<&FloorProcess>,
) -> Result<Cell, BenchError> {
    let file_name = format!("audit-{}-c{conc}.log", w.name);
    let mut files = Vec::new();
    let mut refusal = None;
    for server in [arca, bao] {
        match server.enable_file_audit(client, &file_name).await? {
            (file, AuditEnable::Enabled) => files.push(file),
            (_, AuditEnable::Refused { status, body }) => {
                refusal = Some(format!(
                    "{} refused the device: {status} {body}",
                    server.product
                ));
                break;
            }
        }
    }
    let result = match refusal {
        Some(note) => Ok(Cell {
            concurrency: conc,
            ..skipped_cell(storage, w, note)
        }),
        None => {
            async {
                let (cell, [sent_a, sent_o]) =
                    measure(settings, storage, w, conc, arca, bao, floor).await?;
                let (Some(fa), Some(fo)) = (files.first(), files.get(1)) else {
                    return Ok(cell);
                };
                let audit = AuditVolumes {
                    arca: file_volume(fa, sent_a).await?,
                    openbao: file_volume(fo, sent_o).await?,
                };
                Ok(Cell {
                    audit: Some(audit),
                    ..cell
                })
            }
            .await
        }
    };
    for (server, file) in [arca, bao].into_iter().zip(&files) {
        server.disable_audit(client).await?;
        remove_quietly(file);
    }
    result
}

/// Removes a finished audit file (it can be hundreds of MB); one left behind goes with the
/// server's temp dir anyway.
fn remove_quietly(file: &std::path::Path) {
    let _ = std::fs::remove_file(file);
}

/// Exactly `requests` requests over [`FILL_CONCURRENCY`] connections, closed loop, bounded by
/// count alone: the load of the memory measurements.
fn fill_spec(requests: u64) -> LoadSpec {
    LoadSpec {
        concurrency: FILL_CONCURRENCY,
        duration: Duration::from_secs(3600),
        max_requests: requests,
        rate: None,
    }
}

/// Fills `server` with `leases` tokens of a long TTL over [`FILL_CONCURRENCY`] connections,
/// lets it idle for [`IDLE_SETTLE`] and reads its RSS.
async fn idle_rss(server: &RunningServer, leases: u64) -> Result<IdleRss, BenchError> {
    settle().await;
    let before_kib = server.rss_kib();
    let client = new_client(FILL_CONCURRENCY);
    let spec = fill_spec(leases);
    let out = drive(&client, &server.base, server.token(), &LEASE_FILL, spec).await?;
    if let Some(e) = &out.first_error {
        eprintln!(
            "  {} lease fill: {} errors, first: {e}",
            server.product, out.errors
        );
    }
    drop(client);
    settle().await;
    Ok(IdleRss {
        leases,
        errors: out.errors,
        fill_s: out.elapsed_s,
        before_kib,
        after_kib: server.rss_kib(),
    })
}

/// Sends `requests` requests of every workload of `workloads` to `server`, one workload after
/// another over [`FILL_CONCURRENCY`] connections, lets it idle for [`IDLE_SETTLE`] and reads its
/// RSS and peak RSS: memory after the same work, whatever each server's speed.
async fn equal_work(
    server: &RunningServer,
    workloads: &[&Workload],
    requests: u64,
) -> Result<EqualWork, BenchError> {
    let client = new_client(FILL_CONCURRENCY);
    let spec = fill_spec(requests);
    let mut errors = 0;
    let mut elapsed_s = 0.0;
    for w in workloads {
        let out = drive(&client, &server.base, server.token(), w, spec).await?;
        if let Some(e) = &out.first_error {
            eprintln!(
                "  {} equal work {}: {} errors, first: {e}",
                server.product, w.name, out.errors
            );
        }
        errors += out.errors;
        elapsed_s += out.elapsed_s;
    }
    drop(client);
    settle().await;
    Ok(EqualWork {
        requests_per_workload: requests,
        workloads: workloads.iter().map(|w| w.name.to_string()).collect(),
        errors,
        elapsed_s,
        rss_kib: server.rss_kib(),
        peak_rss_kib: server.peak_rss_kib(),
    })
}

/// The pause before an idle RSS reading (the bench measures memory at rest, so it waits).
async fn settle() {
    tokio::time::sleep(IDLE_SETTLE).await;
}

/// One progress line for a measured cell: requests/s, and failures and reloads when reloaded.
fn progress_line(storage: Storage, name: &str, conc: usize, cell: &Cell) -> String {
    let part = |s: Option<&crate::stats::Summary>| match s {
        None => "-".to_string(),
        Some(s) => match &s.reloads {
            None => format!("{:.0} req/s", s.rps),
            Some(r) => format!(
                "{:.0} req/s, {} failed, max {:.1} ms, {} reloads",
                s.rps, s.errors, s.max_ms, r.done
            ),
        },
    };
    format!(
        "{storage} {name} c{conc}: Arca {}; OpenBao {}",
        part(cell.arca.as_ref()),
        part(cell.openbao.as_ref())
    )
}

/// Why `w` cannot run on this pair of servers, if it cannot.
fn skip_note(w: &Workload, arca: &RunningServer, bao: &RunningServer) -> Option<String> {
    (w.needs_plugin && !(arca.has_plugin && bao.has_plugin)).then(|| {
        "no plugin binary (build it: cargo build --release -p arca-plugin --example kv_plugin)"
            .to_string()
    })
}

/// Measures `w` at `conc` on both servers: a warm-up each, then the rounds interleaved. With
/// a floor, each round starts with one run of `GET sys/health` on it at the same concurrency
/// and length, so the cell's floor fraction compares runs seconds apart under the same machine
/// load. Returns the cell and, per server, the requests completed (warm-up included).
async fn measure(
    settings: &Settings,
    storage: Storage,
    w: &Workload,
    conc: usize,
    arca: &RunningServer,
    bao: &RunningServer,
    floor: Option<&FloorProcess>,
) -> Result<(Cell, [u64; 2]), BenchError> {
    let pair = [(arca, new_client(conc)), (bao, new_client(conc))];
    let floor = floor.map(|f| (f, new_client(conc)));
    let warm = load_spec(settings, conc, settings.warmup);
    let mut sent = [0u64; 2];
    for (i, (server, client)) in pair.iter().enumerate() {
        let out = drive(client, &server.base, server.token(), w, warm).await?;
        sent[i] += out.latencies_us.len() as u64;
    }
    if let Some((f, client)) = &floor {
        drive(client, &f.base, arca.token(), &SYS_HEALTH, warm).await?;
    }
    let spec = load_spec(settings, conc, settings.duration);
    let reload = ReloadSpec {
        plugin: PLUGIN_NAME.to_string(),
        interval: settings.reload_interval,
    };
    let reload_client = new_client(1);
    let mut samples = [Samples::default(), Samples::default()];
    let mut floor_samples = Samples::default();
    for _ in 0..settings.rounds {
        if let Some((f, client)) = &floor {
            let out = drive(client, &f.base, arca.token(), &SYS_HEALTH, spec).await?;
            if let Some(e) = &out.first_error {
                eprintln!(
                    "  floor (in {storage} {} c{conc}): {} errors, first: {e}",
                    w.name, out.errors
                );
            }
            add_outcome(&mut floor_samples, out, settings.rate);
        }
        for (i, (server, client)) in pair.iter().enumerate() {
            let out = if w.under_reload {
                let (out, reloads) = drive_under_reload(
                    client,
                    &reload_client,
                    &server.base,
                    server.token(),
                    w,
                    spec,
                    &reload,
                )
                .await?;
                if let Some(e) = &reloads.first_error {
                    eprintln!(
                        "  {} {storage} {} c{conc}: {} failed reloads, first: {e}",
                        server.product, w.name, reloads.failed
                    );
                }
                samples[i].add_reloads(reloads.durations_us, reloads.failed);
                out
            } else {
                drive(client, &server.base, server.token(), w, spec).await?
            };
            if let Some(e) = &out.first_error {
                eprintln!(
                    "  {} {storage} {} c{conc}: {} errors, first: {e}",
                    server.product, w.name, out.errors
                );
            }
            sent[i] += out.latencies_us.len() as u64;
            add_outcome(&mut samples[i], out, settings.rate);
        }
    }
    let cell = Cell {
        storage,
        workload: w.name.into(),
        concurrency: conc,
        arca: Some(samples[0].summary()),
        openbao: Some(samples[1].summary()),
        skipped: None,
        audit: None,
        floor: floor.map(|_| floor_samples.summary()),
    };
    Ok((cell, sent))
}

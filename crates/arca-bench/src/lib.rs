//! `arca-bench`: drives Arca and OpenBao with the same load generator, on the same storage kind,
//! interleaving the two servers run by run, and reports requests/s, p50/p99 latency, their
//! Arca/OpenBao ratios, peak RSS and start-up time as a table, JSON and a PNG chart.
//!
//! Layout: [`workload`] holds the table of workloads (one entry each), [`load`] the keep-alive
//! hyper load generator (closed loop) and [`open_loop`] its constant-rate mode, [`reload`] the
//! plugin reloads run beside it, [`server`] the processes under test, [`floor`] the bare hyper
//! server every workload is compared with, [`audit`] the audit device of the `-audited`
//! workloads, [`runner`] the interleaved plan, [`report`] the numbers and their table,
//! [`chart`] the PNG, [`callgrind`] the instruction counts per request, [`raft3`] the
//! 3-node cluster workload (its own clusters and report).

pub mod audit;
pub mod callgrind;
pub mod chart;
pub mod client;
pub mod error;
pub mod floor;
pub mod load;
pub mod machine;
pub mod open_loop;
pub mod raft3;
pub mod reload;
pub mod report;
pub mod runner;
pub mod server;
pub mod stats;
pub mod transit_cost;
pub mod workload;

pub use error::BenchError;

//! Measures barrier throughput for a 100-byte value: raw AES-256-GCM encrypt+decrypt through
//! a [`TermCipher`], and a full `put` + `get` through an unsealed [`Barrier`] over an
//! in-memory backend.
//!
//! Run with `cargo run --release -p arca-barrier --example barrier_speed [iterations]`.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arca_barrier::{Barrier, TermCipher, generate_key};
use arca_storage::InmemBackend;

const VALUE_LEN: usize = 100;

fn report(label: &str, ops: u64, elapsed: Duration) {
    let per_sec = ops as f64 / elapsed.as_secs_f64();
    let ns = elapsed.as_nanos() as f64 / ops as f64;
    println!("{label:<32} {per_sec:>12.0} ops/s  ({ns:.0} ns/op, {ops} ops)");
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let iterations: u64 = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 200_000,
    };
    let value = [0x42u8; VALUE_LEN];
    let path = "logical/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/secret/data/app";

    // 1. The cipher alone: encrypt then decrypt, one op = both.
    let key = generate_key()?;
    let cipher = TermCipher::new(1, &key)?;
    let start = Instant::now();
    for _ in 0..iterations {
        let blob = cipher.encrypt(path.as_bytes(), &value)?;
        let plain = cipher.decrypt(path.as_bytes(), blob)?;
        if plain.len() != VALUE_LEN {
            return Err("round trip changed the length".into());
        }
    }
    report("cipher encrypt+decrypt", iterations, start.elapsed());

    // 2. The barrier over an in-memory backend: put then get, one op = both.
    let barrier = Barrier::new(Arc::new(InmemBackend::new()));
    let root = generate_key()?;
    barrier.initialize(&root).await?;
    barrier.unseal(&root).await?;
    let start = Instant::now();
    for _ in 0..iterations {
        barrier.put(path, &value).await?;
        let plain = barrier.get(path).await?.ok_or("value vanished")?;
        if plain.len() != VALUE_LEN {
            return Err("round trip changed the length".into());
        }
    }
    report("barrier put+get (in-memory)", iterations, start.elapsed());
    Ok(())
}

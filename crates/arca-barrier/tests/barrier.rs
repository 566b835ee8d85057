//! End-to-end behaviour of the barrier, the keyring and the seal's stored keys over an
//! in-memory physical backend.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::sync::Arc;

use arca_barrier::aead::{HEADER_LEN, blob_term};
use arca_barrier::shamir;
use arca_barrier::{
    Barrier, BarrierError, BarrierOp, KEYRING_PATH, ROOT_KEY_PATH, SealConfig, generate_key,
    read_seal_config, recover_root_key, store_root_key, write_seal_config,
};
use arca_storage::PhysicalBackend;
use support::MemBackend;
use zeroize::Zeroizing;

const MARKER: &[u8] = b"MARKER-7f3a9c-plaintext-must-not-reach-storage";

/// An initialized, unsealed barrier, its backend and its root key.
async fn unsealed() -> (Barrier, Arc<MemBackend>, Zeroizing<Vec<u8>>) {
    let mem = Arc::new(MemBackend::default());
    let barrier = Barrier::new(mem.clone());
    let root = generate_key().unwrap();
    barrier.initialize(&root).await.unwrap();
    barrier.unseal(&root).await.unwrap();
    (barrier, mem, root)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn initialize_stays_sealed_and_unseal_opens() {
    let mem = Arc::new(MemBackend::default());
    let barrier = Barrier::new(mem.clone());
    assert!(!barrier.initialized().await.unwrap());
    assert!(barrier.sealed());
    let root = generate_key().unwrap();
    assert!(matches!(
        barrier.unseal(&root).await,
        Err(BarrierError::NotInitialized)
    ));

    barrier.initialize(&root).await.unwrap();
    assert!(barrier.initialized().await.unwrap());
    assert!(barrier.sealed(), "initialize must not unseal");
    assert!(matches!(
        barrier.initialize(&root).await,
        Err(BarrierError::AlreadyInitialized)
    ));
    // the keyring is stored under term 0 (the root key)
    assert_eq!(blob_term(&mem.raw(KEYRING_PATH).unwrap()).unwrap(), 0);

    barrier.unseal(&root).await.unwrap();
    assert!(!barrier.sealed());
    let info = barrier.key_info().unwrap();
    assert_eq!(info.term, 1);
    assert_eq!(info.encryptions, 0);
    // unseal again is a no-op
    barrier.unseal(&root).await.unwrap();
}

#[tokio::test]
async fn initialize_rejects_short_root_key() {
    let barrier = Barrier::new(Arc::new(MemBackend::default()));
    assert!(matches!(
        barrier.initialize(&[0u8; 16]).await,
        Err(BarrierError::InvalidKeyLength { got: 16, .. })
    ));
    assert!(!barrier.initialized().await.unwrap());
}

#[tokio::test]
async fn round_trip_and_data_api() {
    let (barrier, _mem, _root) = unsealed().await;
    assert!(barrier.get("logical/a/missing").await.unwrap().is_none());
    barrier.put("logical/a/one", b"1").await.unwrap();
    barrier.put("logical/a/two", b"").await.unwrap();
    barrier.put("logical/a/dir/three", b"3").await.unwrap();
    assert_eq!(
        barrier
            .get("logical/a/one")
            .await
            .unwrap()
            .unwrap()
            .as_slice(),
        b"1"
    );
    assert!(
        barrier
            .get("logical/a/two")
            .await
            .unwrap()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        barrier.list("logical/a/").await.unwrap(),
        vec!["dir/", "one", "two"]
    );
    assert_eq!(
        barrier.list_page("logical/a/", "dir/", 1).await.unwrap(),
        vec!["one"]
    );
    barrier.delete("logical/a/one").await.unwrap();
    assert!(barrier.get("logical/a/one").await.unwrap().is_none());
    assert_eq!(barrier.key_info().unwrap().encryptions, 3);
}

#[tokio::test]
async fn plaintext_never_reaches_physical_storage() {
    let (barrier, mem, root) = unsealed().await;
    let mut value = b"prefix ".to_vec();
    value.extend_from_slice(MARKER);
    barrier.put("logical/kv/secret", &value).await.unwrap();
    barrier
        .transaction(vec![BarrierOp::Put {
            key: "logical/kv/other".into(),
            value: Zeroizing::new(MARKER.to_vec()),
        }])
        .await
        .unwrap();
    barrier.rotate().await.unwrap();
    barrier.put("logical/kv/third", MARKER).await.unwrap();

    let snapshot = mem.snapshot();
    assert!(snapshot.len() >= 4);
    for (key, raw) in &snapshot {
        assert!(!contains(raw, MARKER), "plaintext marker found at {key}");
        assert!(!contains(raw, &root), "root key found at {key}");
    }
    assert_eq!(
        barrier
            .get("logical/kv/secret")
            .await
            .unwrap()
            .unwrap()
            .as_slice(),
        value.as_slice()
    );
}

#[tokio::test]
async fn entry_copied_to_another_path_fails() {
    let (barrier, mem, _root) = unsealed().await;
    barrier.put("logical/a/from", b"value").await.unwrap();
    let raw = mem.raw("logical/a/from").unwrap();
    mem.set_raw("logical/a/to", raw);
    assert!(matches!(
        barrier.get("logical/a/to").await,
        Err(BarrierError::Decrypt)
    ));
    assert_eq!(
        barrier
            .get("logical/a/from")
            .await
            .unwrap()
            .unwrap()
            .as_slice(),
        b"value"
    );
}

#[tokio::test]
async fn tampered_truncated_and_foreign_entries_fail() {
    let (barrier, mem, _root) = unsealed().await;
    barrier.put("k", b"value").await.unwrap();
    let raw = mem.raw("k").unwrap();

    let mut flipped = raw.clone();
    flipped[HEADER_LEN] ^= 0x01;
    mem.set_raw("k", flipped);
    assert!(matches!(barrier.get("k").await, Err(BarrierError::Decrypt)));

    mem.set_raw("k", raw[..10].to_vec());
    assert!(matches!(
        barrier.get("k").await,
        Err(BarrierError::Malformed(_))
    ));

    let mut unknown_term = raw.clone();
    unknown_term[..4].copy_from_slice(&99u32.to_be_bytes());
    mem.set_raw("k", unknown_term);
    assert!(matches!(
        barrier.get("k").await,
        Err(BarrierError::UnknownTerm(99))
    ));

    mem.set_raw("k", b"plain text that was never encrypted".to_vec());
    assert!(barrier.get("k").await.is_err());
}

#[tokio::test]
async fn rotate_keeps_old_terms_readable() {
    let (barrier, mem, root) = unsealed().await;
    barrier.put("old", b"written under term 1").await.unwrap();
    let before = barrier.key_info().unwrap();

    let info = barrier.rotate().await.unwrap();
    assert_eq!(info.term, 2);
    assert_eq!(info.encryptions, 0);
    assert!(info.install_time >= before.install_time);
    assert_eq!(barrier.key_info().unwrap(), info);

    barrier.put("new", b"written under term 2").await.unwrap();
    assert_eq!(blob_term(&mem.raw("old").unwrap()).unwrap(), 1);
    assert_eq!(blob_term(&mem.raw("new").unwrap()).unwrap(), 2);
    assert_eq!(barrier.key_info().unwrap().encryptions, 1);
    assert_eq!(
        barrier.get("old").await.unwrap().unwrap().as_slice(),
        b"written under term 1"
    );

    // the new term is persisted: after seal + unseal both terms still read
    barrier.rotate().await.unwrap();
    barrier.seal();
    barrier.unseal(&root).await.unwrap();
    assert_eq!(barrier.key_info().unwrap().term, 3);
    assert_eq!(
        barrier.get("old").await.unwrap().unwrap().as_slice(),
        b"written under term 1"
    );
    assert_eq!(
        barrier.get("new").await.unwrap().unwrap().as_slice(),
        b"written under term 2"
    );
}

#[tokio::test]
async fn sealed_barrier_refuses_everything() {
    let (barrier, _mem, _root) = unsealed().await;
    barrier.put("k", b"v").await.unwrap();
    barrier.seal();
    assert!(barrier.sealed());
    assert!(matches!(barrier.get("k").await, Err(BarrierError::Sealed)));
    assert!(matches!(
        barrier.put("k", b"v").await,
        Err(BarrierError::Sealed)
    ));
    assert!(matches!(
        barrier.delete("k").await,
        Err(BarrierError::Sealed)
    ));
    assert!(matches!(barrier.list("").await, Err(BarrierError::Sealed)));
    assert!(matches!(
        barrier.list_page("", "", 0).await,
        Err(BarrierError::Sealed)
    ));
    assert!(matches!(
        barrier
            .transaction(vec![BarrierOp::Delete { key: "k".into() }])
            .await,
        Err(BarrierError::Sealed)
    ));
    assert!(matches!(barrier.rotate().await, Err(BarrierError::Sealed)));
    assert!(matches!(barrier.key_info(), Err(BarrierError::Sealed)));
    assert!(matches!(
        barrier.rekey(&generate_key().unwrap()).await,
        Err(BarrierError::Sealed)
    ));
}

#[tokio::test]
async fn unseal_with_wrong_key_fails() {
    let mem = Arc::new(MemBackend::default());
    let barrier = Barrier::new(mem.clone());
    let root = generate_key().unwrap();
    barrier.initialize(&root).await.unwrap();

    let wrong = generate_key().unwrap();
    assert!(matches!(
        barrier.unseal(&wrong).await,
        Err(BarrierError::InvalidKey)
    ));
    assert!(matches!(
        barrier.unseal(&root[..31]).await,
        Err(BarrierError::InvalidKey)
    ));
    assert!(matches!(
        barrier.unseal(b"").await,
        Err(BarrierError::InvalidKey)
    ));
    assert!(barrier.sealed());
    let message = BarrierError::InvalidKey.to_string();
    assert_eq!(message, "Unseal failed, invalid key");

    barrier.unseal(&root).await.unwrap();
    assert!(!barrier.sealed());
}

#[tokio::test]
async fn rekey_replaces_the_root_key() {
    let (barrier, _mem, old_root) = unsealed().await;
    barrier.put("data", b"survives rekey").await.unwrap();
    let new_root = generate_key().unwrap();
    barrier.rekey(&new_root).await.unwrap();
    // still unsealed, data keys unchanged
    assert_eq!(barrier.key_info().unwrap().term, 1);
    assert_eq!(
        barrier.get("data").await.unwrap().unwrap().as_slice(),
        b"survives rekey"
    );

    barrier.seal();
    assert!(matches!(
        barrier.unseal(&old_root).await,
        Err(BarrierError::InvalidKey)
    ));
    barrier.unseal(&new_root).await.unwrap();
    assert_eq!(
        barrier.get("data").await.unwrap().unwrap().as_slice(),
        b"survives rekey"
    );
}

#[tokio::test]
async fn transaction_encrypts_each_value_with_its_path() {
    let (barrier, mem, _root) = unsealed().await;
    barrier.put("t/gone", b"x").await.unwrap();
    barrier
        .transaction(vec![
            BarrierOp::Put {
                key: "t/a".into(),
                value: Zeroizing::new(b"A".to_vec()),
            },
            BarrierOp::Put {
                key: "t/b".into(),
                value: Zeroizing::new(b"B".to_vec()),
            },
            BarrierOp::Delete {
                key: "t/gone".into(),
            },
        ])
        .await
        .unwrap();
    assert_eq!(barrier.get("t/a").await.unwrap().unwrap().as_slice(), b"A");
    assert_eq!(barrier.get("t/b").await.unwrap().unwrap().as_slice(), b"B");
    assert!(barrier.get("t/gone").await.unwrap().is_none());
    // swapping the two ciphertexts breaks both: each is bound to its own path
    let a = mem.raw("t/a").unwrap();
    let b = mem.raw("t/b").unwrap();
    mem.set_raw("t/a", b);
    mem.set_raw("t/b", a);
    assert!(barrier.get("t/a").await.is_err());
    assert!(barrier.get("t/b").await.is_err());
}

#[tokio::test]
async fn barrier_records_cannot_be_overwritten_through_the_data_api() {
    let (barrier, _mem, root) = unsealed().await;
    for path in [KEYRING_PATH, ROOT_KEY_PATH, "core/seal-config"] {
        assert!(matches!(
            barrier.put(path, b"x").await,
            Err(BarrierError::ProtectedPath(_))
        ));
        assert!(matches!(
            barrier.delete(path).await,
            Err(BarrierError::ProtectedPath(_))
        ));
        assert!(matches!(
            barrier
                .transaction(vec![BarrierOp::Delete { key: path.into() }])
                .await,
            Err(BarrierError::ProtectedPath(_))
        ));
    }
    barrier.seal();
    barrier.unseal(&root).await.unwrap();
}

#[tokio::test]
async fn seal_config_round_trip() {
    let mem = MemBackend::default();
    assert!(read_seal_config(&mem).await.unwrap().is_none());
    let config = SealConfig::shamir(5, 3);
    write_seal_config(&mem, &config).await.unwrap();
    assert_eq!(read_seal_config(&mem).await.unwrap(), Some(config));
    // stored as plaintext JSON, like Vault
    let raw: serde_json::Value =
        serde_json::from_slice(&mem.raw("core/seal-config").unwrap()).unwrap();
    assert_eq!(raw["secret_shares"], 5);
    assert!(
        write_seal_config(&mem, &SealConfig::shamir(2, 3))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn root_key_stored_under_unseal_key() {
    let mem = MemBackend::default();
    let unseal_key = generate_key().unwrap();
    let root = generate_key().unwrap();
    assert!(matches!(
        recover_root_key(&mem, &unseal_key).await,
        Err(BarrierError::NotInitialized)
    ));
    store_root_key(&mem, &unseal_key, &root).await.unwrap();
    let raw = mem.raw(ROOT_KEY_PATH).unwrap();
    assert!(!contains(&raw, &root));
    assert_eq!(blob_term(&raw).unwrap(), 0);
    assert_eq!(
        recover_root_key(&mem, &unseal_key)
            .await
            .unwrap()
            .as_slice(),
        root.as_slice()
    );
    assert!(matches!(
        recover_root_key(&mem, &generate_key().unwrap()).await,
        Err(BarrierError::InvalidKey)
    ));
    assert!(matches!(
        recover_root_key(&mem, &unseal_key[..16]).await,
        Err(BarrierError::InvalidKey)
    ));
}

/// The whole Shamir seal flow: init splits the unseal key, unseal combines a threshold.
#[tokio::test]
async fn shamir_init_and_unseal_flow() {
    let mem = Arc::new(MemBackend::default());
    let physical: &dyn PhysicalBackend = mem.as_ref();
    let barrier = Barrier::new(mem.clone());

    // init
    let config = SealConfig::shamir(5, 3);
    let unseal_key = generate_key().unwrap();
    let root = generate_key().unwrap();
    let shares = shamir::split(&unseal_key, 5, 3).unwrap();
    barrier.initialize(&root).await.unwrap();
    store_root_key(physical, &unseal_key, &root).await.unwrap();
    write_seal_config(physical, &config).await.unwrap();
    drop(unseal_key);

    // unseal with shares 4, 1, 2
    let config = read_seal_config(physical).await.unwrap().unwrap();
    let chosen: Vec<&[u8]> = [4, 1, 2].iter().map(|&i| shares[i].as_slice()).collect();
    assert_eq!(chosen.len(), config.secret_threshold);
    let unseal_key = shamir::combine(&chosen).unwrap();
    let root_again = recover_root_key(physical, &unseal_key).await.unwrap();
    barrier.unseal(&root_again).await.unwrap();
    barrier.put("x", b"y").await.unwrap();

    // two shares give a wrong unseal key
    barrier.seal();
    let too_few = shamir::combine(&chosen[..2]).unwrap();
    assert!(matches!(
        recover_root_key(physical, &too_few).await,
        Err(BarrierError::InvalidKey)
    ));
}

/// The dev-mode flow: one share, threshold one, the share is the unseal key itself.
#[tokio::test]
async fn single_share_flow() {
    let mem = Arc::new(MemBackend::default());
    let barrier = Barrier::new(mem.clone());
    let unseal_key = generate_key().unwrap();
    let root = generate_key().unwrap();
    let shares = shamir::split(&unseal_key, 1, 1).unwrap();
    assert_eq!(shares[0].as_slice(), unseal_key.as_slice());
    barrier.initialize(&root).await.unwrap();
    store_root_key(mem.as_ref(), &unseal_key, &root)
        .await
        .unwrap();

    let key = shamir::combine(&[&shares[0]]).unwrap();
    let root_again = recover_root_key(mem.as_ref(), &key).await.unwrap();
    barrier.unseal(&root_again).await.unwrap();
    assert!(!barrier.sealed());
}

#[tokio::test]
async fn concurrent_readers_and_writers() {
    let (barrier, _mem, _root) = unsealed().await;
    let barrier = Arc::new(barrier);
    let mut tasks = Vec::new();
    for t in 0..4 {
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                let key = format!("c/{t}/{i}");
                let value = format!("value {t} {i}");
                barrier.put(&key, value.as_bytes()).await.unwrap();
                let got = barrier.get(&key).await.unwrap().unwrap();
                assert_eq!(got.as_slice(), value.as_bytes());
            }
        }));
    }
    let rotator = Arc::clone(&barrier);
    let rotations = tokio::spawn(async move {
        for _ in 0..5 {
            rotator.rotate().await.unwrap();
            tokio::task::yield_now().await;
        }
    });
    for task in tasks {
        task.await.unwrap();
    }
    rotations.await.unwrap();
    assert_eq!(barrier.key_info().unwrap().term, 6);
    for t in 0..4 {
        assert_eq!(barrier.list(&format!("c/{t}/")).await.unwrap().len(), 50);
    }
}

#[tokio::test]
async fn works_over_the_storage_crate_inmem_backend() {
    let physical = Arc::new(arca_storage::InmemBackend::new());
    let barrier = Barrier::new(physical);
    let root = generate_key().unwrap();
    barrier.initialize(&root).await.unwrap();
    barrier.unseal(&root).await.unwrap();
    barrier.put("logical/x/k", b"v").await.unwrap();
    assert_eq!(
        barrier
            .get("logical/x/k")
            .await
            .unwrap()
            .unwrap()
            .as_slice(),
        b"v"
    );
}

#[test]
fn barrier_op_debug_redacts_the_plaintext() {
    let op = BarrierOp::Put {
        key: "logical/abc".into(),
        value: Zeroizing::new(MARKER.to_vec()),
    };
    let text = format!("{op:?}");
    let marker = String::from_utf8_lossy(MARKER);
    let bytes = format!("{:?}", MARKER.to_vec());
    assert!(
        !text.contains(&*marker) && !text.contains(&bytes[1..20]),
        "{text}"
    );
    assert!(
        text.contains("<redacted>") && text.contains("logical/abc"),
        "{text}"
    );
}

#[tokio::test]
async fn a_prefix_seal_encrypts_a_second_time_and_refuses_while_sealed() {
    let (barrier, mem, root) = unsealed().await;
    let ns_key = [7u8; 32];
    let other_key = [9u8; 32];
    barrier
        .set_prefix_seal("namespaces/u1/", Some(&ns_key))
        .unwrap();
    barrier
        .put("namespaces/u1/sys/policy/p", b"tenant secret")
        .await
        .unwrap();
    barrier.put("outside", b"tenant secret").await.unwrap();
    assert_eq!(
        barrier
            .get("namespaces/u1/sys/policy/p")
            .await
            .unwrap()
            .unwrap()
            .as_slice(),
        b"tenant secret"
    );
    // The server's own keys alone do not reveal it: a second barrier over the same storage,
    // unsealed with the root key but without the namespace key, reads ciphertext.
    let plain_barrier = Barrier::new(mem.clone());
    plain_barrier.unseal(&root).await.unwrap();
    let inner = plain_barrier
        .get("namespaces/u1/sys/policy/p")
        .await
        .unwrap()
        .unwrap();
    assert!(!contains(&inner, b"tenant secret"));
    assert_eq!(
        plain_barrier
            .get("outside")
            .await
            .unwrap()
            .unwrap()
            .as_slice(),
        b"tenant secret"
    );
    // Sealed: refused; another key: refused; the right key again: read.
    barrier.set_prefix_seal("namespaces/u1/", None).unwrap();
    assert!(matches!(
        barrier.get("namespaces/u1/sys/policy/p").await,
        Err(BarrierError::NamespaceSealed)
    ));
    assert!(matches!(
        barrier.put("namespaces/u1/x", b"v").await,
        Err(BarrierError::NamespaceSealed)
    ));
    barrier
        .set_prefix_seal("namespaces/u1/", Some(&other_key))
        .unwrap();
    assert!(barrier.get("namespaces/u1/sys/policy/p").await.is_err());
    barrier
        .set_prefix_seal("namespaces/u1/", Some(&ns_key))
        .unwrap();
    assert!(barrier.get("namespaces/u1/sys/policy/p").await.is_ok());
    // Sealing the barrier forgets every namespace key.
    barrier.seal();
    barrier.unseal(&root).await.unwrap();
    let after = barrier
        .get("namespaces/u1/sys/policy/p")
        .await
        .unwrap()
        .unwrap();
    assert!(!contains(&after, b"tenant secret"));
}

//! Issue 17 end to end against one Arca dev server: every key type through encrypt/decrypt or
//! sign/verify, derived and convergent keys, batches with per-item errors and references,
//! rotation with minimum versions, trim, deletion and soft deletion, the cache following every
//! change, BYOK imports, automatic rotation by the server, CSRs and certificate chains, and the
//! CLIs (`arca write transit/...` and `bao write transit/...`). Error texts and status
//! codes are OpenBao 2.7.2's, taken from a `bao` dev server.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::transit::wrap_for_import;
use common::{Answer, Server, arca_bin, call, run_arca, run_bao, spawn_with_env};
use serde_json::{Value, json};

async fn post(s: &Server, path: &str, body: Value) -> Answer {
    call(s, "POST", path, Some("root"), Some(body)).await
}

async fn get(s: &Server, path: &str) -> Answer {
    call(s, "GET", path, Some("root"), None).await
}

fn ok(a: &Answer) -> &Value {
    assert_eq!(a.status, 200, "{}", a.body);
    &a.body["data"]
}

fn error_text(a: &Answer, status: u16) -> String {
    assert_eq!(a.status, status, "{}", a.body);
    a.body["errors"][0].as_str().unwrap_or_default().to_string()
}

fn b64(s: &[u8]) -> String {
    STANDARD.encode(s)
}

async fn encrypt(s: &Server, key: &str, body: Value) -> String {
    let a = post(s, &format!("transit/encrypt/{key}"), body).await;
    ok(&a)["ciphertext"].as_str().unwrap().to_string()
}

async fn decrypt(s: &Server, key: &str, body: Value) -> String {
    let a = post(s, &format!("transit/decrypt/{key}"), body).await;
    ok(&a)["plaintext"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn transit_engine_end_to_end() {
    // Keys due for automatic rotation are checked every second instead of every minute.
    let s = spawn_with_env(
        &arca_bin(),
        None,
        &[("ARCA_TRANSIT_ROTATE_CHECK_SECONDS", "1")],
        |port, _| {
            vec![
                "server".into(),
                "-dev".into(),
                "-dev-root-token-id=root".into(),
                format!("-dev-listen-address=127.0.0.1:{port}"),
                "-dev-no-store-token".into(),
            ]
        },
    );
    let a = post(&s, "sys/mounts/transit", json!({"type": "transit"})).await;
    assert_eq!(a.status, 204, "{}", a.body);

    every_key_type(&s).await;
    derived_and_convergent(&s).await;
    batches(&s).await;
    rotation_min_versions_and_trim(&s).await;
    errors_as_openbao(&s).await;
    datakey_hmac_hash_random(&s).await;
    bring_your_own_key(&s).await;
    automatic_rotation(&s).await;
    csr_and_certificates(&s).await;
    soft_delete(&s).await;
    cli(&s);
}

async fn soft_delete(s: &Server) {
    let msg = b64(b"soft");
    post(s, "transit/keys/sd", json!({})).await;
    let ct = encrypt(s, "sd", json!({"plaintext": msg})).await;
    let a = call(
        s,
        "DELETE",
        "transit/keys/sd/soft-delete",
        Some("root"),
        None,
    )
    .await;
    assert_eq!(ok(&a)["soft_deleted"], true);
    assert!(a.body["warnings"].is_null(), "{}", a.body);
    let refused = post(s, "transit/encrypt/sd", json!({"plaintext": msg})).await;
    assert_eq!(
        error_text(&refused, 400),
        "refusing to use soft-deleted key"
    );
    let a = call(
        s,
        "DELETE",
        "transit/keys/sd/soft-delete",
        Some("root"),
        None,
    )
    .await;
    assert_eq!(
        a.body["warnings"][0],
        "key was already marked as soft deleted"
    );
    let r = post(s, "transit/keys/sd/soft-delete-restore", json!({})).await;
    assert_eq!(ok(&r)["soft_deleted"], false);
    assert_eq!(decrypt(s, "sd", json!({"ciphertext": ct})).await, msg);
    let r = post(s, "transit/keys/sd/soft-delete-restore", json!({})).await;
    assert_eq!(r.body["warnings"][0], "key was already restored");
    let none = call(
        s,
        "DELETE",
        "transit/keys/nosuch/soft-delete",
        Some("root"),
        None,
    )
    .await;
    assert_eq!(none.status, 204);
}

fn openssl(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// CSRs signed by transit keys verify with OpenSSL and carry the template's subject; a chain
/// whose leaf certifies the key is kept with the version and exported; a chain whose leaf is a
/// CA, or certifies another key, is refused.
async fn csr_and_certificates(s: &Server) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=bench-ca",
            "-days",
            "1",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-new",
            "-key",
            "ca.key",
            "-subj",
            "/CN=transit-leaf/O=Arca",
            "-out",
            "template.csr",
        ],
    );
    let template = std::fs::read_to_string(d.join("template.csr")).unwrap();
    for t in ["ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048"] {
        let key = format!("csr-{t}");
        post(s, &format!("transit/keys/{key}"), json!({"type": t})).await;
        let a = post(
            s,
            &format!("transit/keys/{key}/csr"),
            json!({"csr": template}),
        )
        .await;
        let pem = ok(&a)["csr"].as_str().unwrap().to_string();
        assert!(
            pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
            "{pem}"
        );
        std::fs::write(d.join(format!("{t}.csr")), &pem).unwrap();
        openssl(d, &["req", "-verify", "-noout", "-in", &format!("{t}.csr")]);
        let subject = openssl(
            d,
            &["req", "-noout", "-subject", "-in", &format!("{t}.csr")],
        );
        assert!(
            subject.contains("transit-leaf") && subject.contains("Arca"),
            "{subject}"
        );
    }
    // Certify the P-256 key and set the chain.
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "ecdsa-p256.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            "leaf.pem",
        ],
    );
    let leaf = std::fs::read_to_string(d.join("leaf.pem")).unwrap();
    let ca = std::fs::read_to_string(d.join("ca.pem")).unwrap();
    let chain = format!("{leaf}{ca}");
    let a = post(
        s,
        "transit/keys/csr-ecdsa-p256/set-certificate",
        json!({"certificate_chain": chain}),
    )
    .await;
    let stored = ok(&a)["certificate_chain"].as_str().unwrap().to_string();
    assert_eq!(stored.matches("BEGIN CERTIFICATE").count(), 2);
    let read = get(s, "transit/keys/csr-ecdsa-p256").await;
    assert_eq!(ok(&read)["keys"]["1"]["certificate_chain"], stored.as_str());
    let ex = get(s, "transit/export/certificate-chain/csr-ecdsa-p256/1").await;
    assert_eq!(ok(&ex)["keys"]["1"], stored.as_str());
    let bad = post(
        s,
        "transit/keys/csr-ecdsa-p384/set-certificate",
        json!({"certificate_chain": leaf}),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let ca_leaf = post(
        s,
        "transit/keys/csr-ecdsa-p256/set-certificate",
        json!({"certificate_chain": ca}),
    )
    .await;
    assert_eq!(
        error_text(&ca_leaf, 400),
        "certificate in the first element is not a valid leaf certificate"
    );
    let derived = post(s, "transit/keys/ed-derived/csr", json!({})).await;
    assert_eq!(
        error_text(&derived, 400),
        "operation not supported for keys with derivation enabled"
    );
    let aes = post(s, "transit/keys/batch/csr", json!({})).await;
    assert_eq!(
        error_text(&aes, 400),
        "key type 'aes256-gcm96' does not support signing"
    );
}

async fn bring_your_own_key(s: &Server) {
    use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
    let msg = b64(b"imported");
    // A symmetric key: the same bytes come back from export, and it encrypts.
    let aes = [7u8; 32];
    let ct = wrap_for_import(s, &aes).await;
    let a = post(
        s,
        "transit/keys/byok-aes/import",
        json!({"ciphertext": ct, "exportable": true}),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let read = get(s, "transit/keys/byok-aes").await;
    assert_eq!(ok(&read)["imported_key"], true);
    assert_eq!(ok(&read)["imported_key_allow_rotation"], false);
    let ex = get(s, "transit/export/encryption-key/byok-aes/1").await;
    assert_eq!(ok(&ex)["keys"]["1"], b64(&aes));
    let c = encrypt(s, "byok-aes", json!({"plaintext": msg})).await;
    assert_eq!(decrypt(s, "byok-aes", json!({"ciphertext": c})).await, msg);
    let again = post(s, "transit/keys/byok-aes/import", json!({"ciphertext": ct})).await;
    assert_eq!(
        error_text(&again, 400),
        "1 error occurred:\n\t* the import path cannot be used with an existing key; use import-version to rotate an existing imported key\n\n"
    );
    let rot = post(s, "transit/keys/byok-aes/rotate", json!({})).await;
    assert_eq!(
        error_text(&rot, 400),
        "1 error occurred:\n\t* imported key byok-aes does not allow rotation within Vault\n\n"
    );
    let v2 = wrap_for_import(s, &[9u8; 32]).await;
    let a = post(
        s,
        "transit/keys/byok-aes/import_version",
        json!({"ciphertext": v2}),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(
        ok(&get(s, "transit/keys/byok-aes").await)["latest_version"],
        2
    );

    // An Ed25519 PKCS#8 key: signatures verify under the public key we hold.
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let ct = wrap_for_import(s, pkcs8.as_ref()).await;
    let a = post(
        s,
        "transit/keys/byok-ed/import",
        json!({"ciphertext": ct, "type": "ed25519"}),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let read = get(s, "transit/keys/byok-ed").await;
    assert_eq!(
        ok(&read)["keys"]["1"]["public_key"],
        b64(pair.public_key().as_ref())
    );
    let sig = post(s, "transit/sign/byok-ed", json!({"input": msg})).await;
    let sig = ok(&sig)["signature"]
        .as_str()
        .unwrap()
        .trim_start_matches("vault:v1:")
        .to_string();
    UnparsedPublicKey::new(&ED25519, pair.public_key().as_ref())
        .verify(b"imported", &STANDARD.decode(sig).unwrap())
        .expect("the imported key signed");

    // An ECDSA public key alone verifies but cannot sign, until its private half comes.
    let alg = &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING;
    let ec_pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        alg,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .unwrap();
    let ec = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(alg, ec_pkcs8.as_ref()).unwrap();
    let spki = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(
        ec.public_key(),
    )
    .unwrap();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        b64(spki.as_ref())
    );
    let a = post(
        s,
        "transit/keys/byok-ec/import",
        json!({"public_key": pem, "type": "ecdsa-p256"}),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let local = ec
        .sign(&aws_lc_rs::rand::SystemRandom::new(), b"imported")
        .unwrap();
    let v = post(
        s,
        "transit/verify/byok-ec",
        json!({"input": msg, "signature": format!("vault:v1:{}", b64(local.as_ref()))}),
    )
    .await;
    assert_eq!(ok(&v)["valid"], true);
    let no = post(s, "transit/sign/byok-ec", json!({"input": msg})).await;
    assert_eq!(
        error_text(&no, 400),
        "requested version for signing does not contain a private part"
    );
    let ct = wrap_for_import(s, ec_pkcs8.as_ref()).await;
    let a = post(
        s,
        "transit/keys/byok-ec/import_version",
        json!({"ciphertext": ct, "version": 1}),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let signed = post(s, "transit/sign/byok-ec", json!({"input": msg})).await;
    assert!(
        ok(&signed)["signature"]
            .as_str()
            .unwrap()
            .starts_with("vault:v1:")
    );
    let bad = post(
        s,
        "transit/keys/byok-x/import",
        json!({"ciphertext": b64(&[1u8; 600]), "hash_function": "MD5"}),
    )
    .await;
    assert_eq!(error_text(&bad, 400), "unknown hash function: MD5");
}

async fn automatic_rotation(s: &Server) {
    post(
        s,
        "transit/keys/auto",
        json!({"exportable": true, "allow_plaintext_backup": true, "auto_rotate_period": "1h"}),
    )
    .await;
    // A key whose latest version is two hours old: restore a backup with its time moved back.
    let backup = get(s, "transit/backup/auto").await;
    let raw = STANDARD
        .decode(ok(&backup)["backup"].as_str().unwrap())
        .unwrap();
    let mut data: Value = serde_json::from_slice(&raw).unwrap();
    data["policy"]["keys"]["1"]["time"] = json!("2000-01-01T00:00:00Z");
    data["policy"]["keys"]["1"]["creation_time"] = json!(946_684_800);
    let restored = post(
        s,
        "transit/restore/auto-old",
        json!({"backup": b64(&serde_json::to_vec(&data).unwrap())}),
    )
    .await;
    assert_eq!(restored.status, 204, "{}", restored.body);
    arca_testkit::wait_until_async(
        "the server to rotate the overdue key",
        std::time::Duration::from_secs(30),
        || async {
            (ok(&get(s, "transit/keys/auto-old").await)["latest_version"] == json!(2)).then_some(())
        },
    )
    .await;
    // The fresh key is not due.
    assert_eq!(ok(&get(s, "transit/keys/auto").await)["latest_version"], 1);
}

async fn every_key_type(s: &Server) {
    let msg = b64(b"the quick brown fox");
    for t in [
        "aes128-gcm96",
        "aes256-gcm96",
        "chacha20-poly1305",
        "xchacha20-poly1305",
        "rsa-2048",
        "rsa-3072",
        "rsa-4096",
    ] {
        let key = format!("enc-{t}");
        let created = post(s, &format!("transit/keys/{key}"), json!({"type": t})).await;
        assert_eq!(ok(&created)["type"], t);
        assert_eq!(ok(&created)["supports_encryption"], true);
        let ct = encrypt(s, &key, json!({"plaintext": msg})).await;
        assert!(ct.starts_with("vault:v1:"), "{ct}");
        let again = encrypt(s, &key, json!({"plaintext": msg})).await;
        assert_ne!(ct, again, "{t}: a random nonce per encryption");
        assert_eq!(
            decrypt(s, &key, json!({"ciphertext": ct})).await,
            msg,
            "{t}"
        );
        // A flipped byte fails authentication (or RSA padding).
        let mut raw = STANDARD.decode(ct.trim_start_matches("vault:v1:")).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let bad = post(
            s,
            &format!("transit/decrypt/{key}"),
            json!({"ciphertext": format!("vault:v1:{}", b64(&raw))}),
        )
        .await;
        assert!(bad.status == 400 || bad.status == 500, "{t}: {}", bad.body);
        if !t.starts_with("rsa") {
            assert_eq!(
                error_text(&bad, 400),
                "cipher: message authentication failed"
            );
            // associated data binds the ciphertext
            let aad = b64(b"header");
            let ct = encrypt(s, &key, json!({"plaintext": msg, "associated_data": aad})).await;
            assert_eq!(
                decrypt(s, &key, json!({"ciphertext": ct, "associated_data": aad})).await,
                msg
            );
            let wrong = post(
                s,
                &format!("transit/decrypt/{key}"),
                json!({"ciphertext": ct}),
            )
            .await;
            assert_eq!(
                error_text(&wrong, 400),
                "cipher: message authentication failed"
            );
        }
    }
    for (t, opts) in [
        ("ed25519", vec![json!({})]),
        (
            "ecdsa-p256",
            vec![
                json!({}),
                json!({"marshaling_algorithm": "jws"}),
                json!({"hash_algorithm": "sha2-512"}),
            ],
        ),
        (
            "ecdsa-p384",
            vec![json!({}), json!({"hash_algorithm": "sha2-384"})],
        ),
        (
            "ecdsa-p521",
            vec![
                json!({}),
                json!({"hash_algorithm": "sha2-512", "marshaling_algorithm": "jws"}),
            ],
        ),
        (
            "rsa-2048",
            vec![
                json!({}),
                json!({"signature_algorithm": "pkcs1v15"}),
                json!({"hash_algorithm": "sha2-384", "salt_length": "hash"}),
                json!({"hash_algorithm": "sha2-512", "salt_length": "20"}),
            ],
        ),
    ] {
        let key = format!("sig-{t}");
        let created = post(s, &format!("transit/keys/{key}"), json!({"type": t})).await;
        assert_eq!(ok(&created)["supports_signing"], true);
        assert!(
            ok(&created)["keys"]["1"]["public_key"]
                .as_str()
                .unwrap()
                .len()
                > 40
                || t.starts_with("rsa")
        );
        for o in opts {
            let mut body = o.clone();
            body["input"] = json!(msg);
            let signed = post(s, &format!("transit/sign/{key}"), body.clone()).await;
            let sig = ok(&signed)["signature"].as_str().unwrap().to_string();
            assert!(sig.starts_with("vault:v1:"), "{t} {o}: {sig}");
            body["signature"] = json!(sig);
            let v = post(s, &format!("transit/verify/{key}"), body.clone()).await;
            assert_eq!(ok(&v)["valid"], true, "{t} {o}");
            body["input"] = json!(b64(b"another message"));
            let v = post(s, &format!("transit/verify/{key}"), body).await;
            assert_eq!(ok(&v)["valid"], false, "{t} {o}");
        }
        // prehashed input (ECDSA and RSA sign digests)
        if t != "ed25519" {
            let digest =
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"the quick brown fox");
            let body = json!({"input": b64(digest.as_ref()), "prehashed": true});
            let signed = post(s, &format!("transit/sign/{key}"), body).await;
            let sig = ok(&signed)["signature"].as_str().unwrap().to_string();
            let v = post(
                s,
                &format!("transit/verify/{key}"),
                json!({"input": msg, "signature": sig}),
            )
            .await;
            assert_eq!(
                ok(&v)["valid"],
                true,
                "{t}: prehashed signature verifies over the message"
            );
        }
    }
    // An HMAC-only key: hmac and verify, nothing else.
    let h = post(
        s,
        "transit/keys/mac",
        json!({"type": "hmac", "key_size": 64}),
    )
    .await;
    assert_eq!(ok(&h)["key_size"], 64);
    let mac = post(s, "transit/hmac/mac", json!({"input": msg})).await;
    let mac = ok(&mac)["hmac"].as_str().unwrap().to_string();
    let v = post(s, "transit/verify/mac", json!({"input": msg, "hmac": mac})).await;
    assert_eq!(ok(&v)["valid"], true);
    let enc = post(s, "transit/encrypt/mac", json!({"plaintext": msg})).await;
    assert_eq!(
        error_text(&enc, 400),
        "message encryption not supported for key type hmac"
    );
}

async fn derived_and_convergent(s: &Server) {
    let msg = b64(b"same input");
    let ctx = b64(b"tenant-1");
    post(s, "transit/keys/derived", json!({"derived": true})).await;
    let missing = post(s, "transit/encrypt/derived", json!({"plaintext": msg})).await;
    assert_eq!(
        error_text(&missing, 400),
        "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key"
    );
    let ct = encrypt(s, "derived", json!({"plaintext": msg, "context": ctx})).await;
    assert_eq!(
        decrypt(s, "derived", json!({"ciphertext": ct, "context": ctx})).await,
        msg
    );
    let other = post(
        s,
        "transit/decrypt/derived",
        json!({"ciphertext": ct, "context": b64(b"tenant-2")}),
    )
    .await;
    assert_eq!(
        error_text(&other, 400),
        "cipher: message authentication failed"
    );

    let conv = post(
        s,
        "transit/keys/conv",
        json!({"derived": true, "convergent_encryption": true}),
    )
    .await;
    assert_eq!(ok(&conv)["convergent_encryption"], true);
    assert_eq!(ok(&conv)["kdf"], "hkdf_sha256");
    let a = encrypt(s, "conv", json!({"plaintext": msg, "context": ctx})).await;
    let b = encrypt(s, "conv", json!({"plaintext": msg, "context": ctx})).await;
    assert_eq!(
        a, b,
        "convergent: same plaintext and context, same ciphertext"
    );
    let c = encrypt(
        s,
        "conv",
        json!({"plaintext": msg, "context": b64(b"tenant-2")}),
    )
    .await;
    assert_ne!(a, c);
    assert_eq!(
        decrypt(s, "conv", json!({"ciphertext": a, "context": ctx})).await,
        msg
    );
    // A caller's nonce is never taken: it is an unknown parameter.
    let with_nonce = post(
        s,
        "transit/encrypt/conv",
        json!({"plaintext": msg, "context": ctx, "nonce": b64(&[0u8; 12])}),
    )
    .await;
    assert_eq!(ok(&with_nonce)["ciphertext"], a);
    assert_eq!(
        with_nonce.body["warnings"][0],
        "Endpoint ignored these unrecognized parameters: [nonce]"
    );
    let bad = post(
        s,
        "transit/keys/conv2",
        json!({"convergent_encryption": true}),
    )
    .await;
    assert_eq!(
        error_text(&bad, 400),
        "convergent encryption requires derivation to be enabled"
    );

    // Derived Ed25519: the public key depends on the context.
    post(
        s,
        "transit/keys/ed-derived",
        json!({"type": "ed25519", "derived": true}),
    )
    .await;
    let signed = post(
        s,
        "transit/sign/ed-derived",
        json!({"input": msg, "context": ctx}),
    )
    .await;
    let sig = ok(&signed)["signature"].as_str().unwrap().to_string();
    let public = ok(&signed)["public_key"].as_str().unwrap().to_string();
    let read = get(
        s,
        &format!("transit/keys/ed-derived?context={}", urlencode(&ctx)),
    )
    .await;
    assert_eq!(ok(&read)["keys"]["1"]["public_key"], public.as_str());
    let v = post(
        s,
        "transit/verify/ed-derived",
        json!({"input": msg, "context": ctx, "signature": sig}),
    )
    .await;
    assert_eq!(ok(&v)["valid"], true);
    let v = post(
        s,
        "transit/verify/ed-derived",
        json!({"input": msg, "context": b64(b"x"), "signature": sig}),
    )
    .await;
    assert_eq!(ok(&v)["valid"], false);

    // Upsert on encrypt: a missing key is created with the context deciding `derived`.
    let ct = encrypt(s, "upserted", json!({"plaintext": msg, "context": ctx})).await;
    let read = get(s, "transit/keys/upserted").await;
    assert_eq!(ok(&read)["derived"], true);
    assert_eq!(
        decrypt(s, "upserted", json!({"ciphertext": ct, "context": ctx})).await,
        msg
    );
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

async fn batches(s: &Server) {
    post(s, "transit/keys/batch", json!({})).await;
    let items = json!([
        {"plaintext": b64(b"one"), "reference": "r1"},
        {"plaintext": "not base64!", "reference": "r2"},
        {"plaintext": b64(b"three"), "reference": "r3"},
    ]);
    let a = post(s, "transit/encrypt/batch", json!({"batch_input": items})).await;
    assert_eq!(a.status, 400, "one bad item: 400 with the results");
    let r = a.body["data"]["batch_results"].as_array().unwrap().clone();
    assert_eq!(r.len(), 3);
    assert_eq!(r[0]["reference"], "r1");
    assert_eq!(r[1]["reference"], "r2");
    assert_eq!(r[1]["error"], "illegal base64 data at input byte 3");
    assert!(r[1].get("ciphertext").is_none());
    assert_eq!(r[2]["key_version"], 1);
    let a = post(
        s,
        "transit/encrypt/batch",
        json!({"batch_input": items, "partial_failure_response_code": 207}),
    )
    .await;
    assert_eq!(a.status, 207);
    let dec_items: Vec<Value> = r
        .iter()
        .map(|i| json!({"ciphertext": i.get("ciphertext").cloned().unwrap_or(json!("")), "reference": i["reference"]}))
        .collect();
    let d = post(
        s,
        "transit/decrypt/batch",
        json!({"batch_input": dec_items}),
    )
    .await;
    assert_eq!(d.status, 400);
    let dr = d.body["data"]["batch_results"].as_array().unwrap();
    assert_eq!(dr[0]["plaintext"], b64(b"one"));
    assert_eq!(dr[1]["error"], "missing ciphertext to decrypt");
    assert_eq!(dr[2]["plaintext"], b64(b"three"));
    assert_eq!(dr[2]["reference"], "r3");
    // rewrap, sign, verify and hmac batches echo references too
    let rw = post(
        s,
        "transit/rewrap/batch",
        json!({"batch_input": [{"ciphertext": r[0]["ciphertext"], "reference": "x"}]}),
    )
    .await;
    assert_eq!(ok(&rw)["batch_results"][0]["reference"], "x");
    post(s, "transit/keys/batch-sig", json!({"type": "ecdsa-p256"})).await;
    let sg = post(s, "transit/sign/batch-sig", json!({"batch_input": [{"input": b64(b"a"), "reference": "s1"}, {"input": b64(b"b"), "reference": "s2"}]})).await;
    let sr = ok(&sg)["batch_results"].as_array().unwrap().clone();
    assert_eq!(sr[1]["reference"], "s2");
    let vf = post(
        s,
        "transit/verify/batch-sig",
        json!({"batch_input": [
            {"input": b64(b"a"), "signature": sr[0]["signature"], "reference": "v1"},
            {"input": b64(b"a"), "signature": sr[1]["signature"], "reference": "v2"},
        ]}),
    )
    .await;
    let vr = ok(&vf)["batch_results"].as_array().unwrap();
    assert_eq!(
        (vr[0]["valid"].clone(), vr[1]["valid"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(vr[1]["reference"], "v2");
    let hm = post(
        s,
        "transit/hmac/batch",
        json!({"batch_input": [{"input": b64(b"a"), "reference": "h1"}]}),
    )
    .await;
    assert_eq!(ok(&hm)["batch_results"][0]["reference"], "h1");
    let ctx_mix = post(s, "transit/encrypt/batch", json!({"batch_input": [{"plaintext": b64(b"a"), "context": b64(b"c")}, {"plaintext": b64(b"b")}]})).await;
    assert_eq!(
        error_text(&ctx_mix, 400),
        "context should be set either in all the request blocks or in none"
    );
    let empty = post(s, "transit/encrypt/batch", json!({"batch_input": []})).await;
    assert_eq!(error_text(&empty, 400), "missing batch input to process");
}

async fn rotation_min_versions_and_trim(s: &Server) {
    let msg = b64(b"rotate me");
    post(s, "transit/keys/rot", json!({})).await;
    let v1 = encrypt(s, "rot", json!({"plaintext": msg})).await;
    let r = post(s, "transit/keys/rot/rotate", json!({})).await;
    assert_eq!(ok(&r)["latest_version"], 2);
    // The cache follows the rotation at once.
    let v2 = encrypt(s, "rot", json!({"plaintext": msg})).await;
    assert!(v2.starts_with("vault:v2:"), "{v2}");
    post(s, "transit/keys/rot/rotate", json!({})).await;
    let old = post(
        s,
        "transit/encrypt/rot",
        json!({"plaintext": msg, "key_version": 1}),
    )
    .await;
    assert!(
        ok(&old)["ciphertext"]
            .as_str()
            .unwrap()
            .starts_with("vault:v1:")
    );
    let rw = post(s, "transit/rewrap/rot", json!({"ciphertext": v1})).await;
    assert!(
        ok(&rw)["ciphertext"]
            .as_str()
            .unwrap()
            .starts_with("vault:v3:")
    );
    assert_eq!(decrypt(s, "rot", json!({"ciphertext": v1})).await, msg);

    let c = post(
        s,
        "transit/keys/rot/config",
        json!({"min_decryption_version": 2}),
    )
    .await;
    assert_eq!(ok(&c)["min_decryption_version"], 2);
    let too_old = post(s, "transit/decrypt/rot", json!({"ciphertext": v1})).await;
    assert_eq!(
        error_text(&too_old, 400),
        "ciphertext or signature version is disallowed by policy (too old)"
    );
    assert_eq!(decrypt(s, "rot", json!({"ciphertext": v2})).await, msg);
    let bad = post(
        s,
        "transit/keys/rot/config",
        json!({"min_decryption_version": 9}),
    )
    .await;
    assert_eq!(
        error_text(&bad, 400),
        "cannot set min decryption version of 9, latest key version is 3"
    );
    let c = post(
        s,
        "transit/keys/rot/config",
        json!({"min_encryption_version": 3}),
    )
    .await;
    assert_eq!(ok(&c)["min_encryption_version"], 3);
    let low = post(
        s,
        "transit/encrypt/rot",
        json!({"plaintext": msg, "key_version": 2}),
    )
    .await;
    assert_eq!(
        error_text(&low, 400),
        "requested version for encryption is less than the minimum encryption key version"
    );
    let conflict = post(
        s,
        "transit/keys/rot/config",
        json!({"min_decryption_version": 3, "min_encryption_version": 2}),
    )
    .await;
    assert_eq!(
        error_text(&conflict, 400),
        "cannot set min encryption/decryption values; min encryption version of 2 must be greater than or equal to min decryption version of 3"
    );
    // Versions below the minimum decryption version leave the policy for the archive; going
    // back down brings them back.
    let down = post(
        s,
        "transit/keys/rot/config",
        json!({"min_decryption_version": 1}),
    )
    .await;
    assert_eq!(ok(&down)["keys"].as_object().unwrap().len(), 3);
    assert_eq!(decrypt(s, "rot", json!({"ciphertext": v1})).await, msg);

    // Trim
    let t = post(
        s,
        "transit/keys/rot/trim",
        json!({"min_available_version": 2}),
    )
    .await;
    assert_eq!(
        error_text(&t, 400),
        "minimum available version cannot be greater than minimum decryption version"
    );
    post(
        s,
        "transit/keys/rot/config",
        json!({"min_decryption_version": 2}),
    )
    .await;
    let t = post(
        s,
        "transit/keys/rot/trim",
        json!({"min_available_version": 2}),
    )
    .await;
    assert_eq!(ok(&t)["min_available_version"], 2);
    assert_eq!(
        ok(&t)["keys"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        vec!["2", "3"]
    );
    let back = post(
        s,
        "transit/keys/rot/config",
        json!({"min_decryption_version": 1}),
    )
    .await;
    assert_eq!(
        error_text(&back, 400),
        "min decryption version should not be less then min available version"
    );
    let t = post(
        s,
        "transit/keys/rot/trim",
        json!({"min_available_version": 1}),
    )
    .await;
    assert_eq!(
        error_text(&t, 400),
        "minimum available version cannot be decremented"
    );
    assert_eq!(decrypt(s, "rot", json!({"ciphertext": v2})).await, msg);

    // Deletion needs deletion_allowed.
    let del = call(s, "DELETE", "transit/keys/rot", Some("root"), None).await;
    assert_eq!(
        error_text(&del, 400),
        "error deleting policy rot: deletion is not allowed for this key"
    );
    post(
        s,
        "transit/keys/rot/config",
        json!({"deletion_allowed": true}),
    )
    .await;
    let del = call(s, "DELETE", "transit/keys/rot", Some("root"), None).await;
    assert_eq!(del.status, 204, "{}", del.body);
    let gone = post(s, "transit/decrypt/rot", json!({"ciphertext": v2})).await;
    assert_eq!(error_text(&gone, 400), "encryption key not found");
    assert_eq!(get(s, "transit/keys/rot").await.status, 404);
    let del = call(s, "DELETE", "transit/keys/rot", Some("root"), None).await;
    assert_eq!(
        error_text(&del, 400),
        "error deleting policy rot: could not delete key; not found"
    );

    let list = call(s, "LIST", "transit/keys", Some("root"), None).await;
    let keys = ok(&list)["keys"].as_array().unwrap().clone();
    assert!(
        keys.contains(&json!("batch")) && !keys.contains(&json!("rot")),
        "{keys:?}"
    );
    let page = call(
        s,
        "LIST",
        "transit/keys?after=enc-&limit=2",
        Some("root"),
        None,
    )
    .await;
    assert_eq!(ok(&page)["keys"].as_array().unwrap().len(), 2);

    // auto_rotate_period is stored and reported
    let c = post(
        s,
        "transit/keys/batch/config",
        json!({"auto_rotate_period": "2h"}),
    )
    .await;
    assert_eq!(ok(&c)["auto_rotate_period"], 7200);
    let c = post(
        s,
        "transit/keys/batch/config",
        json!({"auto_rotate_period": "10m"}),
    )
    .await;
    assert_eq!(
        error_text(&c, 400),
        "auto rotate period must be 0 to disable or at least an hour"
    );

    // cache-config
    let cc = post(s, "transit/cache-config", json!({"size": 5})).await;
    assert_eq!(
        error_text(&cc, 400),
        "size must be 0 or a value greater or equal to 10"
    );
    let cc = post(s, "transit/cache-config", json!({"size": 10})).await;
    assert_eq!(ok(&cc)["size"], 10);
    assert_eq!(ok(&get(s, "transit/cache-config").await)["size"], 10);
    // More keys than the cache holds still all work.
    for i in 0..15 {
        post(s, &format!("transit/keys/many-{i}"), json!({})).await;
    }
    for i in 0..15 {
        let ct = encrypt(s, &format!("many-{i}"), json!({"plaintext": msg})).await;
        assert_eq!(
            decrypt(s, &format!("many-{i}"), json!({"ciphertext": ct})).await,
            msg
        );
    }
    post(s, "transit/cache-config", json!({"size": 0})).await;
}

async fn errors_as_openbao(s: &Server) {
    let unknown = post(s, "transit/keys/x", json!({"type": "nope"})).await;
    assert_eq!(error_text(&unknown, 400), "unknown key type nope");
    let derived_ec = post(
        s,
        "transit/keys/x",
        json!({"type": "ecdsa-p256", "derived": true}),
    )
    .await;
    assert_eq!(
        error_text(&derived_ec, 400),
        "1 error occurred:\n\t* key derivation and convergent encryption not supported for keys of type ecdsa-p256\n\n"
    );
    let hmac_size = post(s, "transit/keys/h0", json!({"type": "hmac"})).await;
    assert_eq!(
        error_text(&hmac_size, 400),
        "1 error occurred:\n\t* invalid key size for HMAC key, must be between 32 and 512 bytes\n\n"
    );
    let short = post(
        s,
        "transit/decrypt/batch",
        json!({"ciphertext": "vault:v1:AAAA"}),
    )
    .await;
    assert_eq!(error_text(&short, 400), "invalid ciphertext length");
    let nokey = post(
        s,
        "transit/decrypt/nokey",
        json!({"ciphertext": "vault:v1:AAAA"}),
    )
    .await;
    assert_eq!(error_text(&nokey, 400), "encryption key not found");
    let bad64 = post(s, "transit/encrypt/batch", json!({"plaintext": "a"})).await;
    assert_eq!(
        error_text(&bad64, 400),
        "illegal base64 data at input byte 0"
    );
    let noprefix = post(s, "transit/decrypt/batch", json!({"ciphertext": "v1:AAAA"})).await;
    assert_eq!(error_text(&noprefix, 400), "invalid ciphertext: no prefix");
    let too_new = post(
        s,
        "transit/decrypt/batch",
        json!({"ciphertext": "vault:v9:AAAA"}),
    )
    .await;
    assert_eq!(
        error_text(&too_new, 400),
        "invalid ciphertext: version is too new"
    );
    let missing = post(s, "transit/encrypt/batch", json!({})).await;
    assert_eq!(error_text(&missing, 400), "missing plaintext to encrypt");
    let sign_aes = post(s, "transit/sign/batch", json!({"input": b64(b"x")})).await;
    assert_eq!(
        error_text(&sign_aes, 400),
        "key type aes256-gcm96 does not support signing"
    );
    let bad_hash = post(
        s,
        "transit/sign/sig-ed25519/sha2-999",
        json!({"input": b64(b"x")}),
    )
    .await;
    assert_eq!(
        error_text(&bad_hash, 400),
        "invalid hash algorithm \"sha2-999\""
    );
    assert_eq!(get(s, "transit/keys/nokey").await.status, 404);
    let no_export = get(s, "transit/export/encryption-key/batch").await;
    assert_eq!(
        error_text(&no_export, 400),
        "private key material is not exportable"
    );
    let backup = get(s, "transit/backup/batch").await;
    assert_eq!(
        error_text(&backup, 400),
        "1 error occurred:\n\t* exporting is disallowed on the policy\n\n"
    );
}

async fn datakey_hmac_hash_random(s: &Server) {
    let dk = post(s, "transit/datakey/plaintext/batch", json!({"bits": 512})).await;
    let plain = ok(&dk)["plaintext"].as_str().unwrap().to_string();
    assert_eq!(STANDARD.decode(&plain).unwrap().len(), 64);
    let ct = ok(&dk)["ciphertext"].as_str().unwrap().to_string();
    assert_eq!(decrypt(s, "batch", json!({"ciphertext": ct})).await, plain);
    let wrapped = post(s, "transit/datakey/wrapped/batch", json!({})).await;
    assert!(ok(&wrapped).get("plaintext").is_none());
    let bits = post(s, "transit/datakey/wrapped/batch", json!({"bits": 100})).await;
    assert_eq!(error_text(&bits, 400), "invalid bit length");

    // hash: the known SHA-256 of "abc"
    let h = post(s, "transit/hash", json!({"input": b64(b"abc")})).await;
    assert_eq!(
        ok(&h)["sum"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let h = post(
        s,
        "transit/hash/sha2-512",
        json!({"input": b64(b"abc"), "format": "base64"}),
    )
    .await;
    assert_eq!(
        STANDARD
            .decode(ok(&h)["sum"].as_str().unwrap())
            .unwrap()
            .len(),
        64
    );
    let r = post(s, "transit/random/48", json!({"format": "hex"})).await;
    assert_eq!(ok(&r)["random_bytes"].as_str().unwrap().len(), 96);
    let r = post(s, "transit/random", json!({})).await;
    assert_eq!(
        STANDARD
            .decode(ok(&r)["random_bytes"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );

    // hmac of a key rotated after: both versions verify, the old one by version
    let m1 = post(
        s,
        "transit/hmac/batch/sha2-384",
        json!({"input": b64(b"x")}),
    )
    .await;
    let m1 = ok(&m1)["hmac"].as_str().unwrap().to_string();
    post(s, "transit/keys/batch/rotate", json!({})).await;
    let v = post(
        s,
        "transit/verify/batch/sha2-384",
        json!({"input": b64(b"x"), "hmac": m1}),
    )
    .await;
    assert_eq!(ok(&v)["valid"], true);
    let v = post(
        s,
        "transit/verify/batch",
        json!({"input": b64(b"x"), "hmac": m1}),
    )
    .await;
    assert_eq!(ok(&v)["valid"], false, "another hash gives another MAC");
}

fn cli(s: &Server) {
    let (code, out, err) = run_arca(&s.addr, Some("root"), &["write", "-f", "transit/keys/cli"]);
    assert_eq!(code, 0, "{out}{err}");
    let pt = b64(b"hi\n");
    for run in [run_arca, run_bao] {
        let (code, out, err) = run(
            &s.addr,
            Some("root"),
            &[
                "write",
                "-field=ciphertext",
                "transit/encrypt/cli",
                &format!("plaintext={pt}"),
            ],
        );
        assert_eq!(code, 0, "{out}{err}");
        let ct = out.trim().to_string();
        assert!(ct.starts_with("vault:v1:"), "{ct}");
        let (code, out, err) = run(
            &s.addr,
            Some("root"),
            &[
                "write",
                "-field=plaintext",
                "transit/decrypt/cli",
                &format!("ciphertext={ct}"),
            ],
        );
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(out.trim(), pt);
    }
    let (code, out, _) = run_bao(
        &s.addr,
        Some("root"),
        &["read", "-format=json", "transit/keys/cli"],
    );
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["data"]["latest_version"], 1);
    let (code, out, _) = run_bao(&s.addr, Some("root"), &["list", "transit/keys"]);
    assert_eq!(code, 0);
    assert!(out.contains("cli"));
}

//! End to end: init, unseal, seal, restart, rotate, rekey and generate-root against the real
//! binary with durable file storage, checked against the answers OpenBao 2.7.2 gives.

mod common;

use common::{Server, call, run_arca};
use serde_json::{Value, json};

fn keys(v: &Value) -> Vec<String> {
    v["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k.as_str().expect("key").to_string())
        .collect()
}

#[tokio::test]
async fn init_unseal_seal_restart_keeps_data() {
    let s = Server::with_file_storage(None);

    let st = call(&s, "GET", "sys/seal-status", None, None).await;
    assert_eq!(st.status, 200);
    assert_eq!(st.body["initialized"], false);
    assert_eq!(st.body["sealed"], true);
    assert_eq!(st.body["t"], 0);
    assert_eq!(st.body["type"], "shamir");
    assert_eq!(call(&s, "GET", "sys/health", None, None).await.status, 501);
    assert_eq!(
        call(&s, "GET", "sys/health?uninitcode=299", None, None)
            .await
            .status,
        299
    );
    let init = call(&s, "GET", "sys/init", None, None).await;
    assert_eq!(init.body, json!({"initialized": false}));
    // Sealed: everything else answers 503.
    let m = call(&s, "GET", "sys/mounts", Some("x"), None).await;
    assert_eq!(m.status, 503);
    assert_eq!(m.body, json!({"errors": ["Vault is sealed"]}));

    // Invalid seal configurations, with OpenBao's texts.
    for (shares, threshold, text) in [
        (
            0,
            1,
            "invalid seal configuration: shares must be at least one",
        ),
        (
            1,
            0,
            "invalid seal configuration: threshold must be at least one",
        ),
        (
            3,
            5,
            "invalid seal configuration: threshold cannot be larger than shares",
        ),
        (
            300,
            5,
            "invalid seal configuration: shares must be less than 256",
        ),
        (
            3,
            1,
            "invalid seal configuration: threshold must be greater than one for multiple shares",
        ),
    ] {
        let r = call(
            &s,
            "PUT",
            "sys/init",
            None,
            Some(json!({"secret_shares": shares, "secret_threshold": threshold})),
        )
        .await;
        assert_eq!(r.status, 400, "{shares}/{threshold}");
        assert_eq!(r.body, json!({"errors": [text]}));
    }

    let r = call(
        &s,
        "PUT",
        "sys/init",
        None,
        Some(json!({"secret_shares": 3, "secret_threshold": 2})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ks = keys(&r.body);
    assert_eq!(ks.len(), 3);
    assert_eq!(r.body["keys_base64"].as_array().map(Vec::len), Some(3));
    let root = r.body["root_token"]
        .as_str()
        .expect("root token")
        .to_string();
    assert!(root.starts_with("hvs.") && root.len() == 28, "{root}");
    let again = call(
        &s,
        "PUT",
        "sys/init",
        None,
        Some(json!({"secret_shares": 1, "secret_threshold": 1})),
    )
    .await;
    assert_eq!(again.status, 400);
    assert_eq!(
        again.body,
        json!({"errors": ["Vault is already initialized"]})
    );

    assert_eq!(call(&s, "GET", "sys/health", None, None).await.status, 503);
    assert_eq!(
        call(&s, "GET", "sys/health?sealedcode=299", None, None)
            .await
            .status,
        299
    );

    // Unseal progress, duplicate shares, reset, bad input.
    let bad = call(&s, "PUT", "sys/unseal", None, Some(json!({"key": "abc"}))).await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body,
        json!({"errors": ["'key' must be a valid hex or base64 string"]})
    );
    let empty = call(&s, "PUT", "sys/unseal", None, Some(json!({}))).await;
    assert_eq!(
        empty.body,
        json!({"errors": ["'key' must be specified in request body as JSON, or 'reset' set to true"]})
    );
    let long = call(
        &s,
        "PUT",
        "sys/unseal",
        None,
        Some(json!({"key": format!("{}00", ks[0])})),
    )
    .await;
    assert_eq!(
        long.body,
        json!({"errors": ["invalid key: key is longer than maximum 33 bytes"]})
    );
    let p1 = call(&s, "PUT", "sys/unseal", None, Some(json!({"key": ks[0]}))).await;
    assert_eq!(p1.body["progress"], 1);
    assert_eq!(p1.body["sealed"], true);
    assert!(!p1.body["nonce"].as_str().unwrap_or("").is_empty());
    let dup = call(&s, "PUT", "sys/unseal", None, Some(json!({"key": ks[0]}))).await;
    assert_eq!(dup.body["progress"], 1);
    let reset = call(&s, "PUT", "sys/unseal", None, Some(json!({"reset": true}))).await;
    assert_eq!(reset.body["progress"], 0);
    assert_eq!(reset.body["nonce"], "");
    call(&s, "PUT", "sys/unseal", None, Some(json!({"key": ks[1]}))).await;
    // The base64 form of a share works as well as hex.
    let b64 = r.body["keys_base64"][2].as_str().expect("b64").to_string();
    let done = call(&s, "PUT", "sys/unseal", None, Some(json!({"key": b64}))).await;
    assert_eq!(done.body["sealed"], false, "{}", done.body);
    assert!(done.body["cluster_name"].as_str().is_some());
    assert_eq!(call(&s, "GET", "sys/health", None, None).await.status, 200);

    // Write something containing a marker; it must never reach the disk in clear.
    let marker = "MARKER-6b1f0e2c-plaintext-must-not-leak";
    let pol = format!("path \"secret/{marker}\" {{ capabilities = [\"read\"] }}");
    let w = call(
        &s,
        "PUT",
        "sys/policies/acl/marker",
        Some(&root),
        Some(json!({"policy": pol})),
    )
    .await;
    assert_eq!(w.status, 204, "{}", w.body);

    // Sealing needs a privileged token.
    let denied = call(&s, "PUT", "sys/seal", None, None).await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.body, json!({"errors": ["permission denied"]}));
    assert_eq!(
        call(&s, "PUT", "sys/seal", Some(&root), None).await.status,
        204
    );
    assert_eq!(
        call(&s, "GET", "sys/seal-status", None, None).await.body["sealed"],
        true
    );

    // Restart: the server comes up sealed and unsealing restores everything.
    let dir = s.stop().expect("dir");
    let files: Vec<std::path::PathBuf> = walk(&dir.path().join("data"));
    assert!(!files.is_empty());
    for f in &files {
        let bytes = std::fs::read(f).expect("read");
        assert!(
            !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "{} contains the plaintext marker",
            f.display()
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} mode {mode:o}", f.display());
    }
    let s = Server::with_file_storage(Some(dir));
    let st = call(&s, "GET", "sys/seal-status", None, None).await;
    assert_eq!(st.body["sealed"], true);
    assert_eq!(st.body["initialized"], true);
    assert_eq!(st.body["t"], 2);
    assert_eq!(st.body["n"], 3);
    assert_eq!(st.body["storage_type"], "file");
    for k in &ks[1..] {
        call(&s, "PUT", "sys/unseal", None, Some(json!({"key": k}))).await;
    }
    assert_eq!(
        call(&s, "GET", "sys/seal-status", None, None).await.body["sealed"],
        false
    );
    let read = call(&s, "GET", "sys/policies/acl/marker", Some(&root), None).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["data"]["policy"], pol);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

async fn init_and_unseal(s: &Server, shares: u32, threshold: u32) -> (Vec<String>, String) {
    let r = call(
        s,
        "PUT",
        "sys/init",
        None,
        Some(json!({"secret_shares": shares, "secret_threshold": threshold})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ks = keys(&r.body);
    for k in ks.iter().take(threshold as usize) {
        call(s, "PUT", "sys/unseal", None, Some(json!({"key": k}))).await;
    }
    (ks, r.body["root_token"].as_str().expect("root").to_string())
}

#[tokio::test]
async fn rotate_rekey_and_generate_root() {
    let s = Server::with_file_storage(None);
    let (ks, root) = init_and_unseal(&s, 3, 2).await;
    let t = Some(root.as_str());

    // Rotate: a new term; data from the old term still reads.
    call(
        &s,
        "PUT",
        "sys/policies/acl/before",
        t,
        Some(json!({"policy": "path \"a\" { capabilities = [\"read\"] }"})),
    )
    .await;
    let k1 = call(&s, "GET", "sys/key-status", t, None).await;
    assert_eq!(k1.body["data"]["term"], 1);
    assert_eq!(
        k1.body["term"], 1,
        "sys/key-status copies data to the top level"
    );
    assert_eq!(call(&s, "PUT", "sys/rotate", None, None).await.status, 403);
    assert_eq!(call(&s, "PUT", "sys/rotate", t, None).await.status, 204);
    let k2 = call(&s, "GET", "sys/key-status", t, None).await;
    assert_eq!(k2.body["data"]["term"], 2);
    assert_eq!(
        call(&s, "GET", "sys/policies/acl/before", t, None)
            .await
            .status,
        200
    );

    // Generate-root needs a token here (as in Vault 2.0), then works with the shares and an OTP.
    assert_eq!(
        call(
            &s,
            "PUT",
            "sys/generate-root/attempt",
            None,
            Some(json!({}))
        )
        .await
        .status,
        403
    );
    let a = call(&s, "PUT", "sys/generate-root/attempt", t, Some(json!({}))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let otp = a.body["data"]["otp"].as_str().expect("otp").to_string();
    assert_eq!(otp.len(), 28);
    assert_eq!(a.body["data"]["otp_length"], 28);
    let nonce = a.body["data"]["nonce"].as_str().expect("nonce").to_string();
    let wrong = call(
        &s,
        "PUT",
        "sys/generate-root/update",
        t,
        Some(json!({"key": ks[0], "nonce": "nope"})),
    )
    .await;
    assert_eq!(wrong.status, 400);
    let u1 = call(
        &s,
        "PUT",
        "sys/generate-root/update",
        t,
        Some(json!({"key": ks[0], "nonce": nonce})),
    )
    .await;
    assert_eq!(u1.body["data"]["progress"], 1);
    let u2 = call(
        &s,
        "PUT",
        "sys/generate-root/update",
        t,
        Some(json!({"key": ks[2], "nonce": nonce})),
    )
    .await;
    assert_eq!(u2.body["data"]["complete"], true, "{}", u2.body);
    let encoded = u2.body["data"]["encoded_token"]
        .as_str()
        .expect("encoded")
        .to_string();
    // Decoded as an operator does, with the CLI's `operator generate-root -decode`.
    let (code, new_root, err) = run_arca(
        &s.addr,
        None,
        &[
            "operator",
            "generate-root",
            &format!("-decode={encoded}"),
            &format!("-otp={otp}"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let new_root = new_root.trim();
    assert!(new_root.starts_with("hvs."));
    let who = call(&s, "GET", "auth/token/lookup-self", Some(new_root), None).await;
    assert_eq!(who.status, 200, "{}", who.body);
    assert_eq!(who.body["data"]["policies"], json!(["root"]));
    // The init root token and the generated one each hold a lease that never expires, as
    // OpenBao lists its root tokens' leases.
    let listed = call(&s, "LIST", "sys/leases/lookup/auth/token/root/", t, None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let ids: Vec<String> =
        serde_json::from_value(listed.body["data"]["keys"].clone()).expect("lease keys");
    assert_eq!(ids.len(), 2, "{}", listed.body);
    for id in ids {
        let lease_id = format!("auth/token/root/{id}");
        let l = call(
            &s,
            "PUT",
            "sys/leases/lookup",
            t,
            Some(json!({"lease_id": lease_id})),
        )
        .await;
        assert_eq!(l.status, 200, "{}", l.body);
        assert_eq!(
            (
                &l.body["data"]["expire_time"],
                &l.body["data"]["ttl"],
                &l.body["data"]["renewable"]
            ),
            (&Value::Null, &json!(0), &json!(false)),
            "{}",
            l.body
        );
    }

    // Rekey to 2-of-2 with the old shares; then only the new shares unseal.
    let ri = call(
        &s,
        "PUT",
        "sys/rekey/init",
        t,
        Some(json!({"secret_shares": 2, "secret_threshold": 2})),
    )
    .await;
    assert_eq!(ri.status, 200, "{}", ri.body);
    let rnonce = ri.body["data"]["nonce"]
        .as_str()
        .expect("nonce")
        .to_string();
    call(
        &s,
        "PUT",
        "sys/rekey/update",
        t,
        Some(json!({"key": ks[0], "nonce": rnonce})),
    )
    .await;
    let done = call(
        &s,
        "PUT",
        "sys/rekey/update",
        t,
        Some(json!({"key": ks[1], "nonce": rnonce})),
    )
    .await;
    assert_eq!(done.body["data"]["complete"], true, "{}", done.body);
    let new_keys = keys(&done.body["data"]);
    assert_eq!(new_keys.len(), 2);
    assert_eq!(call(&s, "PUT", "sys/seal", t, None).await.status, 204);
    let st = call(&s, "GET", "sys/seal-status", None, None).await;
    assert_eq!(
        (st.body["t"].clone(), st.body["n"].clone()),
        (json!(2), json!(2))
    );
    call(&s, "PUT", "sys/unseal", None, Some(json!({"key": ks[0]}))).await;
    let old = call(&s, "PUT", "sys/unseal", None, Some(json!({"key": ks[1]}))).await;
    assert_eq!(old.status, 400, "old shares must not unseal: {}", old.body);
    assert_eq!(
        call(&s, "GET", "sys/seal-status", None, None).await.body["sealed"],
        true
    );
    for k in &new_keys {
        call(&s, "PUT", "sys/unseal", None, Some(json!({"key": k}))).await;
    }
    assert_eq!(
        call(&s, "GET", "sys/seal-status", None, None).await.body["sealed"],
        false
    );
    assert_eq!(
        call(&s, "GET", "sys/policies/acl/before", t, None)
            .await
            .status,
        200
    );
}

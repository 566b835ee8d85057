//! End to end: `arca audit enable|disable|list` against Arca and `bao audit ...` against
//! OpenBao 2.7.2, both started from a config file that allows API-created devices and declares
//! one device; same exit codes, same output (addresses normalised). The `bao` CLI against
//! Arca must answer as against OpenBao too.

mod common;

use common::{Server, bao_dev, bao_with_config_extra, call, init_unseal, run_arca, run_bao};
use common::{normalise, same_bao, same_cli};
use serde_json::json;

/// Both servers' config: devices may be enabled through the API, and one is declared.
const CONFIG: &str = "unsafe_allow_api_audit_creation = true

audit \"file\" \"cfgdev\" {
  description = \"from config\"
  options = {
    file_path = \"discard\"
  }
}
";

/// Initializes and unseals `s`, and makes a root token whose id is `root`, so one command line
/// runs against both servers.
async fn ready(s: &Server) {
    let (_key, init_root) = init_unseal(s).await;
    let r = call(
        s,
        "POST",
        "auth/token/create",
        Some(&init_root),
        Some(json!({"id": "root", "policies": ["root"], "no_parent": true})),
    )
    .await;
    assert_eq!(r.status, 200, "root token on {}: {}", s.addr, r.body);
}

/// Arca and OpenBao started from [`CONFIG`], ready.
async fn config_servers() -> (Server, Server) {
    let arca = Server::with_config_extra(None, CONFIG);
    let openbao = bao_with_config_extra(CONFIG);
    ready(&arca).await;
    ready(&openbao).await;
    (arca, openbao)
}

#[tokio::test]
async fn audit_commands_answer_as_bao_does() {
    let (arca, openbao) = config_servers().await;
    let same = |args: &[&str]| same_cli(&arca, &openbao, "root", args);

    // The declared device is listed, in every format.
    let list = same(&["audit", "list"]);
    assert!(list.contains("cfgdev/    file    from config"), "{list}");
    let detailed = same(&["audit", "list", "-detailed"]);
    assert!(
        detailed.contains("cfgdev/    file    from config    replicated     file_path=discard"),
        "{detailed}"
    );
    same(&["audit", "list", "-format=json"]);
    same(&["audit", "list", "-format=yaml"]);

    // Enabling: at the type's path, at -path, twice, under an enabled path, an unknown type.
    let out = same(&["audit", "enable", "file", "file_path=discard"]);
    assert_eq!(out, "Success! Enabled the file audit device at: file/\n");
    same(&["audit", "enable", "file", "file_path=discard"]);
    same(&[
        "audit",
        "enable",
        "-path=f2",
        "-description=two words",
        "-local",
        "file",
        "file_path=discard",
    ]);
    same(&[
        "audit",
        "enable",
        "-path=f2/sub",
        "file",
        "file_path=discard",
    ]);
    same(&[
        "audit",
        "enable",
        "-path=cfgdev",
        "file",
        "file_path=discard",
    ]);
    same(&["audit", "enable", "nope"]);
    same(&["audit", "enable", "-path=/f3/", "file", "file_path=discard"]);
    // A flag after the type is an option, with a warning on stderr.
    same(&[
        "audit",
        "enable",
        "-path=f4",
        "file",
        "-description=x",
        "file_path=discard",
    ]);
    // Arca prints a device's options sorted; bao in Go's random map order, so a device with
    // two options is only compared while no list shows it.
    let (_, detailed, _) = run_arca(&arca.addr, Some("root"), &["audit", "list", "-detailed"]);
    assert!(
        detailed.contains(
            "f4/        file    n/a            replicated     -description=x file_path=discard"
        ),
        "{detailed}"
    );
    same(&["audit", "disable", "f4"]);

    let list = same(&["audit", "list"]);
    assert!(list.contains("f2/        file    two words"), "{list}");
    same(&["audit", "list", "-detailed"]);
    same(&["audit", "list", "-format=json"]);

    // The bao CLI against Arca answers as against OpenBao.
    let bao = |args: &[&str]| same_bao(&arca, &openbao, "root", args);
    bao(&["audit", "list", "-detailed"]);
    bao(&["audit", "list", "-format=json"]);
    bao(&["audit", "enable", "file", "file_path=discard"]);
    bao(&["audit", "disable", "cfgdev"]);

    // Disabling: the declared device is refused with OpenBao's text, the rest go, twice.
    let (code, _, err) = run_arca(&arca.addr, Some("root"), &["audit", "disable", "cfgdev"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("* cannot disable configuration-managed audit device"),
        "{err}"
    );
    same(&["audit", "disable", "cfgdev"]);
    let out = same(&["audit", "disable", "file"]);
    assert_eq!(
        out,
        "Success! Disabled audit device (if it was enabled) at: file/\n"
    );
    same(&["audit", "disable", "file/"]);
    same(&["audit", "disable", "//f2//"]);
    same(&["audit", "disable", "/f3/"]);
    let list = same(&["audit", "list"]);
    assert_eq!(
        list.lines().count(),
        3,
        "only the declared device is left: {list}"
    );

    // Usage errors.
    for args in [
        &["audit", "enable"][..],
        &["audit", "enable", "file", "foo"],
        &["audit", "enable", "file", "a=1", "a=2"],
        &["audit", "enable", "-bogus"],
        &["audit", "enable", "-local=maybe", "file"],
        &["audit", "disable"],
        &["audit", "disable", "a", "b"],
        &["audit", "list", "x"],
        &["audit", "list", "-format=raw"],
        &["audit", "list", "-format=bogus"],
        &["audit", "list", "-detailed=maybe"],
    ] {
        same(args);
    }

    // Without sudo: the list is refused.
    let (code, _, err) = run_arca(&arca.addr, Some("nope"), &["audit", "list"]);
    let (bao_code, _, bao_err) = run_bao(&openbao.addr, Some("nope"), &["audit", "list"]);
    assert_eq!((code, normalise(&err)), (bao_code, normalise(&bao_err)));
}

#[tokio::test]
async fn audit_alone_prints_the_group_help() {
    // Nothing to reach: the group help needs no server.
    let addr = "http://127.0.0.1:9";
    for args in [&["audit"][..], &["audit", "nope"]] {
        let (code, out, err) = run_arca(addr, None, args);
        let (bao_code, bao_out, bao_err) = run_bao(addr, None, args);
        assert_eq!(
            (code, out.as_str()),
            (bao_code, bao_out.as_str()),
            "{args:?}"
        );
        assert_eq!(code, 1);
        assert!(err.starts_with("Usage: arca audit <subcommand>"), "{err}");
        let subcommands = |text: &str| text[text.find("Subcommands:").expect("list")..].to_owned();
        assert_eq!(subcommands(&err), subcommands(&bao_err));
    }
    let (code, out, _) = run_arca(addr, None, &["audit", "-h"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Usage: arca audit <subcommand>"), "{out}");
}

#[tokio::test]
async fn a_dev_server_has_no_devices_and_refuses_api_creation() {
    let arca = Server::dev();
    let openbao = bao_dev();
    let same = |args: &[&str]| same_cli(&arca, &openbao, "root", args);
    let out = same(&["audit", "list"]);
    assert_eq!(out, "No audit devices are enabled.\n");
    same(&["audit", "list", "-detailed"]);
    same(&["audit", "list", "-format=json"]);
    same(&["audit", "list", "-format=yaml"]);
    same(&["audit", "enable", "file", "file_path=discard"]);
    same_bao(
        &arca,
        &openbao,
        "root",
        &["audit", "enable", "file", "file_path=discard"],
    );
    same_bao(&arca, &openbao, "root", &["audit", "list"]);
}

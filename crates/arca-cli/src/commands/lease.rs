//! `lease`: lookup, renew and revoke leases through `sys/leases/*`, as `bao lease` does.

use serde_json::json;

use super::logical::setup;
use super::{flag_error, group_usage};
use crate::ctx::Ctx;
use crate::duration;
use crate::flags::{FORMAT, HTTP, Kind, Spec, duration_flag, flag};

const USAGE: &str = "Usage: arca lease <subcommand> [options] [args]\n\n  This command groups subcommands for interacting with leases. Users can revoke\n  or renew leases.\n\n  Renew a lease:\n\n      $ arca lease renew database/creds/readonly/2f6a614c...\n\n  Revoke a lease:\n\n      $ arca lease revoke database/creds/readonly/2f6a614c...\n\nSubcommands:\n    lookup    Lookup the lease of a secret\n    renew     Renews the lease of a secret\n    revoke    Revokes leases and secrets";

/// `arca lease ...`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let Some(sub) = args.first() else {
        return group_usage(ctx, USAGE);
    };
    let rest = &args[1..];
    match sub.as_str() {
        "lookup" => lookup(ctx, rest),
        "renew" => renew(ctx, rest),
        "revoke" => revoke(ctx, rest),
        "-h" | "-help" | "--help" => {
            ctx.out(USAGE);
            0
        }
        _ => group_usage(ctx, USAGE),
    }
}

/// The single lease id argument of `lookup` and `renew`: none is `Missing ID!`, more than
/// one the command's own "Too many arguments" text; both exit 1.
fn lease_id_arg(ctx: &mut Ctx<'_, '_>, args: &[String], expected: &str) -> Result<String, i32> {
    match args {
        [] => {
            ctx.err("Missing ID!");
            Err(1)
        }
        [id] => Ok(id.trim().to_string()),
        _ => {
            ctx.err(&format!(
                "Too many arguments (expected {expected}, got {})",
                args.len()
            ));
            Err(1)
        }
    }
}

fn lookup(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca lease lookup ID\n\n  Lookup the lease information of a secret.\n\n  Every secret in Arca has a lease associated with it. Users can look up\n  information on the lease by referencing the lease ID.\n\n  Lookup lease of a secret:\n\n      $ arca lease lookup database/creds/readonly/2f6a614c...";
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT]], args, help));
    let id = or_exit!(lease_id_arg(ctx, &p.args, "1"));
    let result = ctx.block_on(client.write("sys/leases/lookup", Some(json!({ "lease_id": id }))));
    match result {
        Ok(Some(secret)) => ctx.output_secret(format, &secret),
        Ok(None) => 0,
        Err(e) => {
            ctx.err(&format!("error looking up lease id {id}: {e}"));
            2
        }
    }
}

fn renew(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca lease renew [options] ID\n\n  Renews the lease on a secret, extending the time that it can be used before\n  it is revoked by Arca.\n\n  Every secret in Arca has a lease associated with it. If the owner of the\n  secret wants to use it longer than the lease, then it must be renewed.\n  Renewing the lease does not change the contents of the secret. The ID is the\n  full path lease ID.\n\n  Renew a secret:\n\n      $ arca lease renew database/creds/readonly/2f6a614c...\n\n  Lease renewal will fail if the secret is not renewable, the secret has already\n  been revoked, or if the secret has already reached its maximum TTL.";
    let specs: &[Spec] = &[flag("increment", Kind::Str, "")];
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT], specs], args, help));
    let increment = match duration_flag(&p, "increment") {
        Ok(d) => duration::seconds(d),
        Err(e) => return flag_error(ctx, &e),
    };
    let id = or_exit!(lease_id_arg(ctx, &p.args, "1-2"));
    let body = json!({ "lease_id": id, "increment": increment });
    match ctx.block_on(client.write("sys/leases/renew", Some(body))) {
        Ok(Some(secret)) => ctx.output_secret(format, &secret),
        Ok(None) => 0,
        Err(e) => {
            ctx.err(&format!("Error renewing {id}: {e}"));
            2
        }
    }
}

fn revoke(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca lease revoke [options] ID\n\n  Revokes secrets by their lease ID. This command can revoke a single secret\n  or multiple secrets based on a path-matched prefix.\n\n  The default behavior when not using -force is to revoke asynchronously; Arca\n  will queue the revocation and keep trying if it fails (including across\n  restarts). The -sync flag can be used to force a synchronous operation, but\n  it is then up to the caller to retry on failure. Force mode always operates\n  synchronously.\n\n  Revoke a single lease:\n\n      $ arca lease revoke database/creds/readonly/2f6a614c...\n\n  Revoke all leases for a role:\n\n      $ arca lease revoke -prefix aws/creds/deploy\n\n  Force delete leases from Arca even if secret engine revocation fails:\n\n      $ arca lease revoke -force -prefix consul/creds";
    let specs: &[Spec] = &[
        flag("force", Kind::Bool, "false"),
        flag("f", Kind::Bool, "false"),
        flag("prefix", Kind::Bool, "false"),
        flag("sync", Kind::Bool, "false"),
    ];
    let (p, _format, client) = or_exit!(setup(ctx, &[HTTP, specs], args, help));
    let (force, prefix, sync) = (
        p.bool("force") || p.bool("f"),
        p.bool("prefix"),
        p.bool("sync"),
    );
    let n = p.args.len();
    if n != 1 {
        let what = if n < 1 { "Not enough" } else { "Too many" };
        ctx.err(&format!("{what} arguments (expected 1, got {n})"));
        return 1;
    }
    if force && !prefix {
        ctx.err("Specifying -force requires also specifying -prefix");
        return 1;
    }
    let id = p.args[0].trim().to_string();
    // bao's client cleans the request path, so a prefix given with its trailing `/` is sent
    // without it (the server refuses writes to a path ending in `/`).
    let target = id.trim_end_matches('/');
    let (path, body) = if force {
        (format!("sys/leases/revoke-force/{target}"), None)
    } else if prefix {
        (
            format!("sys/leases/revoke-prefix/{target}"),
            Some(json!({ "sync": sync })),
        )
    } else {
        (
            format!("sys/leases/revoke/{target}"),
            Some(json!({ "sync": sync })),
        )
    };
    if force {
        ctx.err(
            "Warning! Force-removing leases can cause OpenBao to become out of sync with\nsecret engines!",
        );
    }
    if let Err(e) = ctx.block_on(client.write(&path, body)) {
        let text = if force {
            format!("Error force revoking leases with prefix {id}: {e}")
        } else if prefix {
            format!("Error revoking leases with prefix {id}: {e}")
        } else {
            format!("Error revoking lease {id}: {e}")
        };
        ctx.err(&text);
        return 2;
    }
    let done = match (force, sync, prefix) {
        (true, _, _) => format!("Success! Force revoked any leases with prefix: {id}"),
        (false, true, true) => format!("Success! Revoked any leases with prefix: {id}"),
        (false, true, false) => format!("Success! Revoked lease: {id}"),
        (false, false, _) => "All revocation operations queued successfully!".to_string(),
    };
    ctx.out(&done);
    0
}

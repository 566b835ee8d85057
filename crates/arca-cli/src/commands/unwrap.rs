//! `unwrap [TOKEN]`: unwraps a response-wrapping token through `sys/wrapping/unwrap`, as
//! `bao unwrap` does (no argument: the current token is the wrapping token).

use serde_json::json;

use super::logical::{list_keys, output_list, print_secret, setup};
use crate::ctx::Ctx;
use crate::flags::{FIELD, FORMAT, HTTP};
use crate::output::Format;

const HELP: &str = "Usage: arca unwrap [options] [TOKEN]\n\n  Unwraps a wrapped secret from Arca by the given token. The result is the\n  same as the \"arca read\" operation on the non-wrapped secret. If no token\n  is given, the data in the currently authenticated token is unwrapped.\n\n  Unwrap the data in the cubbyhole secrets engine for a token:\n\n      $ arca unwrap 3de9ece1-b347-e143-29b0-dc2dc31caafd\n\n  Unwrap the data in the active token:\n\n      $ arca login 848f9ccf-7176-098c-5e2b-75a0689d41cd\n      $ arca unwrap # unwraps 848f9ccf...\n\n  For a full list of examples and paths, please see the online documentation.";

/// `arca unwrap [TOKEN]`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT, FIELD]], args, HELP));
    let token = match p.args.as_slice() {
        [] => String::new(),
        [t] => t.trim().to_string(),
        more => {
            ctx.err(&format!(
                "Too many arguments (expected 0-1, got {})",
                more.len()
            ));
            return 1;
        }
    };
    // As bao's client: without a token of its own the caller unwraps with the wrapping token
    // itself; otherwise a different wrapping token is named in the body.
    let (client, body) = match client.token() {
        _ if token.is_empty() => (client, None),
        None | Some("") => (client.with_token(token), None),
        Some(own) if own == token => (client, None),
        Some(_) => (client, Some(json!({ "token": token }))),
    };
    let client = client.with_wrap_ttl(None);
    match ctx.block_on(client.write("sys/wrapping/unwrap", body)) {
        Ok(None) => {
            if format == Format::Table {
                ctx.out("Successfully unwrapped. There was no data in the wrapped secret.");
            }
            0
        }
        Ok(Some(secret)) => {
            if p.str("field").is_empty() && list_keys(&secret).is_some() {
                return output_list(ctx, format, "", Some(&secret));
            }
            print_secret(ctx, &p, format, &secret)
        }
        Err(e) => {
            ctx.err(&format!("Error unwrapping: {e}"));
            2
        }
    }
}

//! Arca's builtin `userpass` auth method served as an external plugin: the same backend the
//! server mounts as a builtin, behind the plugin protocol, to show an auth plugin's logins
//! get their tokens, renewals and lockout from the host's core.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    arca_plugin::serve(arca_auth::userpass::factory()).await
}

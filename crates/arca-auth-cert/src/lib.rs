//! Arca's TLS certificate auth method (`cert` mounts), as OpenBao 2.7.2 serves it: an
//! operator trusts CA certificates or pins leaf certificates under `certs/<name>` (with name,
//! SAN, OU and extension constraints, OCSP settings and the shared token settings), may add
//! CRLs under `crls/<name>` and settings under `config`; a client logs in at `login` over a
//! TLS connection that presents its certificate.
//!
//! Layout: [`certificate`] parses X.509 certificates, [`entry`] holds the stored records,
//! [`certs`], [`crls`] and [`config`] the management endpoints, [`chain`] the chain
//! verification (rustls-webpki), [`constraints`] the entry constraints, [`ocsp`] the OCSP
//! client, [`ocsp_cache`] its answer cache, and [`login`] the login, its alias look-ahead and
//! renewal. The mount's background task re-fetches CRLs given by URL ([`crls::refresh`]).

mod certificate;
mod certs;
mod chain;
mod config;
mod constraints;
mod crls;
mod entry;
mod login;
mod ocsp;
mod ocsp_cache;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arca_sdk::framework::{
    Field, FieldData, FieldType, FrameworkBackend, OpHandler, PathDef, generic_name_regex, handler,
    paged_list_path,
};
use arca_sdk::token_util::{deprecation_text, token_fields};
use arca_sdk::{
    Backend, BackendConfig, BackendType, ExistenceCheck, Factory, LogicalError, Operation, Request,
    Response, SpecialPaths, Storage, SystemView,
};
use async_trait::async_trait;
use futures::FutureExt;
use parking_lot::Mutex;
use serde_json::Value;

use crate::ocsp_cache::OcspCache;

/// Builds a mount of this method.
pub fn factory() -> Factory {
    Arc::new(|config: BackendConfig| {
        async move { Ok(Arc::new(backend(config)) as Arc<dyn Backend>) }.boxed()
    })
}

/// What the handlers of one mount share.
pub(crate) struct State {
    /// The mount's system view (default and maximum TTLs for the write warnings).
    system: Arc<dyn SystemView>,
    /// The mount's storage (for the background CRL refresh).
    storage: Arc<dyn Storage>,
    /// Makes each read-modify-write of a record atomic.
    write_lock: tokio::sync::Mutex<()>,
    /// Wakes the CRL refresh task when a CRL given by URL is written.
    crl_written: Arc<tokio::sync::Notify>,
    /// The OCSP answers of recent logins.
    ocsp_cache: OcspCache,
    /// Another node changed `config`: the cache is rebuilt at the next login (OpenBao's
    /// `configUpdated`).
    config_updated: AtomicBool,
}

impl State {
    /// Rebuilds the OCSP cache with the stored `ocsp_cache_size` if another node changed
    /// `config`.
    pub(crate) async fn refresh_config(&self, storage: &dyn Storage) -> Result<(), LogicalError> {
        if self.config_updated.swap(false, Ordering::SeqCst) {
            let config = entry::load_config(storage).await?;
            self.ocsp_cache.reset(config.ocsp_cache_size);
        }
        Ok(())
    }
}

/// A mount: OpenBao's paths over the framework, plus the task that re-fetches CRLs given by
/// URL (OpenBao's periodic function) for as long as the mount lives.
struct CertBackend {
    inner: FrameworkBackend,
    state: Arc<State>,
    crl_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[async_trait]
impl Backend for CertBackend {
    async fn handle_request(&self, req: Request) -> Result<Option<Response>, LogicalError> {
        self.inner.handle_request(req).await
    }

    async fn handle_existence_check(&self, req: &Request) -> Result<ExistenceCheck, LogicalError> {
        self.inner.handle_existence_check(req).await
    }

    fn special_paths(&self) -> SpecialPaths {
        Backend::special_paths(&self.inner)
    }

    fn backend_type(&self) -> BackendType {
        BackendType::Credential
    }

    /// Sizes the OCSP cache from the stored config and starts the CRL refresh task.
    async fn initialize(&self) -> Result<(), LogicalError> {
        let config = entry::load_config(self.state.storage.as_ref()).await?;
        self.state.ocsp_cache.reset(config.ocsp_cache_size);
        let task = tokio::spawn(crls::refresh(Arc::downgrade(&self.state)));
        if let Some(old) = self.crl_task.lock().replace(task) {
            old.abort();
        }
        Ok(())
    }

    async fn cleanup(&self) {
        if let Some(task) = self.crl_task.lock().take() {
            task.abort();
        }
    }

    async fn invalidate(&self, key: &str) {
        if key == "config" {
            self.state.config_updated.store(true, Ordering::SeqCst);
        }
    }
}

/// Wraps a handler that needs the mount's [`State`].
fn state_handler<F, Fut>(state: &Arc<State>, f: F) -> OpHandler
where
    F: Fn(Arc<State>, Request, FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Response>, LogicalError>> + Send + 'static,
{
    let state = Arc::clone(state);
    handler(move |req, d| f(Arc::clone(&state), req, d))
}

const BACKEND_HELP: &str = "The \"cert\" credential provider allows authentication using TLS \
client certificates. A client connects and uses the \"login\" endpoint to generate a client \
token. Trusted certificates are configured using the \"certs/\" endpoint: a certificate \
authority can be trusted, which permits all keys signed by it, or a self-signed leaf pinned.";

/// The backend of one mount.
fn backend(config: BackendConfig) -> CertBackend {
    let state = Arc::new(State {
        system: config.system,
        storage: config.storage,
        write_lock: tokio::sync::Mutex::new(()),
        crl_written: Arc::new(tokio::sync::Notify::new()),
        // Sized from the stored config in `initialize`.
        ocsp_cache: OcspCache::new(0),
        config_updated: AtomicBool::new(false),
    });
    let inner = FrameworkBackend::new(BackendType::Credential, BACKEND_HELP)
        .special_paths(SpecialPaths {
            unauthenticated: vec!["login".into()],
            ..SpecialPaths::default()
        })
        .path(config_path(&state))
        .path(login_path(&state))
        .path(
            paged_list_path("certs/?", entry::CERT_PREFIX)
                .help("Manage trusted certificates used for authentication.", ""),
        )
        .path(certs_path(&state))
        .path(paged_list_path("crls/?$", entry::CRL_PREFIX).help(
            "Manage Certificate Revocation Lists checked during authentication.",
            "",
        ))
        .path(crls_path(&state))
        .auth_renew(state_handler(&state, login::renew));
    CertBackend {
        inner,
        state,
        crl_task: Mutex::new(None),
    }
}

fn config_path(state: &Arc<State>) -> PathDef {
    PathDef::new("config")
        .field(
            Field::new(
                "disable_binding",
                FieldType::Bool,
                "If set, during renewal, skips the matching of presented client identity with \
                 the client identity used during login. Defaults to false.",
            )
            .default_value(Value::Bool(false)),
        )
        .field(
            Field::new(
                "enable_identity_alias_metadata",
                FieldType::Bool,
                "If set, metadata of the certificate including the metadata corresponding to \
                 allowed_metadata_extensions will be stored in the alias. Defaults to false.",
            )
            .default_value(Value::Bool(false)),
        )
        .field(
            Field::new(
                "ocsp_cache_size",
                FieldType::Int,
                "The size of the in memory OCSP response cache, shared by all configured certs",
            )
            .default_value(Value::from(100)),
        )
        .op(Operation::Update, state_handler(state, config::write))
        .op(Operation::Read, handler(config::read))
        .help("Configure the cert auth method.", "")
}

fn login_path(state: &Arc<State>) -> PathDef {
    PathDef::new("login")
        .field(Field::new(
            "name",
            FieldType::String,
            "The name of the certificate role to authenticate against.",
        ))
        .op(Operation::Update, state_handler(state, login::login))
        .op(
            Operation::AliasLookahead,
            state_handler(state, login::alias_lookahead),
        )
        .op(
            Operation::ResolveRole,
            state_handler(state, login::resolve_role),
        )
        .help(
            "Log in with the TLS client certificate of the connection.",
            "Answers a token carrying the matched entry's policies and token settings.",
        )
}

fn list_field(name: &str, description: &str) -> Field {
    Field::new(name, FieldType::CommaStringSlice, description)
}

fn certs_path(state: &Arc<State>) -> PathDef {
    let mut p = PathDef::new(format!("certs/{}", generic_name_regex("name")))
        .field(Field::new(
            "name",
            FieldType::String,
            "The name of the certificate",
        ))
        .field(Field::new(
            "certificate",
            FieldType::String,
            "The public certificate that should be trusted. Must be x509 PEM encoded.",
        ))
        .field(Field::new(
            "ocsp_enabled",
            FieldType::Bool,
            "Whether to attempt OCSP verification of certificates at login",
        ))
        .field(Field::new(
            "ocsp_ca_certificates",
            FieldType::String,
            "Any additional CA certificates needed to communicate with OCSP servers",
        ))
        .field(list_field(
            "ocsp_servers_override",
            "A comma-separated list of OCSP server addresses. If unset, the OCSP server is \
             determined from the AuthorityInformationAccess extension on the certificate being \
             inspected.",
        ))
        .field(
            Field::new(
                "ocsp_fail_open",
                FieldType::Bool,
                "If set to true, if an OCSP revocation cannot be made successfully, login will \
                 proceed rather than failing.",
            )
            .default_value(Value::Bool(false)),
        )
        .field(
            Field::new(
                "ocsp_query_all_servers",
                FieldType::Bool,
                "If set to true, query all servers and consider the certificate valid only if \
                 all servers agree.",
            )
            .default_value(Value::Bool(false)),
        )
        .field(list_field(
            "allowed_names",
            "A comma-separated list of names. At least one must exist in either the Common \
             Name or SANs. Supports globbing.",
        ))
        .field(list_field(
            "allowed_common_names",
            "A comma-separated list of names. At least one must exist in the Common Name. \
             Supports globbing.",
        ))
        .field(list_field(
            "allowed_dns_sans",
            "A comma-separated list of DNS names. At least one must exist in the SANs. \
             Supports globbing.",
        ))
        .field(list_field(
            "allowed_email_sans",
            "A comma-separated list of Email Addresses. At least one must exist in the SANs. \
             Supports globbing.",
        ))
        .field(list_field(
            "allowed_uri_sans",
            "A comma-separated list of URIs. At least one must exist in the SANs. Supports \
             globbing.",
        ))
        .field(list_field(
            "allowed_organizational_units",
            "A comma-separated list of Organizational Units names. At least one must exist in \
             the OU field.",
        ))
        .field(list_field(
            "required_extensions",
            "A comma-separated string or array of extensions formatted as \"oid:value\". All \
             values must match. Supports globbing on \"value\".",
        ))
        .field(list_field(
            "allowed_metadata_extensions",
            "A comma-separated string or array of oid extensions added as metadata (dots as \
             dashes in the key) when present in the certificate.",
        ))
        .field(Field::new(
            "display_name",
            FieldType::String,
            "The display name to use for clients using this certificate.",
        ))
        .field(list_field("policies", &deprecation_text("token_policies")))
        .field(Field::new(
            "lease",
            FieldType::Int,
            deprecation_text("token_ttl"),
        ))
        .field(Field::new(
            "ttl",
            FieldType::DurationSecond,
            deprecation_text("token_ttl"),
        ))
        .field(Field::new(
            "max_ttl",
            FieldType::DurationSecond,
            deprecation_text("token_max_ttl"),
        ))
        .field(Field::new(
            "period",
            FieldType::DurationSecond,
            deprecation_text("token_period"),
        ))
        .field(list_field(
            "bound_cidrs",
            &deprecation_text("token_bound_cidrs"),
        ));
    for f in token_fields() {
        p = p.field(f);
    }
    p.op(Operation::Read, handler(certs::read))
        .op(Operation::Update, state_handler(state, certs::write))
        .op(Operation::Delete, state_handler(state, certs::delete))
        .help(
            "Manage trusted certificates used for authentication.",
            "Create, read, update and delete trusted certificates that are allowed to \
             authenticate. Deleting one does not revoke the tokens it issued; their next \
             renewal fails.",
        )
}

fn crls_path(state: &Arc<State>) -> PathDef {
    PathDef::new(format!("crls/{}", generic_name_regex("name")))
        .field(Field::new(
            "name",
            FieldType::String,
            "The name of the certificate",
        ))
        .field(Field::new(
            "crl",
            FieldType::String,
            "The public CRL that should be trusted to attest to certificates' validity \
             statuses. May be DER or PEM encoded.",
        ))
        .field(Field::new(
            "url",
            FieldType::String,
            "The URL of a CRL distribution point. Only one of 'crl' or 'url' parameters should \
             be specified.",
        ))
        .op(Operation::Read, handler(crls::read))
        .op(Operation::Update, state_handler(state, crls::write))
        .op(Operation::Delete, state_handler(state, crls::delete))
        .help(
            "Manage Certificate Revocation Lists checked during authentication.",
            "Any login chain holding a serial a stored CRL lists is refused.",
        )
}

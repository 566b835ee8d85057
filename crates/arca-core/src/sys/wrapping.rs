//! `sys/wrapping/wrap`, `unwrap`, `lookup` and `rewrap`, over the wrapping subsystem. The
//! pipeline has already checked that the token a lookup, rewrap or unwrap names is a live
//! wrapping token (OpenBao's order); these handlers spend it and answer.

use arca_sdk::{LogicalError, Operation, Request, Response};

use super::Endpoint;
use crate::wrapping::{Wrapping, requested_token};

/// Serves one `sys/wrapping/*` request.
pub(crate) async fn handle(
    wrapping: &Wrapping,
    endpoint: Endpoint,
    op: Operation,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    use Endpoint as E;
    use Operation as O;
    match (endpoint, op) {
        (E::WrappingWrap, O::Update | O::Create) => {
            if req.wrap_info.is_none() {
                return Err(LogicalError::bad_request(
                    "endpoint requires response wrapping to be used",
                ));
            }
            Ok(Some(Response::with_data(req.data.clone())))
        }
        (E::WrappingUnwrap, O::Update | O::Create) => {
            let (token, third_party) = requested_token(&req.data, req.token())?;
            wrapping.unwrap(&token, third_party).await
        }
        (E::WrappingRewrap, O::Update | O::Create) => {
            let (token, third_party) = requested_token(&req.data, req.token())?;
            wrapping.rewrap(&token, third_party).await
        }
        (E::WrappingLookup, O::Update | O::Create | O::Read) => {
            let (token, _) = requested_token(&req.data, req.token())?;
            wrapping.lookup(&token).await
        }
        _ => Err(LogicalError::UnsupportedOperation),
    }
}

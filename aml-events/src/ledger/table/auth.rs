//! How a request proves itself to the table service: Shared Key Lite with the account key, or
//! a bearer token from a token source (the request itself is built in `rest`).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{Secret, azure::CachedTokenSource};

/// The credentials a [`TableLedger`](super::TableLedger) sends with each request.
pub(super) enum Auth {
    SharedKey {
        account: String,
        key: Secret,
        raw: Vec<u8>,
    },
    Token(CachedTokenSource),
}

/// `base64(HMAC-SHA256(key, text))`.
pub(super) fn sign(key: &[u8], text: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::table::connection::DEV_KEY;

    #[test]
    fn shared_key_lite_signature_matches_the_documented_form() {
        // HMAC-SHA256 of a known string with a known key, checked with openssl:
        // printf 'Mon, 01 Jan 2024 00:00:00 GMT\n/devstoreaccount1/devstoreaccount1/Tables' |
        //   openssl dgst -sha256 -mac HMAC -macopt hexkey:<key as hex> -binary | base64
        let key = base64::engine::general_purpose::STANDARD
            .decode(DEV_KEY)
            .unwrap();
        let signature = sign(
            &key,
            "Mon, 01 Jan 2024 00:00:00 GMT\n/devstoreaccount1/devstoreaccount1/Tables",
        );
        assert_eq!(signature, "13UOPPE/P1+LLsRFYJCHphuPCEQ21EO/4WbbW+OXG4U=");
    }
}

//! How a request proves itself to the Blob service with the account key: Shared Key, whose
//! string-to-sign differs from the table service's Shared Key Lite (the ledger's): it covers
//! the verb, twelve standard headers, every `x-ms-` header and the query.
//! See <https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key#blob-queue-and-file-services-shared-key-authorization>.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::{Request, header::HeaderMap};
use sha2::Sha256;
use url::Url;

/// The standard headers the string-to-sign names, in its order.
const SIGNED_HEADERS: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

/// The `Authorization` value for `request` (all its headers set but this one): `SharedKey
/// {account}:{signature}`.
pub(super) fn authorization(account: &str, key: &[u8], request: &Request) -> String {
    let body_length = request
        .body()
        .and_then(|body| body.as_bytes())
        .map_or(0, <[u8]>::len);
    let text = string_to_sign(
        request.method().as_str(),
        request.url(),
        request.headers(),
        body_length,
        account,
    );
    format!("SharedKey {account}:{}", sign(key, &text))
}

/// The documented string-to-sign (version 2015-02-21 and later): the verb, the standard
/// headers (an empty line for each one absent, and for a zero `Content-Length`), the
/// canonicalized `x-ms-` headers, then the canonicalized resource.
pub(super) fn string_to_sign(
    method: &str,
    url: &Url,
    headers: &HeaderMap,
    body_length: usize,
    account: &str,
) -> String {
    let mut text = format!("{method}\n");
    for name in SIGNED_HEADERS {
        // reqwest sets Content-Length when it sends, from the body; zero is signed as empty.
        let value = match name {
            "content-length" if body_length > 0 => body_length.to_string(),
            "content-length" => String::new(),
            _ => header(headers, name).unwrap_or_default().to_owned(),
        };
        text.push_str(&value);
        text.push('\n');
    }
    text.push_str(&canonicalized_headers(headers));
    text.push_str(&canonicalized_resource(url, account));
    text
}

/// Every `x-ms-` header, lower-cased, sorted, `name:value\n`, runs of whitespace in the value
/// folded to one space.
fn canonicalized_headers(headers: &HeaderMap) -> String {
    let mut names: Vec<&str> = headers
        .keys()
        .map(|name| name.as_str())
        .filter(|name| name.starts_with("x-ms-"))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let values: Vec<String> = headers
                .get_all(name)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .map(|value| value.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            format!("{name}:{}\n", values.join(","))
        })
        .collect()
}

/// `/{account}{encoded path}`, then for each query parameter, sorted by its lower-cased name,
/// `\nname:value` with the decoded values sorted and joined by commas. With Azurite's path-style
/// URLs the account appears twice (`/devstoreaccount1/devstoreaccount1/container`), as the
/// service expects.
fn canonicalized_resource(url: &Url, account: &str) -> String {
    let mut resource = format!("/{account}{}", url.path());
    let mut parameters: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in url.query_pairs() {
        let name = name.to_lowercase();
        match parameters.iter_mut().find(|(known, _)| *known == name) {
            Some((_, values)) => values.push(value.into_owned()),
            None => parameters.push((name, vec![value.into_owned()])),
        }
    }
    parameters.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, mut values) in parameters {
        values.sort_unstable();
        resource.push_str(&format!("\n{name}:{}", values.join(",")));
    }
    resource
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// `base64(HMAC-SHA256(key, text))`.
fn sign(key: &[u8], text: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    /// Azurite's documented development key.
    const DEV_KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    fn set_metadata_request() -> Request {
        let url = Url::parse(
            "http://127.0.0.1:10000/devstoreaccount1/eventgrid-deadletter/RUN-COMPLETED/2024/3/1/9/a.json?comp=metadata",
        )
        .unwrap();
        let mut request = Request::new(reqwest::Method::PUT, url);
        let headers = request.headers_mut();
        headers.insert(
            "x-ms-date",
            HeaderValue::from_static("Fri, 01 Mar 2024 09:00:00 GMT"),
        );
        headers.insert("x-ms-version", HeaderValue::from_static("2021-08-06"));
        headers.insert(
            "x-ms-meta-amlreplayed",
            HeaderValue::from_static("2024-03-01T10:00:00Z"),
        );
        headers.insert(
            reqwest::header::HeaderName::from_bytes(b"x-ms-meta-Owner").unwrap(),
            HeaderValue::from_static("  ops   team "),
        );
        headers.insert("if-match", HeaderValue::from_static("\"0x8DC39\""));
        request
    }

    #[test]
    fn the_string_to_sign_has_the_documented_lines() {
        let request = set_metadata_request();
        let text = string_to_sign(
            "PUT",
            request.url(),
            request.headers(),
            0,
            "devstoreaccount1",
        );
        // VERB, Content-Encoding, -Language, -Length (empty for 0), -MD5, -Type, Date,
        // If-Modified-Since, If-Match, If-None-Match, If-Unmodified-Since, Range; the x-ms-
        // headers lower-cased and sorted, whitespace folded; the resource and its query.
        let expected = "PUT\n\n\n\n\n\n\n\n\"0x8DC39\"\n\n\n\n\
            x-ms-date:Fri, 01 Mar 2024 09:00:00 GMT\n\
            x-ms-meta-amlreplayed:2024-03-01T10:00:00Z\n\
            x-ms-meta-owner:ops team\n\
            x-ms-version:2021-08-06\n\
            /devstoreaccount1/devstoreaccount1/eventgrid-deadletter/RUN-COMPLETED/2024/3/1/9/a.json\n\
            comp:metadata";
        assert_eq!(text, expected);
    }

    #[test]
    fn query_parameters_are_sorted_decoded_and_grouped() {
        let url = Url::parse(
            "https://acct.blob.core.windows.net/c?restype=container&comp=list&include=metadata&prefix=A%2FB&marker=2%21x",
        )
        .unwrap();
        assert_eq!(
            canonicalized_resource(&url, "acct"),
            "/acct/c\ncomp:list\ninclude:metadata\nmarker:2!x\nprefix:A/B\nrestype:container"
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_string_with_the_decoded_key() {
        // Computed independently, from the string the test above checks line by line:
        // python3 -c 'import base64,hashlib,hmac,sys; k=base64.b64decode(sys.argv[1]);
        //   print(base64.b64encode(hmac.new(k, sys.stdin.buffer.read(), hashlib.sha256).digest()).decode())' KEY
        let key = base64::engine::general_purpose::STANDARD
            .decode(DEV_KEY)
            .unwrap();
        let request = set_metadata_request();
        assert_eq!(
            authorization("devstoreaccount1", &key, &request),
            "SharedKey devstoreaccount1:u6EnPYE9GI/bTEXBdCW/1OTrkMDD5DrCWnGLJVJnxSw="
        );
    }
}

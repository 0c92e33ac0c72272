//! URLs that need no parser. The notice links are made from names and ids that are almost
//! always letters, digits and a few marks; building each with the `url` crate and parsing it
//! again to check it took more instructions than the rest of a Slack notice's buttons. These
//! checks say yes only where the WHATWG URL parser (the `url` crate) would write the text back
//! byte for byte; anything else takes the parser. Property tests hold them to it.

/// Whether `segment`, appended as a path segment by the URL parser, is written as it is: not
/// empty, no dot segment, only letters, digits and marks the parser leaves alone in a path.
pub(crate) fn is_plain_segment(segment: &str) -> bool {
    !segment.is_empty()
        && !segment.bytes().all(|byte| byte == b'.')
        && segment.bytes().all(is_path_byte)
}

/// Whether `value`, written into a query, stays as it is: only letters, digits, `-._~()`
/// (every Azure resource name and id qualifies).
pub(crate) fn is_plain_query_value(value: &str) -> bool {
    value
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b"-._~()".contains(&byte))
}

/// Whether `text` is an `http` or `https` URL exactly as the URL parser writes it: a host of
/// lower-case labels (the last starting with a letter, so never an IPv4 address), no port,
/// user or fragment, a path without dot segments, and only bytes that need no escaping in the
/// path and query. A no only means "ask the parser".
pub(crate) fn is_written_as_parsed(text: &str) -> bool {
    let Some(rest) = (text.strip_prefix("https://")).or_else(|| text.strip_prefix("http://"))
    else {
        return false;
    };
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, rest) = rest.split_at(host_end);
    // The parser writes `https://host` as `https://host/`: a path must be there.
    let Some(rest) = rest.strip_prefix('/') else {
        return false;
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    is_plain_host(host)
        && path.bytes().all(|byte| byte == b'/' || is_path_byte(byte))
        && path
            .split('/')
            .all(|segment| !matches!(segment, "." | ".."))
        && query.bytes().all(is_query_byte)
}

/// Lower-case DNS labels of letters, digits and inner hyphens, the last starting with a letter;
/// no punycode (`xn--`), which the parser checks and may rewrite.
fn is_plain_host(host: &str) -> bool {
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && !label.starts_with("xn--")
            && label
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
    });
    let last_is_a_name = (host.rsplit('.').next()).is_some_and(|label| {
        label
            .bytes()
            .next()
            .is_some_and(|byte| byte.is_ascii_lowercase())
    });
    labels_ok && last_is_a_name
}

/// A byte the parser writes as it is in a path segment of an `http(s)` URL (a subset).
fn is_path_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~:@!$&'()*+,;=".contains(&byte)
}

/// A byte the parser writes as it is in the query of an `http(s)` URL (a subset; no `'`, which
/// it escapes there, and no `#`, which starts a fragment).
fn is_query_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~:@!$&()*+,;=/?".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Option<String> {
        url::Url::parse(text).ok().map(|url| url.to_string())
    }

    #[test]
    fn the_usual_links_need_no_parser_and_the_odd_ones_do() {
        for text in [
            "https://ml.azure.com/runs/AutoML_ad912b2d-6467_5?wsid=/subscriptions/6a2b/resourcegroups/ml-rg/workspaces/ml-ws",
            "https://ml.azure.com/model/churn:3/details?wsid=/x",
            "http://127.0.0.1.example/a",
            "https://ml.azure.com/",
        ] {
            assert!(is_written_as_parsed(text), "{text}");
            assert_eq!(parsed(text).as_deref(), Some(text));
        }
        for text in [
            "https://ml.azure.com",
            "https://ML.azure.com/",
            "https://ml.azure.com:443/",
            "https://1.2.3/",
            "https://xn--bcher-kva.example/",
            "https://a..b/",
            "https://h/a/./b",
            "https://h/a/../b",
            "https://h/a b",
            "https://h/a?x='1'",
            "https://h/a#top",
            "https://u@h/",
            "ftp://h/",
            "https://h/%41",
            "https://h/é",
        ] {
            assert!(!is_written_as_parsed(text), "{text}");
        }
    }

    proptest::proptest! {
        /// Whatever the checks let through, the parser writes back byte for byte. Each part is
        /// as often usual as it is odd, so that many texts get through.
        #[test]
        fn what_needs_no_parser_is_what_the_parser_writes(
            scheme in "https?://",
            host in proptest::prop_oneof![
                "[a-z][a-z0-9-]{0,5}(\\.[a-z0-9-]{1,4}){0,2}",
                "([a-zA-Z0-9-]{0,6}\\.?){1,3}(:[0-9]{1,3})?",
            ],
            path in proptest::prop_oneof![
                "(/[a-zA-Z0-9._~:@!$&'()*+,;=-]{0,6}){1,4}",
                "(/([a-zA-Z0-9._~:@!$&'()*+,;=%-]|\\.\\.|\\.| |é){0,6}){0,4}",
            ],
            query in proptest::prop_oneof![
                "(\\?[a-zA-Z0-9._~:@!$&'()*+,;=/?-]{0,10})?",
                "(\\?([a-zA-Z0-9._~:@!$&'()*+,;=/?%#-]| ){0,10})?",
            ],
        ) {
            let text = format!("{scheme}{host}{path}{query}");
            if is_written_as_parsed(&text) {
                proptest::prop_assert_eq!(parsed(&text), Some(text));
            }
        }

        /// A plain segment and a plain query value are written by the parser as they are.
        #[test]
        fn plain_segments_and_values_are_written_as_they_are(
            segment in proptest::prop_oneof![
                "[a-zA-Z0-9._~:@!$&'()*+,;=-]{0,8}",
                "([a-zA-Z0-9._~:@!$&'()*+,;=%/? -]|\\.\\.|é){0,8}",
            ],
            value in proptest::prop_oneof!["[a-zA-Z0-9._~()-]{0,8}", "([a-zA-Z0-9._~()%'# -]|é){0,8}"],
        ) {
            let mut url = url::Url::parse("https://ml.azure.com/").unwrap();
            if let Ok(mut path) = url.path_segments_mut() {
                path.pop_if_empty().extend(["runs", &segment]);
            }
            url.set_query(Some(&format!("wsid={value}")));
            if is_plain_segment(&segment) {
                proptest::prop_assert!(url.path().ends_with(&format!("/{segment}")), "{}", url);
            }
            if is_plain_query_value(&value) {
                proptest::prop_assert_eq!(url.query().map(str::to_owned), Some(format!("wsid={value}")));
            }
        }
    }
}

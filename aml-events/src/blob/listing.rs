//! List Blobs' answer, an XML document, read with quick-xml into [`BlobItem`]s and the marker
//! of the next page (empty on the last).
//! See <https://learn.microsoft.com/rest/api/storageservices/list-blobs#response-body>.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One blob as listed: its name, its ETag and its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobItem {
    /// The blob's full name in its container (`RUN-COMPLETED/2024/3/1/9/<guid>.json`).
    pub name: String,
    /// Its ETag when listed: setting metadata is conditional on it.
    pub etag: Option<String>,
    /// Its metadata (names as the service lists them; the service compares them
    /// case-insensitively).
    pub metadata: BTreeMap<String, String>,
}

impl BlobItem {
    /// A metadata value, its name compared without regard to case.
    pub fn metadata_value(&self, name: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// One page of a listing.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Page {
    pub(super) blobs: Vec<BlobItem>,
    /// The next page's `marker`; `None` on the last page.
    pub(super) next_marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EnumerationResults {
    #[serde(default)]
    blobs: Blobs,
    #[serde(default)]
    next_marker: Option<String>,
}

#[derive(Deserialize, Default)]
struct Blobs {
    // `Blob` and, with a delimiter, `BlobPrefix` elements, in any order.
    #[serde(rename = "$value", default)]
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
enum Entry {
    Blob(Blob),
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Blob {
    name: String,
    #[serde(default)]
    properties: Properties,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct Properties {
    #[serde(rename = "Etag", default)]
    etag: Option<String>,
}

/// Reads one page of a List Blobs answer.
pub(super) fn parse(xml: &str) -> Result<Page, quick_xml::DeError> {
    let results: EnumerationResults = quick_xml::de::from_str(xml)?;
    let blobs = results
        .blobs
        .entries
        .into_iter()
        .filter_map(|entry| match entry {
            Entry::Blob(blob) => Some(BlobItem {
                name: blob.name,
                etag: blob.properties.etag,
                metadata: blob.metadata,
            }),
            Entry::Other => None,
        })
        .collect();
    Ok(Page {
        blobs,
        next_marker: results.next_marker.filter(|marker| !marker.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_etags_metadata_and_the_next_marker() {
        // The shape of the documented response body, entities and a prefix entry included.
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<EnumerationResults ServiceEndpoint="http://127.0.0.1:10000/devstoreaccount1" ContainerName="eventgrid-deadletter">
  <Prefix>RUN-COMPLETED/</Prefix>
  <MaxResults>2</MaxResults>
  <Blobs>
    <Blob>
      <Name>RUN-COMPLETED/2024/3/1/9/a&amp;b.json</Name>
      <Properties><Last-Modified>Fri, 01 Mar 2024 09:05:00 GMT</Last-Modified><Etag>"0x8DC39"</Etag><Content-Length>512</Content-Length></Properties>
      <Metadata><amlreplayed>2024-03-01T10:00:00Z</amlreplayed><Owner>ops</Owner></Metadata>
    </Blob>
    <BlobPrefix><Name>RUN-COMPLETED/2024/</Name></BlobPrefix>
    <Blob>
      <Name>RUN-COMPLETED/2024/3/1/10/c.json</Name>
      <Properties />
      <Metadata />
    </Blob>
  </Blobs>
  <NextMarker>2!84!MDAwMDE5</NextMarker>
</EnumerationResults>"#;
        let page = parse(xml).unwrap();
        assert_eq!(page.next_marker.as_deref(), Some("2!84!MDAwMDE5"));
        assert_eq!(page.blobs.len(), 2);
        assert_eq!(page.blobs[0].name, "RUN-COMPLETED/2024/3/1/9/a&b.json");
        assert_eq!(page.blobs[0].etag.as_deref(), Some("\"0x8DC39\""));
        assert_eq!(
            page.blobs[0].metadata_value("AMLREPLAYED"),
            Some("2024-03-01T10:00:00Z")
        );
        assert_eq!(page.blobs[0].metadata.len(), 2);
        assert_eq!(page.blobs[1].metadata, BTreeMap::new());
    }

    #[test]
    fn an_empty_next_marker_ends_the_listing() {
        let page =
            parse("<EnumerationResults><Blobs /><NextMarker /></EnumerationResults>").unwrap();
        assert_eq!(
            page,
            Page {
                blobs: vec![],
                next_marker: None
            }
        );
        assert!(parse("<html>not a listing").is_err());
    }
}

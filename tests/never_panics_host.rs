//! The host-invocation decoder faces whatever reaches `POST /{Function}`: arbitrary bytes,
//! odd `Data` shapes and encodings nested any number of times must come back as a body or an
//! error, never a panic; and what it returns must go through the envelope reader safely too.
//! The one-pass reader of the host's usual shape must answer exactly as the general one does.
//! A notification batch, whatever events it mixes, gets one outcome per event.

use aml_handlers::{
    AppContext,
    config::Config,
    hosting::{
        custom_handler::{event_body, event_body_in_general},
        webhook::{self, WebhookRequest},
    },
};
use proptest::prelude::*;
use serde_json::{Value, json};

const EVENT: &str = include_str!("fixtures/event_grid/run_status_changed.json");

/// Decodes an invocation all the way to typed events, as the route does.
fn decode_fully(invocation: &[u8]) {
    if let Ok((_, body)) = event_body(invocation)
        && let Ok(events) = aml_events::envelope::parse(None, body.as_bytes())
    {
        for event in events {
            let _ = event.decode();
        }
    }
}

/// `text` JSON-encoded as a string `times` times.
fn encode(text: &str, times: usize) -> String {
    (0..times).fold(text.to_owned(), |text, _| {
        serde_json::to_string(&text).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_fully(&body);
    }

    #[test]
    fn arbitrary_data_values(binding in "[a-zA-Z]{1,8}", value in "\\PC{0,64}", times in 0usize..6) {
        let invocation = format!(r#"{{"Data": {{"{binding}": {}}}, "Metadata": {{}}}}"#, encode(&value, times.max(1)));
        decode_fully(invocation.as_bytes());
    }

    #[test]
    fn the_real_event_in_any_number_of_encodings(times in 0usize..8, cut in any::<prop::sample::Index>()) {
        let data = if times == 0 { EVENT.to_owned() } else { encode(EVENT, times) };
        let invocation = format!(r#"{{"Data": {{"event": {data}}}, "Metadata": {{"sys": {{}}}}}}"#);
        decode_fully(invocation.as_bytes());
        // And cut short anywhere.
        let bytes = invocation.as_bytes();
        decode_fully(&bytes[..cut.index(bytes.len())]);
        // Up to three string encodings are unwrapped to the event itself.
        if (1..=3).contains(&times) {
            let (_, body) = event_body(invocation.as_bytes()).unwrap();
            prop_assert_eq!(body.as_ref(), EVENT);
        }
    }

    #[test]
    fn the_one_pass_reader_answers_as_the_general_one(
        binding in "[a-zA-Z]{1,8}",
        value in "(\\PC|[\"\\\\/\u{0}-\u{1f}\u{1F600}])*",
        times in 1usize..5,
        metadata in prop::sample::select(vec!["", r#","Metadata":{"sys":{"a":[1,"\"x"]}}"#, r#" , "Metadata" : null "#]),
        flip in any::<Option<(prop::sample::Index, u8)>>(),
    ) {
        let mut invocation = format!(r#"{{"Data":{{"{binding}":{}}}{metadata}}}"#, encode(&value, times)).into_bytes();
        if let Some((at, byte)) = flip {
            let at = at.index(invocation.len());
            invocation[at] = byte;
        }
        let one_pass = event_body(&invocation);
        let general = event_body_in_general(&invocation);
        prop_assert_eq!(format!("{one_pass:?}"), format!("{general:?}"));
        if flip.is_none() && times <= 3 && !value.trim_start().starts_with('"') {
            let (_, body) = one_pass.unwrap();
            prop_assert_eq!(body.as_ref(), value.as_str());
        }
    }

    // See: issue 13, "A validation event inside a Notification batch".
    #[test]
    fn every_event_of_a_notification_batch_gets_its_outcome(kinds in prop::collection::vec(0u8..4, 1..12)) {
        let events: Vec<Value> = kinds.iter().enumerate().map(|(index, kind)| batch_event(index, *kind)).collect();
        let body = Value::from(events).to_string();
        let request = WebhookRequest { event_type_header: Some("Notification"), ..WebhookRequest::default() };
        let answer = RUNTIME.block_on(webhook::deliver(&request, None, body.as_bytes(), &CONTEXT)).unwrap().body_json();
        prop_assert!(answer.get("validationResponse").is_none(), "{}", answer);
        let results = answer["results"].as_array().unwrap();
        prop_assert_eq!(results.len(), kinds.len());
        for (result, kind) in results.iter().zip(&kinds) {
            // The Azure ML events are handled (actions considered), the others acknowledged.
            prop_assert_eq!(result.get("note").is_none(), *kind >= 2, "{}", result);
        }
    }
}

static CONTEXT: std::sync::LazyLock<AppContext> =
    std::sync::LazyLock::new(|| AppContext::new(Config::from_lookup(|_| None).unwrap()).unwrap());

static RUNTIME: std::sync::LazyLock<tokio::runtime::Runtime> = std::sync::LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
});

/// Event `index` of a batch: 0 a validation event, 1 a type no function handles, 2 a failed
/// run, 3 a registered model; ids unique across cases, so none is taken for a redelivery.
fn batch_event(index: usize, kind: u8) -> Value {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let id = format!(
        "e{index}-{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let (event_type, data) = match kind {
        0 => (
            "Microsoft.EventGrid.SubscriptionValidationEvent",
            json!({"validationCode": "c0de", "validationUrl": "https://localhost/validate"}),
        ),
        1 => ("Contoso.Items.ItemReceived", json!({"sku": 1})),
        2 => (
            "Microsoft.MachineLearningServices.RunStatusChanged",
            json!({"experimentName": "e", "runId": "r", "runStatus": "Failed"}),
        ),
        _ => (
            "Microsoft.MachineLearningServices.ModelRegistered",
            json!({"modelName": "m", "modelVersion": "1"}),
        ),
    };
    json!({"id": id, "eventType": event_type, "subject": "s", "eventTime": "2024-03-01T12:00:00Z", "data": data})
}

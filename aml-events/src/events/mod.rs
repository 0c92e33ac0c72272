//! The typed data of Azure ML's five events and Event Grid's system events, and the one place
//! that maps an event type to the function that handles it.
//!
//! # Layout
//! - [`Function`]: the five functions; event type <-> function name, nothing else.
//! - [`AmlEvent`]: an event's data read as its type's payload, with an explicit
//!   [`AmlEvent::Unknown`] for types that are not ours.
//! - [`RawObject`]: tags and properties, kept as JSON text until read.
//! - [`monitor_breach`]: a model monitor's breach, read from the tag on its failed run.
//! - one module per payload, each declared with `payload!` (see `payload`), which reads keys
//!   in any casing as real traffic sends them.
//!
//! It does not decide what to do with an event; that is the handlers' job.

pub mod dataset_drift_detected;
pub mod model_deployed;
pub mod model_registered;
pub mod monitor_breach;
pub(crate) mod payload;
mod raw_object;
pub(crate) use payload::payload;
pub mod run_completed;
pub mod run_status_changed;

use std::marker::PhantomData;

use serde::{Deserialize, Serialize, Serializer, de::DeserializeOwned};

pub use dataset_drift_detected::DatasetDriftDetected;
pub use model_deployed::ModelDeployed;
pub use model_registered::ModelRegistered;
pub use monitor_breach::{MonitorBreach, Violation};
pub use raw_object::RawObject;
pub use run_completed::RunCompleted;
pub use run_status_changed::{RunStatus, RunStatusChanged};

use crate::{
    envelope::validation::{SubscriptionDeletedEventData, SubscriptionValidationEventData},
    error::ParseError,
};

/// The Event Grid type of the subscription-validation handshake event.
pub const SUBSCRIPTION_VALIDATION_EVENT: &str = "Microsoft.EventGrid.SubscriptionValidationEvent";
/// The Event Grid type sent when an event subscription is deleted.
pub const SUBSCRIPTION_DELETED_EVENT: &str = "Microsoft.EventGrid.SubscriptionDeletedEvent";

/// One function per Azure ML event type. Its name is the Azure Function's name, the folder
/// under `function-definitions/` and the custom handler route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Function {
    /// Handles `Microsoft.MachineLearningServices.ModelRegistered`.
    ModelRegistered,
    /// Handles `Microsoft.MachineLearningServices.ModelDeployed`.
    ModelDeployed,
    /// Handles `Microsoft.MachineLearningServices.RunCompleted`.
    RunCompleted,
    /// Handles `Microsoft.MachineLearningServices.DatasetDriftDetected`.
    DatasetDriftDetected,
    /// Handles `Microsoft.MachineLearningServices.RunStatusChanged`.
    RunStatusChanged,
}

impl Function {
    /// Every function, in the order of Azure's event table.
    pub const ALL: [Function; 5] = [
        Function::ModelRegistered,
        Function::ModelDeployed,
        Function::RunCompleted,
        Function::DatasetDriftDetected,
        Function::RunStatusChanged,
    ];

    /// The function's name: `RunCompleted`, ...
    pub const fn name(self) -> &'static str {
        match self {
            Function::ModelRegistered => "ModelRegistered",
            Function::ModelDeployed => "ModelDeployed",
            Function::RunCompleted => "RunCompleted",
            Function::DatasetDriftDetected => "DatasetDriftDetected",
            Function::RunStatusChanged => "RunStatusChanged",
        }
    }

    /// The Event Grid event type it handles.
    pub const fn event_type(self) -> &'static str {
        match self {
            Function::ModelRegistered => "Microsoft.MachineLearningServices.ModelRegistered",
            Function::ModelDeployed => "Microsoft.MachineLearningServices.ModelDeployed",
            Function::RunCompleted => "Microsoft.MachineLearningServices.RunCompleted",
            Function::DatasetDriftDetected => {
                "Microsoft.MachineLearningServices.DatasetDriftDetected"
            }
            Function::RunStatusChanged => "Microsoft.MachineLearningServices.RunStatusChanged",
        }
    }

    /// The function for an event type (ASCII case ignored); `None` means "not ours", which is
    /// acknowledged, not an error.
    pub fn from_event_type(event_type: &str) -> Option<Function> {
        Function::ALL
            .into_iter()
            .find(|function| function.event_type().eq_ignore_ascii_case(event_type))
    }

    /// Every function's name, comma-separated, for messages that list them.
    pub fn list() -> String {
        Function::ALL.map(Function::name).join(", ")
    }

    /// The function of this name (ASCII case ignored, as Azure Functions routes are).
    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL
            .into_iter()
            .find(|function| function.name().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Function {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// An event's data, read as the payload of its type.
#[derive(Debug, Clone, PartialEq)]
pub enum AmlEvent {
    /// See [`ModelRegistered`].
    ModelRegistered(ModelRegistered),
    /// See [`ModelDeployed`].
    ModelDeployed(ModelDeployed),
    /// See [`RunCompleted`].
    RunCompleted(RunCompleted),
    /// See [`DatasetDriftDetected`].
    DatasetDriftDetected(DatasetDriftDetected),
    /// See [`RunStatusChanged`].
    RunStatusChanged(RunStatusChanged),
    /// Event Grid's subscription-validation handshake.
    SubscriptionValidation(SubscriptionValidationEventData),
    /// Event Grid's notice that a subscription was deleted.
    SubscriptionDeleted(SubscriptionDeletedEventData),
    /// Any other type: not ours. Its data stays raw in the [`crate::Event`] that
    /// [`crate::envelope::parse`] read (`parse_decoded` does not keep it).
    Unknown {
        /// The type as sent.
        event_type: String,
    },
}

impl AmlEvent {
    /// Reads `data` (raw JSON text, or `None` when the event had none) as the payload of
    /// `event_type`. Missing data reads as a payload whose fields are all null.
    pub fn decode(id: &str, event_type: &str, data: Option<&str>) -> Result<AmlEvent, ParseError> {
        AmlEvent::read_as(event_type, TextData { id, data })
    }

    /// The one table from event type to payload, whatever the data is read from.
    fn read_as<R: DataReader>(event_type: &str, data: R) -> Result<AmlEvent, R::Error> {
        if let Some(function) = Function::from_event_type(event_type) {
            let name = function.name();
            return Ok(match function {
                Function::ModelRegistered => AmlEvent::ModelRegistered(data.read(name)?),
                Function::ModelDeployed => AmlEvent::ModelDeployed(data.read(name)?),
                Function::RunCompleted => AmlEvent::RunCompleted(data.read(name)?),
                Function::DatasetDriftDetected => AmlEvent::DatasetDriftDetected(data.read(name)?),
                Function::RunStatusChanged => AmlEvent::RunStatusChanged(data.read(name)?),
            });
        }
        Ok(
            if event_type.eq_ignore_ascii_case(SUBSCRIPTION_VALIDATION_EVENT) {
                AmlEvent::SubscriptionValidation(data.read("SubscriptionValidationEvent")?)
            } else if event_type.eq_ignore_ascii_case(SUBSCRIPTION_DELETED_EVENT) {
                AmlEvent::SubscriptionDeleted(data.read("SubscriptionDeletedEvent")?)
            } else {
                data.skip()?;
                AmlEvent::Unknown {
                    event_type: event_type.to_owned(),
                }
            },
        )
    }

    /// The function that handles this event, if it is one of the five.
    pub fn function(&self) -> Option<Function> {
        match self {
            AmlEvent::ModelRegistered(_) => Some(Function::ModelRegistered),
            AmlEvent::ModelDeployed(_) => Some(Function::ModelDeployed),
            AmlEvent::RunCompleted(_) => Some(Function::RunCompleted),
            AmlEvent::DatasetDriftDetected(_) => Some(Function::DatasetDriftDetected),
            AmlEvent::RunStatusChanged(_) => Some(Function::RunStatusChanged),
            AmlEvent::SubscriptionValidation(_)
            | AmlEvent::SubscriptionDeleted(_)
            | AmlEvent::Unknown { .. } => None,
        }
    }
}

/// Writes the payload alone, under its canonical keys; `Unknown` writes `null` (its data is
/// in the event).
impl Serialize for AmlEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            AmlEvent::ModelRegistered(data) => data.serialize(serializer),
            AmlEvent::ModelDeployed(data) => data.serialize(serializer),
            AmlEvent::RunCompleted(data) => data.serialize(serializer),
            AmlEvent::DatasetDriftDetected(data) => data.serialize(serializer),
            AmlEvent::RunStatusChanged(data) => data.serialize(serializer),
            AmlEvent::SubscriptionValidation(data) => data.serialize(serializer),
            AmlEvent::SubscriptionDeleted(data) => data.serialize(serializer),
            AmlEvent::Unknown { .. } => serializer.serialize_none(),
        }
    }
}

/// Where an event's data is read from: its raw text ([`AmlEvent::decode`]) or the envelope's
/// own deserializer ([`DataSeed`]).
trait DataReader {
    type Error;
    /// The data as the payload `T` (of the type named `payload`, for messages); missing or
    /// `null` data reads as a payload whose fields are all null.
    fn read<T: DeserializeOwned + Default>(self, payload: &'static str) -> Result<T, Self::Error>;
    /// The data of a type that is not ours, passed over.
    fn skip(self) -> Result<(), Self::Error>;
}

/// An event's raw data text, with its id for messages.
struct TextData<'a> {
    id: &'a str,
    data: Option<&'a str>,
}

impl DataReader for TextData<'_> {
    type Error = ParseError;

    fn read<T: DeserializeOwned + Default>(self, payload: &'static str) -> Result<T, ParseError> {
        let Some(data) = self.data else {
            return Ok(T::default());
        };
        // Tracking the path costs on every key, so it is only done to word an error.
        if let Ok(payload) = T::deserialize(&mut serde_json::Deserializer::from_str(data)) {
            return Ok(payload);
        }
        let mut deserializer = serde_json::Deserializer::from_str(data);
        serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
            let path = err.path().to_string();
            ParseError::Data {
                id: self.id.to_owned(),
                event_type: payload,
                field: if path == "." {
                    "data".to_owned()
                } else {
                    format!("data.{path}")
                },
                message: err.into_inner().to_string(),
            }
        })
    }

    fn skip(self) -> Result<(), ParseError> {
        Ok(())
    }
}

/// Reads an event's `data` value straight into its type's payload, as [`AmlEvent::decode`]
/// reads the raw text: for the envelope reader, when the type came before the data.
pub(crate) struct DataSeed<'a> {
    /// The event's type, as sent.
    pub(crate) event_type: &'a str,
}

impl<'de> serde::de::DeserializeSeed<'de> for DataSeed<'_> {
    type Value = AmlEvent;

    fn deserialize<D: serde::Deserializer<'de>>(self, data: D) -> Result<AmlEvent, D::Error> {
        AmlEvent::read_as(self.event_type, SeedData(data, PhantomData))
    }
}

/// The envelope's deserializer, positioned on an event's `data`.
struct SeedData<'de, D: serde::Deserializer<'de>>(D, PhantomData<&'de ()>);

impl<'de, D: serde::Deserializer<'de>> DataReader for SeedData<'de, D> {
    type Error = D::Error;

    fn read<T: DeserializeOwned + Default>(self, _: &'static str) -> Result<T, D::Error> {
        // Only `null` data becomes the all-null payload (docs/events.md: a missing field reads as
        // null); data that is present is read field by field, or refused.
        Ok(Option::<T>::deserialize(self.0)?.unwrap_or_default())
    }

    fn skip(self) -> Result<(), D::Error> {
        serde::de::IgnoredAny::deserialize(self.0).map(|_| ())
    }
}

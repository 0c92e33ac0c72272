//! Event ids recently handled to completion, so a redelivered event is acknowledged without
//! repeating its actions. Bounded: the oldest ids are forgotten first. Across instances the
//! deterministic job name and the notification's `Idempotency-Key` carry idempotency.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
};

use aml_events::Function;

use crate::outcome::Action;

/// How many completed events are remembered by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// A bounded set of (function, event id) pairs and the actions they took.
#[derive(Debug)]
pub struct RecentEvents {
    capacity: usize,
    inner: Mutex<Recent>,
}

#[derive(Debug, Default)]
struct Recent {
    actions: HashMap<(Function, String), Vec<Action>>,
    order: VecDeque<(Function, String)>,
}

impl RecentEvents {
    /// An empty set holding at most `capacity` events.
    pub fn new(capacity: usize) -> Self {
        RecentEvents {
            capacity: capacity.max(1),
            inner: Mutex::new(Recent::default()),
        }
    }

    /// The actions `function` completed for `event_id`, if it did recently.
    pub fn completed(&self, function: Function, event_id: &str) -> Option<Vec<Action>> {
        let recent = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        recent
            .actions
            .get(&(function, event_id.to_owned()))
            .cloned()
    }

    /// Records that `function` completed `event_id` with `actions`.
    pub fn remember(&self, function: Function, event_id: &str, actions: Vec<Action>) {
        let mut recent = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (function, event_id.to_owned());
        if recent.actions.insert(key.clone(), actions).is_none() {
            recent.order.push_back(key);
        }
        while recent.order.len() > self.capacity {
            if let Some(oldest) = recent.order.pop_front() {
                recent.actions.remove(&oldest);
            }
        }
    }
}

impl Default for RecentEvents {
    fn default() -> Self {
        RecentEvents::new(DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_completed_events_and_forgets_the_oldest() {
        let recent = RecentEvents::new(2);
        recent.remember(Function::RunCompleted, "a", vec![Action::Notify]);
        recent.remember(Function::RunCompleted, "b", vec![]);
        assert_eq!(
            recent.completed(Function::RunCompleted, "a"),
            Some(vec![Action::Notify])
        );
        assert_eq!(
            recent.completed(Function::ModelRegistered, "a"),
            None,
            "per function"
        );
        recent.remember(Function::RunCompleted, "c", vec![]);
        assert_eq!(
            recent.completed(Function::RunCompleted, "a"),
            None,
            "the oldest is forgotten"
        );
        assert!(recent.completed(Function::RunCompleted, "c").is_some());
    }
}

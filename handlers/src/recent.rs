//! Event ids recently handled to completion, so a redelivered event is acknowledged without
//! repeating its actions. Bounded: the oldest ids are forgotten first. Across instances the
//! deterministic job name and the notification's `Idempotency-Key` carry idempotency.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
};

use aml_events::Function;
use foldhash::quality::RandomState;

use crate::outcome::Action;

/// How many completed events are remembered by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// A bounded set of (function, event id) pairs and the actions they took.
#[derive(Debug)]
pub struct RecentEvents {
    capacity: usize,
    inner: Mutex<Recent>,
}

/// One map per function, so that an id is looked up as the `&str` it arrives as; each id is
/// stored once, shared by its map entry and its place in the eviction order. Seeded hashing,
/// faster than the standard library's for ids this short.
#[derive(Debug, Default)]
struct Recent {
    actions: [HashMap<Arc<str>, Vec<Action>, RandomState>; Function::ALL.len()],
    order: VecDeque<(Function, Arc<str>)>,
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
        recent.actions[slot(function)].get(event_id).cloned()
    }

    /// Records that `function` completed `event_id` with `actions`.
    pub fn remember(&self, function: Function, event_id: &str, actions: Vec<Action>) {
        let mut recent = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Recent {
            actions: maps,
            order,
        } = &mut *recent;
        if let Some(known) = maps[slot(function)].get_mut(event_id) {
            *known = actions;
            return;
        }
        let id: Arc<str> = event_id.into();
        maps[slot(function)].insert(Arc::clone(&id), actions);
        order.push_back((function, id));
        while order.len() > self.capacity {
            if let Some((function, oldest)) = order.pop_front() {
                maps[slot(function)].remove(&oldest);
            }
        }
    }
}

/// The map of `function`: its place in `Function::ALL`.
fn slot(function: Function) -> usize {
    Function::ALL
        .iter()
        .position(|&each| each == function)
        .unwrap_or_default()
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

//! Event ids recently handled to completion, so a redelivered event is acknowledged without
//! repeating its actions. Bounded: the oldest ids are forgotten first. Across instances the
//! deterministic job name and the notification's `Idempotency-Key` carry idempotency.

use std::sync::Mutex;

use aml_events::Function;
use foldhash::quality::RandomState;
use hashbrown::HashTable;

use crate::outcome::Action;

/// How many completed events are remembered by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// A bounded set of (function, event id) pairs and the actions they took.
#[derive(Debug)]
pub struct RecentEvents {
    capacity: usize,
    inner: Mutex<Recent>,
}

/// A ring of entries, oldest overwritten first, and an index of their places by hash.
///
/// Every invocation looks an id up and, once its function completes, stores it and forgets
/// the oldest; so the index holds places, each entry keeps its own hash, and forgetting
/// compares places, not strings. The forgotten entry's buffers are reused for the new one.
#[derive(Debug, Default)]
struct Recent {
    hasher: RandomState,
    places: HashTable<u32>,
    entries: Vec<Entry>,
    /// The place the next new entry takes once the ring is full: the oldest entry.
    oldest: usize,
}

#[derive(Debug)]
struct Entry {
    hash: u64,
    function: Function,
    event_id: String,
    actions: Vec<Action>,
}

impl RecentEvents {
    /// An empty set holding at most `capacity` events.
    pub fn new(capacity: usize) -> Self {
        RecentEvents {
            capacity: capacity.clamp(1, u32::MAX as usize),
            inner: Mutex::new(Recent::default()),
        }
    }

    /// The actions `function` completed for `event_id`, if it did recently.
    pub fn completed(&self, function: Function, event_id: &str) -> Option<Vec<Action>> {
        let recent = self.lock();
        let hash = recent.hash(function, event_id);
        let place = recent.find(hash, function, event_id)?;
        Some(recent.entries[place].actions.clone())
    }

    /// Records that `function` completed `event_id` with `actions`.
    pub fn remember(
        &self,
        function: Function,
        event_id: &str,
        actions: impl IntoIterator<Item = Action>,
    ) {
        let mut recent = self.lock();
        let hash = recent.hash(function, event_id);
        if let Some(place) = recent.find(hash, function, event_id) {
            let known = &mut recent.entries[place].actions;
            known.clear();
            known.extend(actions);
            return;
        }
        let Recent {
            hasher: _,
            places,
            entries,
            oldest,
        } = &mut *recent;
        let place = if entries.len() < self.capacity {
            entries.push(Entry {
                hash,
                function,
                event_id: event_id.to_owned(),
                actions: actions.into_iter().collect(),
            });
            entries.len() - 1
        } else {
            let place = *oldest;
            *oldest = (place + 1) % entries.len();
            let entry = &mut entries[place];
            if let Ok(forgotten) = places.find_entry(entry.hash, |&known| known as usize == place) {
                forgotten.remove();
            }
            entry.hash = hash;
            entry.function = function;
            reuse(&mut entry.event_id, event_id);
            entry.actions.clear();
            entry.actions.extend(actions);
            place
        };
        // Places fit in 32 bits (`new` caps the capacity), halving the index's memory: every
        // lookup lands at a random spot in it.
        places.insert_unique(hash, place as u32, |&known| entries[known as usize].hash);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Puts `text` into `buffer`, keeping its allocation unless it is far larger than `text`
/// needs: an unusually long id must not stay held by its place after it is forgotten.
fn reuse(buffer: &mut String, text: &str) {
    if buffer.capacity() > 4 * text.len().max(64) {
        *buffer = text.to_owned();
    } else {
        buffer.clear();
        buffer.push_str(text);
    }
}

impl Recent {
    fn hash(&self, function: Function, event_id: &str) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one((function, event_id))
    }

    /// The place of `function`'s entry for `event_id`.
    fn find(&self, hash: u64, function: Function, event_id: &str) -> Option<usize> {
        self.places
            .find(hash, |&place| {
                let entry = &self.entries[place as usize];
                entry.function == function && entry.event_id == event_id
            })
            .map(|&place| place as usize)
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
        recent.remember(Function::RunCompleted, "a", [Action::Notify]);
        recent.remember(Function::RunCompleted, "b", []);
        assert_eq!(
            recent.completed(Function::RunCompleted, "a"),
            Some(vec![Action::Notify])
        );
        assert_eq!(
            recent.completed(Function::ModelRegistered, "a"),
            None,
            "per function"
        );
        recent.remember(Function::RunCompleted, "c", []);
        assert_eq!(
            recent.completed(Function::RunCompleted, "a"),
            None,
            "the oldest is forgotten"
        );
        assert!(recent.completed(Function::RunCompleted, "c").is_some());
    }

    #[test]
    fn keeps_the_newest_ids_around_the_ring() {
        let recent = RecentEvents::new(3);
        for n in 0..10 {
            recent.remember(Function::ModelDeployed, &n.to_string(), [Action::SmokeTest]);
            let known: Vec<bool> = (0..10)
                .map(|m| {
                    recent
                        .completed(Function::ModelDeployed, &m.to_string())
                        .is_some()
                })
                .collect();
            let expected: Vec<bool> = (0..10).map(|m| m <= n && m + 3 > n).collect();
            assert_eq!(known, expected, "after remembering {n}");
        }
    }

    #[test]
    fn a_second_completion_replaces_the_actions_without_taking_a_place() {
        let recent = RecentEvents::new(2);
        recent.remember(Function::RunCompleted, "a", [Action::Enrich]);
        recent.remember(Function::RunCompleted, "b", []);
        recent.remember(
            Function::RunCompleted,
            "a",
            [Action::Enrich, Action::Notify],
        );
        assert_eq!(
            recent.completed(Function::RunCompleted, "a"),
            Some(vec![Action::Enrich, Action::Notify])
        );
        assert!(recent.completed(Function::RunCompleted, "b").is_some());
    }

    #[test]
    fn a_long_forgotten_id_does_not_keep_its_memory() {
        let recent = RecentEvents::new(1);
        recent.remember(Function::RunCompleted, &"x".repeat(100_000), []);
        recent.remember(Function::RunCompleted, "short", []);
        let held = recent.lock().entries[0].event_id.capacity();
        assert!(held < 1_000, "{held} bytes held for a 5-byte id");
        assert!(recent.completed(Function::RunCompleted, "short").is_some());
    }
}

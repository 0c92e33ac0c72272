//! Intervals as people write them in a routes file and in settings (a retrain's `cooldown`, a
//! route's `notify_every`, `AML_RETRAIN_COOLDOWN`, `AML_NOTIFY_EVERY`): a whole number and a
//! unit, `30s`, `15m`, `1h`, `2d`, read one way everywhere and shown back the same way.
//!
//! Zero, negative and fractional amounts are refused: an interval of nothing would turn the
//! rule off without saying so (leave the key out for that).

use std::time::Duration;

/// What an interval looks like, for messages.
pub const EXPECTED: &str = "duration such as 30s, 15m, 1h or 2d";

/// The longest interval accepted: a year, far past any cooldown that makes sense, and well
/// inside what the clocks can add.
const MAX_SECONDS: u64 = 366 * 24 * 60 * 60;

const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// Reads `30s`, `15m`, `1h` or `2d` (spaces around the number allowed); why not, otherwise.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let refused = |why: &str| Err(format!("{text:?} is not a {EXPECTED}: {why}"));
    let Some(unit) = text.chars().last() else {
        return refused("it is empty");
    };
    let Some((_, seconds)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return refused("it must end with a unit: s, m, h or d");
    };
    let number = text[..text.len() - unit.len_utf8()].trim();
    if number.starts_with('-') {
        return refused("it is negative");
    }
    let Ok(amount) = number.parse::<u64>() else {
        return refused("it must be a whole number before the unit");
    };
    match amount.checked_mul(*seconds) {
        Some(0) => refused("it is zero (leave the key out to turn the rule off)"),
        Some(total) if total <= MAX_SECONDS => Ok(Duration::from_secs(total)),
        _ => refused("it is longer than a year"),
    }
}

/// `duration` in the largest unit that holds it whole: `1h`, `90m`, `2d`, `45s`.
pub fn show(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (unit, size) = UNITS
        .iter()
        .find(|(_, size)| seconds >= *size && seconds.is_multiple_of(*size))
        .copied()
        .unwrap_or(('s', 1));
    format!("{}{unit}", seconds / size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_unit_and_shows_it_back() {
        for (text, seconds, shown) in [
            ("30s", 30, "30s"),
            ("15m", 900, "15m"),
            ("1h", 3_600, "1h"),
            ("2d", 172_800, "2d"),
            (" 90 m ", 5_400, "90m"),
            ("120m", 7_200, "2h"),
        ] {
            let parsed = parse(text).unwrap_or_else(|err| panic!("{text}: {err}"));
            assert_eq!(parsed, Duration::from_secs(seconds), "{text}");
            assert_eq!(show(parsed), shown, "{text}");
        }
    }

    #[test]
    fn refuses_zero_negative_fractions_and_words() {
        for (text, why) in [
            ("0s", "zero"),
            ("-1h", "negative"),
            ("1.5h", "whole number"),
            ("1", "unit"),
            ("1w", "unit"),
            ("h", "whole number"),
            ("", "empty"),
            ("soon", "unit"),
            ("400d", "longer than a year"),
            ("99999999999999999999d", "whole number"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(why), "{text:?}: {err}");
            assert!(err.contains(EXPECTED), "{text:?}: {err}");
        }
    }
}

//! Money as integers, so that sums are exact and never drift: costs and caps
//! in micro-USD, unit prices in pico-USD (a token at 0.1 USD per million is
//! a tenth of a micro-USD, and a second of CPU at 0.00012 USD is 120). USD
//! numbers appear only where a setting is read and where an answer is shown.

/// An amount in millionths of a USD.
pub type MicroUsd = u64;

/// A unit price (per second, per token) in millionths of a micro-USD.
pub type PicoUsd = u64;

/// Micro-USD in one USD.
pub const MICROS_PER_USD: u64 = 1_000_000;

/// Pico-USD in one micro-USD.
pub const PICOS_PER_MICRO: u64 = 1_000_000;

/// The largest USD figure a setting may hold. A bound keeps every product
/// below within `u128` and every pico-USD price within `u64`.
pub const MAX_USD: f64 = 1_000_000.0;

/// `usd` in micro-USD, rounded to the nearest; `None` unless it is a number
/// from 0 to [`MAX_USD`].
pub fn micros(usd: f64) -> Option<MicroUsd> {
    in_range(usd).then(|| (usd * MICROS_PER_USD as f64).round() as u64)
}

/// `usd` in pico-USD, rounded to the nearest; `None` unless it is a number
/// from 0 to [`MAX_USD`].
pub fn picos(usd: f64) -> Option<PicoUsd> {
    in_range(usd).then(|| (usd * (MICROS_PER_USD * PICOS_PER_MICRO) as f64).round() as u64)
}

fn in_range(usd: f64) -> bool {
    (0.0..=MAX_USD).contains(&usd)
}

/// Pico-USD in whole micro-USD, rounded up: a brake must not let many tiny
/// answers through uncounted.
pub fn micros_rounded_up(picos: u128) -> MicroUsd {
    u64::try_from(picos.div_ceil(u128::from(PICOS_PER_MICRO))).unwrap_or(u64::MAX)
}

/// Micro-USD as a JSON number of USD: a whole amount as an integer (`5`),
/// else its decimal (`0.02`; the quotient of two exact integers rounds to
/// the double nearest that decimal, so it prints as written).
pub fn usd_json(micros: MicroUsd) -> serde_json::Value {
    if micros % MICROS_PER_USD == 0 {
        (micros / MICROS_PER_USD).into()
    } else {
        (micros as f64 / MICROS_PER_USD as f64).into()
    }
}

/// Micro-USD as USD text for a message: `5`, `0.02`, `0.000001`.
pub fn usd_text(micros: MicroUsd) -> String {
    let (whole, fraction) = (micros / MICROS_PER_USD, micros % MICROS_PER_USD);
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_settings_become_exact_integers() {
        assert_eq!(micros(1.0), Some(1_000_000));
        assert_eq!(micros(0.02), Some(20_000));
        assert_eq!(micros(0.0000004), Some(0));
        assert_eq!(micros(0.0000005), Some(1));
        assert_eq!(picos(0.00012), Some(120_000_000));
        assert_eq!(picos(0.0011), Some(1_100_000_000));
        assert_eq!(picos(MAX_USD), Some(1_000_000_000_000_000_000));
        for bad in [-0.01, MAX_USD * 2.0, f64::NAN, f64::INFINITY] {
            assert_eq!(micros(bad), None, "{bad}");
            assert_eq!(picos(bad), None, "{bad}");
        }
    }

    #[test]
    fn fractions_of_a_micro_usd_round_up() {
        assert_eq!(micros_rounded_up(0), 0);
        assert_eq!(micros_rounded_up(1), 1);
        assert_eq!(micros_rounded_up(1_000_000), 1);
        assert_eq!(micros_rounded_up(1_000_001), 2);
        assert_eq!(micros_rounded_up(u128::MAX), u64::MAX);
    }

    #[test]
    fn amounts_are_shown_as_usd() {
        assert_eq!(usd_json(5_000_000).to_string(), "5");
        assert_eq!(usd_json(0).to_string(), "0");
        assert_eq!(usd_json(20_000).to_string(), "0.02");
        assert_eq!(usd_json(4_980_000).to_string(), "4.98");
        assert_eq!(usd_json(1).to_string(), "1e-6");
        assert_eq!(usd_text(5_000_000), "5");
        assert_eq!(usd_text(4_980_000), "4.98");
        assert_eq!(usd_text(1), "0.000001");
        assert_eq!(usd_text(12_345_678), "12.345678");
    }
}

//! `parse_decimal` on arbitrary bytes at 0..=18 decimals (the first byte picks them), and, for
//! every accepted value, `write_decimal` round-trips: the written text, trimmed or not, parses
//! back to the same value, and the untrimmed text has exactly `decimals` fractional digits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickwire_feed::{parse_decimal, write_decimal};

fuzz_target!(|data: &[u8]| {
    let Some((&first, text)) = data.split_first() else {
        return;
    };
    let decimals = u32::from(first) % 19;
    let Ok(value) = parse_decimal(text, decimals) else {
        return;
    };
    let mut out = Vec::new();
    for trim in [false, true] {
        out.clear();
        write_decimal(&mut out, value, decimals, trim);
        assert_eq!(
            parse_decimal(&out, decimals),
            Ok(value),
            "{:?} at {decimals} -> {value} -> {:?} (trim {trim})",
            String::from_utf8_lossy(text),
            String::from_utf8_lossy(&out),
        );
        if !trim {
            let fraction = out
                .iter()
                .position(|&b| b == b'.')
                .map_or(0, |dot| out.len() - dot - 1);
            assert_eq!(
                fraction,
                decimals as usize,
                "{:?}",
                String::from_utf8_lossy(&out)
            );
        }
    }
});

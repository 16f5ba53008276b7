//! Durations in scenario files (`"500ms"`, `"1.5s"`, `"2m"`, `"1h"`) and how the simulator prints times.

/// Parses a duration into whole milliseconds (fractions are rounded to the nearest millisecond).
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let units: [(&str, f64); 4] = [("ms", 1.0), ("s", 1e3), ("m", 60e3), ("h", 3600e3)];
    let (number, unit_ms) = units
        .iter()
        .find_map(|(suffix, ms)| text.strip_suffix(suffix).map(|number| (number, *ms)))
        .ok_or_else(|| format!("duration {text:?} needs a unit: ms, s, m or h"))?;
    match number.trim().parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => Ok((value * unit_ms).round() as u64),
        _ => Err(format!("duration {text:?} is not a non-negative number")),
    }
}

/// Formats virtual milliseconds as seconds with three decimals, e.g. `12.345s`.
pub fn format_ms(ms: u64) -> String {
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_duration("0s"), Ok(0));
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert_eq!(parse_duration("1.5s"), Ok(1500));
        assert_eq!(parse_duration("2m"), Ok(120_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("xs").is_err());
    }

    #[test]
    fn formats_seconds() {
        assert_eq!(format_ms(12_345), "12.345s");
        assert_eq!(format_ms(7), "0.007s");
    }
}

//! The DTMF keypad as audio (ITU-T Q.23): each key is one low (row) and one high (column)
//! tone. Used to play keys in band (Twilio Media Streams cannot send DTMF events) and to hear
//! them (the simulated IVR).

/// Row frequencies, low group.
pub const ROWS_HZ: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// Column frequencies, high group.
pub const COLUMNS_HZ: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// The keypad: `KEYS[row][column]`.
pub const KEYS: [[char; 4]; 4] =
    [['1', '2', '3', 'A'], ['4', '5', '6', 'B'], ['7', '8', '9', 'C'], ['*', '0', '#', 'D']];

/// The (low, high) frequency pair of a key (`a`-`d` read as `A`-`D`), or `None`.
pub fn frequencies(key: char) -> Option<(f32, f32)> {
    let key = key.to_ascii_uppercase();
    KEYS.iter()
        .enumerate()
        .find_map(|(row, keys)| keys.iter().position(|k| *k == key).map(|column| (ROWS_HZ[row], COLUMNS_HZ[column])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_their_frequency_pairs() {
        assert_eq!(frequencies('1'), Some((697.0, 1209.0)));
        assert_eq!(frequencies('0'), Some((941.0, 1336.0)));
        assert_eq!(frequencies('#'), Some((941.0, 1477.0)));
        assert_eq!(frequencies('d'), Some((941.0, 1633.0)));
        assert_eq!(frequencies('x'), None);
    }
}

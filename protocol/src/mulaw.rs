//! G.711 μ-law encode/decode (the algorithm of the ITU-T reference / Sun `g711.c`), table driven.
//!
//! Twilio Media Streams carry 8 kHz mono μ-law, one byte per sample. Silence is `0xFF`.

/// μ-law byte for digital silence.
pub const SILENCE: u8 = 0xFF;

const BIAS: i32 = 0x84;
const CLIP: i32 = 8159;
const SEGMENT_END: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];

const fn decode_one(code: u8) -> i16 {
    let u = !code;
    let mut t = (((u & 0x0F) as i32) << 3) + BIAS;
    t <<= ((u & 0x70) >> 4) as i32;
    if u & 0x80 != 0 {
        (BIAS - t) as i16
    } else {
        (t - BIAS) as i16
    }
}

/// Encodes one 14-bit magnitude-and-sign sample (16-bit PCM shifted right by two).
const fn encode_14bit(pcm14: i32) -> u8 {
    let (mut value, mask) = if pcm14 < 0 { (-pcm14, 0x7Fu8) } else { (pcm14, 0xFFu8) };
    if value > CLIP {
        value = CLIP;
    }
    value += BIAS >> 2;
    let mut segment = 0;
    while segment < 8 && value > SEGMENT_END[segment] {
        segment += 1;
    }
    if segment >= 8 {
        return 0x7F ^ mask;
    }
    let code = ((segment as i32) << 4) | ((value >> (segment + 1)) & 0x0F);
    (code as u8) ^ mask
}

const DECODE_TABLE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = decode_one(code as u8);
        code += 1;
    }
    table
};

/// Index: (pcm >> 2) + 8192, covering every 16-bit input.
const ENCODE_TABLE: [u8; 16384] = {
    let mut table = [0u8; 16384];
    let mut index = 0;
    while index < 16384 {
        table[index] = encode_14bit(index as i32 - 8192);
        index += 1;
    }
    table
};

/// Decodes one μ-law byte to 16-bit linear PCM.
#[inline]
pub fn decode(code: u8) -> i16 {
    DECODE_TABLE[code as usize]
}

/// Encodes one 16-bit linear PCM sample to μ-law.
#[inline]
pub fn encode(sample: i16) -> u8 {
    ENCODE_TABLE[((sample as i32 >> 2) + 8192) as usize]
}

/// Decodes a μ-law buffer, appending to `out` (reuse `out` across frames to avoid allocation).
pub fn decode_into(codes: &[u8], out: &mut Vec<i16>) {
    out.extend(codes.iter().map(|&c| decode(c)));
}

/// Encodes PCM samples, appending μ-law bytes to `out`.
pub fn encode_into(samples: &[i16], out: &mut Vec<u8>) {
    out.extend(samples.iter().map(|&s| encode(s)));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The decode table of the G.711 reference implementation (CPython `audioop.ulaw2lin`, Sun g711.c).
    const REFERENCE_DECODE: [i16; 256] = [
        -32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956, -23932, -22908, -21884, -20860, -19836, -18812,
        -17788, -16764, -15996, -15484, -14972, -14460, -13948, -13436, -12924, -12412, -11900, -11388, -10876, -10364,
        -9852, -9340, -8828, -8316, -7932, -7676, -7420, -7164, -6908, -6652, -6396, -6140, -5884, -5628, -5372, -5116,
        -4860, -4604, -4348, -4092, -3900, -3772, -3644, -3516, -3388, -3260, -3132, -3004, -2876, -2748, -2620, -2492,
        -2364, -2236, -2108, -1980, -1884, -1820, -1756, -1692, -1628, -1564, -1500, -1436, -1372, -1308, -1244, -1180,
        -1116, -1052, -988, -924, -876, -844, -812, -780, -748, -716, -684, -652, -620, -588, -556, -524, -492, -460,
        -428, -396, -372, -356, -340, -324, -308, -292, -276, -260, -244, -228, -212, -196, -180, -164, -148, -132,
        -120, -112, -104, -96, -88, -80, -72, -64, -56, -48, -40, -32, -24, -16, -8, 0, 32124, 31100, 30076, 29052,
        28028, 27004, 25980, 24956, 23932, 22908, 21884, 20860, 19836, 18812, 17788, 16764, 15996, 15484, 14972, 14460,
        13948, 13436, 12924, 12412, 11900, 11388, 10876, 10364, 9852, 9340, 8828, 8316, 7932, 7676, 7420, 7164, 6908,
        6652, 6396, 6140, 5884, 5628, 5372, 5116, 4860, 4604, 4348, 4092, 3900, 3772, 3644, 3516, 3388, 3260, 3132,
        3004, 2876, 2748, 2620, 2492, 2364, 2236, 2108, 1980, 1884, 1820, 1756, 1692, 1628, 1564, 1500, 1436, 1372,
        1308, 1244, 1180, 1116, 1052, 988, 924, 876, 844, 812, 780, 748, 716, 684, 652, 620, 588, 556, 524, 492, 460,
        428, 396, 372, 356, 340, 324, 308, 292, 276, 260, 244, 228, 212, 196, 180, 164, 148, 132, 120, 112, 104, 96,
        88, 80, 72, 64, 56, 48, 40, 32, 24, 16, 8, 0,
    ];

    /// PCM input -> μ-law code from the G.711 reference implementation (CPython `audioop.lin2ulaw`).
    const REFERENCE_ENCODE: &[(i16, u8)] = &[
        (-32768, 0x00),
        (-32767, 0x00),
        (-32124, 0x00),
        (-20000, 0x0C),
        (-8159, 0x1F),
        (-5000, 0x2B),
        (-1000, 0x4E),
        (-256, 0x67),
        (-132, 0x6F),
        (-100, 0x72),
        (-33, 0x7A),
        (-32, 0x7B),
        (-5, 0x7E),
        (-4, 0x7E),
        (-3, 0x7E),
        (-2, 0x7E),
        (-1, 0x7E),
        (0, 0xFF),
        (1, 0xFF),
        (2, 0xFF),
        (3, 0xFF),
        (4, 0xFE),
        (5, 0xFE),
        (31, 0xFB),
        (32, 0xFB),
        (33, 0xFB),
        (100, 0xF2),
        (132, 0xEF),
        (256, 0xE7),
        (1000, 0xCE),
        (5000, 0xAB),
        (8158, 0x9F),
        (8159, 0x9F),
        (20000, 0x8C),
        (32124, 0x80),
        (32635, 0x80),
        (32636, 0x80),
        (32767, 0x80),
    ];

    #[test]
    fn every_code_decodes_to_the_reference_value() {
        for code in 0..=255u8 {
            assert_eq!(decode(code), REFERENCE_DECODE[code as usize], "code {code:#04x}");
        }
    }

    #[test]
    fn all_256_codes_round_trip() {
        for code in 0..=255u8 {
            let back = encode(decode(code));
            if code == 0x7F {
                // negative zero: G.711 has two codes for 0 and the encoder picks positive zero
                assert_eq!(back, 0xFF);
                assert_eq!(decode(back), decode(code));
            } else {
                assert_eq!(back, code, "code {code:#04x} -> {} -> {back:#04x}", decode(code));
            }
        }
    }

    #[test]
    fn pcm_encodes_to_the_reference_codes() {
        for &(pcm, expected) in REFERENCE_ENCODE {
            assert_eq!(encode(pcm), expected, "pcm {pcm}");
        }
    }

    #[test]
    fn encoding_is_monotonic_in_magnitude() {
        let mut last = i16::MIN;
        for sample in (i16::MIN..=i16::MAX).step_by(7) {
            let value = decode(encode(sample));
            assert!(value >= last, "decode(encode({sample})) = {value} < {last}");
            last = value;
        }
    }

    #[test]
    fn buffers_round_trip() {
        let samples: Vec<i16> = (0..160).map(|i| ((i as f32 * 0.3).sin() * 9000.0) as i16).collect();
        let mut codes = Vec::new();
        encode_into(&samples, &mut codes);
        let mut decoded = Vec::new();
        decode_into(&codes, &mut decoded);
        assert_eq!(decoded.len(), 160);
        for (a, b) in samples.iter().zip(&decoded) {
            assert!((*a as i32 - *b as i32).abs() <= (a.abs() as i32 / 16).max(8) + 8);
        }
    }
}

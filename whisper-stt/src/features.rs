//! Whisper's audio front end: 16 kHz samples -> the 80 x 3000 log-mel window the encoder reads
//! (Hann-windowed 400-point STFT, hop 160, Slaney mel filters, log10 clamped to 8 below the peak,
//! scaled as `(x + 4) / 4`), read from the model's `preprocessor_config.json`.

use std::path::Path;
use std::sync::Arc;

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

/// The feature-extractor values Whisper models ship in `preprocessor_config.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontEndConfig {
    pub sampling_rate: usize,
    pub n_fft: usize,
    pub hop_length: usize,
    pub feature_size: usize,
    /// Samples in one encoder window (30 s at 16 kHz).
    pub n_samples: usize,
    /// Frames in one encoder window.
    pub nb_max_frames: usize,
}

impl FrontEndConfig {
    /// Reads `dir/preprocessor_config.json` (at most 64 KiB); every value must be present and sane.
    pub fn read(dir: &Path) -> Result<FrontEndConfig, String> {
        let path = dir.join("preprocessor_config.json");
        let metadata = std::fs::metadata(&path).map_err(|error| format!("{}: {error}", path.display()))?;
        if metadata.len() > 64 * 1024 {
            return Err(format!("{}: {} bytes, expected a small JSON file", path.display(), metadata.len()));
        }
        let text = std::fs::read_to_string(&path).map_err(|error| format!("{}: {error}", path.display()))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?;
        let field = |name: &str| -> Result<usize, String> {
            json.get(name)
                .and_then(serde_json::Value::as_u64)
                .and_then(|value| usize::try_from(value).ok())
                .ok_or_else(|| format!("{}: {name} missing or not a whole number", path.display()))
        };
        let config = FrontEndConfig {
            sampling_rate: field("sampling_rate")?,
            n_fft: field("n_fft")?,
            hop_length: field("hop_length")?,
            feature_size: field("feature_size")?,
            n_samples: field("n_samples")?,
            nb_max_frames: field("nb_max_frames")?,
        };
        let sane = config.sampling_rate == 16_000
            && (16..=4096).contains(&config.n_fft)
            && (1..=config.n_fft).contains(&config.hop_length)
            && (1..=256).contains(&config.feature_size)
            && config.n_samples <= 60 * 16_000
            && config.nb_max_frames * config.hop_length == config.n_samples;
        if !sane {
            return Err(format!("{}: unsupported values {config:?}", path.display()));
        }
        Ok(config)
    }

    /// Whisper's standard values (every released model uses them with 80 mel bins).
    pub fn standard() -> FrontEndConfig {
        FrontEndConfig {
            sampling_rate: 16_000,
            n_fft: 400,
            hop_length: 160,
            feature_size: 80,
            n_samples: 480_000,
            nb_max_frames: 3_000,
        }
    }
}

/// Computes log-mel windows; built once per model and shared by every decode.
pub struct FrontEnd {
    config: FrontEndConfig,
    window: Vec<f32>,
    /// `feature_size` rows of `n_fft / 2 + 1` weights.
    mel_filters: Vec<Vec<f32>>,
    fft: Arc<dyn Fft<f32>>,
}

impl FrontEnd {
    pub fn new(config: FrontEndConfig) -> FrontEnd {
        let n_fft = config.n_fft;
        // Periodic Hann window, as torch.hann_window.
        let window = (0..n_fft)
            .map(|index| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * index as f64 / n_fft as f64).cos()) as f32)
            .collect();
        let mel_filters = slaney_mel_filters(config.sampling_rate as f64, n_fft, config.feature_size);
        let fft = FftPlanner::new().plan_fft_forward(n_fft);
        FrontEnd { config, window, mel_filters, fft }
    }

    pub fn config(&self) -> &FrontEndConfig {
        &self.config
    }

    /// The log-mel features of one window (`samples` beyond `n_samples` are ignored; shorter
    /// input is padded with silence), row-major `feature_size x nb_max_frames`.
    pub fn log_mel(&self, samples: &[f32]) -> Vec<f32> {
        let config = &self.config;
        let samples = &samples[..samples.len().min(config.n_samples)];
        let (frames, bins) = (config.nb_max_frames, config.n_fft / 2 + 1);
        let half = config.n_fft / 2;
        // Frames whose window reaches audio; the others see only the zero padding.
        let audible_frames = ((samples.len() + half) / config.hop_length + 1).min(frames);
        let padded_len = config.n_samples + 2 * half;
        // The window padded to n_samples with zeros, then reflected by n_fft / 2 at both ends.
        let padded_at = |index: usize| -> f32 {
            let signal = |position: usize| samples.get(position).copied().unwrap_or(0.0);
            if index < half {
                signal(half - index)
            } else if index >= half + config.n_samples {
                let over = index - (half + config.n_samples);
                signal(config.n_samples - 2 - over)
            } else {
                signal(index - half)
            }
        };
        let mut log_mel = vec![-10.0f32; config.feature_size * frames];
        let mut buffer = vec![Complex32::new(0.0, 0.0); config.n_fft];
        let mut power = vec![0f32; bins];
        for frame in 0..audible_frames {
            let start = frame * config.hop_length;
            for (offset, slot) in buffer.iter_mut().enumerate() {
                let index = start + offset;
                let value = if index < padded_len { padded_at(index) } else { 0.0 };
                *slot = Complex32::new(value * self.window[offset], 0.0);
            }
            self.fft.process(&mut buffer);
            for (bin, slot) in power.iter_mut().enumerate() {
                *slot = buffer[bin].norm_sqr();
            }
            for (mel, filter) in self.mel_filters.iter().enumerate() {
                let energy: f32 = filter.iter().zip(&power).map(|(weight, value)| weight * value).sum();
                log_mel[mel * frames + frame] = energy.max(1e-10).log10();
            }
        }
        let peak = log_mel.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for value in &mut log_mel {
            *value = (value.max(peak - 8.0) + 4.0) / 4.0;
        }
        log_mel
    }
}

fn hz_to_mel(hz: f64) -> f64 {
    let (f_sp, min_log_hz, min_log_mel, log_step) = (200.0 / 3.0, 1000.0, 15.0, (6.4f64).ln() / 27.0);
    if hz >= min_log_hz {
        min_log_mel + (hz / min_log_hz).ln() / log_step
    } else {
        hz / f_sp
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    let (f_sp, min_log_hz, min_log_mel, log_step) = (200.0 / 3.0, 1000.0, 15.0, (6.4f64).ln() / 27.0);
    if mel >= min_log_mel {
        min_log_hz * (log_step * (mel - min_log_mel)).exp()
    } else {
        f_sp * mel
    }
}

/// librosa.filters.mel(sr, n_fft, n_mels) with its defaults (Slaney scale and area norm), the
/// filters Whisper was trained with.
fn slaney_mel_filters(sample_rate_hz: f64, n_fft: usize, n_mels: usize) -> Vec<Vec<f32>> {
    let bins = n_fft / 2 + 1;
    let fft_hz: Vec<f64> = (0..bins).map(|bin| bin as f64 * sample_rate_hz / n_fft as f64).collect();
    let (mel_min, mel_max) = (hz_to_mel(0.0), hz_to_mel(sample_rate_hz / 2.0));
    let edges_hz: Vec<f64> = (0..n_mels + 2)
        .map(|index| mel_to_hz(mel_min + (mel_max - mel_min) * index as f64 / (n_mels + 1) as f64))
        .collect();
    (0..n_mels)
        .map(|mel| {
            let (low, center, high) = (edges_hz[mel], edges_hz[mel + 1], edges_hz[mel + 2]);
            let norm = 2.0 / (high - low);
            fft_hz
                .iter()
                .map(|&hz| {
                    let rising = (hz - low) / (center - low);
                    let falling = (high - hz) / (high - center);
                    (rising.min(falling).max(0.0) * norm) as f32
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(frequency_hz: f32, seconds: f32) -> Vec<f32> {
        let count = (16_000.0 * seconds) as usize;
        (0..count)
            .map(|index| 0.3 * (2.0 * std::f32::consts::PI * frequency_hz * index as f32 / 16_000.0).sin())
            .collect()
    }

    #[test]
    fn a_tone_lights_the_mel_band_that_holds_its_frequency_and_silence_is_the_floor() {
        let front_end = FrontEnd::new(FrontEndConfig::standard());
        let features = front_end.log_mel(&tone(1_000.0, 2.0));
        assert_eq!(features.len(), 80 * 3000);
        let frame = 100; // 1 s in
        let column: Vec<f32> = (0..80).map(|mel| features[mel * 3000 + frame]).collect();
        let loudest = column.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(mel, _)| mel).unwrap_or(0);
        let center_hz = mel_to_hz(hz_to_mel(0.0) + (hz_to_mel(8_000.0) - hz_to_mel(0.0)) * (loudest + 1) as f64 / 81.0);
        assert!((900.0..1_100.0).contains(&center_hz), "loudest band centred at {center_hz} Hz");
        // Past the audio every value is the floor: 8 (log10 units) below the peak, scaled.
        let peak = features.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let floor = features[5 * 3000 + 2999];
        assert!((peak - floor - 2.0).abs() < 1e-4, "floor {floor} vs peak {peak}");
    }

    #[test]
    fn filters_have_unit_area_in_hz_like_librosa_slaney_norm() {
        let filters = slaney_mel_filters(16_000.0, 400, 80);
        assert_eq!((filters.len(), filters[0].len()), (80, 201));
        // Slaney norm: each triangle's area over frequency is 1; bins are 40 Hz apart, and the
        // wide upper filters are sampled finely enough for the sum to show it.
        for mel in [70, 75, 79] {
            let area: f32 = filters[mel].iter().sum::<f32>() * 40.0;
            assert!((area - 1.0).abs() < 0.03, "filter {mel} area {area}");
        }
    }

    #[test]
    fn the_shipped_config_is_read_and_checked() {
        let dir = std::env::temp_dir().join(format!("whisper-front-end-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let standard = r#"{"sampling_rate":16000,"n_fft":400,"hop_length":160,"feature_size":80,"n_samples":480000,"nb_max_frames":3000}"#;
        std::fs::write(dir.join("preprocessor_config.json"), standard).expect("write");
        assert_eq!(FrontEndConfig::read(&dir), Ok(FrontEndConfig::standard()));
        std::fs::write(dir.join("preprocessor_config.json"), standard.replace("16000", "8000")).expect("write");
        assert!(FrontEndConfig::read(&dir).is_err_and(|error| error.contains("unsupported")));
        std::fs::remove_file(dir.join("preprocessor_config.json")).expect("remove");
        assert!(FrontEndConfig::read(&dir).is_err_and(|error| error.contains("preprocessor_config.json")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

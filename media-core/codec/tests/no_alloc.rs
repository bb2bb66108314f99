//! Steady state allocates nothing: a counting global allocator watches
//! G.711 conversion and Opus encode, decode, concealment and FEC frames.
//! (It sees Rust allocations; libopus itself works on the stack and in the
//! state opusic-c allocates, through this allocator, at construction.)

use sluice_alloc_count::{allocations, CountingAllocator};

use sluice_codec::g711::{self, alaw, ulaw};
use sluice_codec::opus::{OpusDecoder, OpusEncoder, OpusEncoderConfig, OpusRate, MAX_PACKET_BYTES};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn steady_state_transcoding_does_not_allocate() {
    for rate in [OpusRate::Hz8000, OpusRate::Hz16000, OpusRate::Hz48000] {
        let n = rate.frame_samples();
        let config = OpusEncoderConfig {
            fec: true,
            expected_loss_percent: 10,
            dtx: true,
            ..OpusEncoderConfig::new(rate)
        };
        let counted = allocations();
        let mut enc = OpusEncoder::new(&config).expect("valid config");
        let mut dec = OpusDecoder::new(rate).expect("valid rate");
        assert!(allocations() > counted, "the counter sees construction");

        let mut pcm = [0i16; 960];
        let mut codes = [0u8; 960];
        let mut packet = [0u8; MAX_PACKET_BYTES];
        let mut out = [0i16; 960];
        let before = allocations();
        for frame in 0..200usize {
            for (i, s) in pcm[..n].iter_mut().enumerate() {
                let t = (frame * n + i) as f64 / f64::from(rate.hz());
                *s = ((t * 2.0 * std::f64::consts::PI * 440.0).sin() * 8000.0) as i16;
            }
            ulaw::encode_into(&pcm[..n], &mut codes[..n]);
            g711::ulaw_to_alaw_in_place(&mut codes[..n]);
            alaw::decode_into(&codes[..n], &mut pcm[..n]);
            let len = enc.encode(&pcm[..n], &mut packet).expect("encodes");
            match frame % 10 {
                // Lost, concealed.
                3 => {
                    dec.decode_lost(&mut out[..n]).expect("conceals");
                }
                // Lost: nothing arrives ...
                6 => {}
                // ... and the next packet's FEC recovers it first.
                7 => {
                    dec.decode_fec(&packet[..len], &mut out[..n])
                        .expect("recovers");
                    dec.decode(&packet[..len], &mut out[..n]).expect("decodes");
                }
                _ => {
                    dec.decode(&packet[..len], &mut out[..n]).expect("decodes");
                }
            }
        }
        assert_eq!(
            allocations(),
            before,
            "{} Hz: allocated per frame",
            rate.hz()
        );
    }
}

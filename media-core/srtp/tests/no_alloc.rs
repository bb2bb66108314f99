//! Steady state allocates nothing: a counting global allocator watches
//! protect/unprotect of SRTP and SRTCP for every suite.

use sluice_alloc_count::{allocations, CountingAllocator};

use sluice_srtp::{SrtpContext, SrtpOptions, Suite};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn steady_state_protect_and_unprotect_do_not_allocate() {
    for suite in Suite::ALL {
        let key = [1u8; 32];
        let salt = [2u8; 14];
        let new = || {
            SrtpContext::new(
                suite,
                &key[..suite.key_len()],
                &salt[..suite.salt_len()],
                SrtpOptions::default(),
            )
            .expect("valid configuration")
        };
        let counted = allocations();
        let (mut tx, mut rx) = (new(), new());
        assert!(allocations() > counted, "the counter sees construction");
        let mut buf = [0u8; 256];
        let before = allocations();
        // Includes each SSRC's first packet: the table was reserved up front.
        for i in 0..3000u32 {
            let ssrc = i % 4;
            let seq = (i * 31) as u16;
            buf[..12].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            buf[2..4].copy_from_slice(&seq.to_be_bytes());
            buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
            let n = tx.protect_rtp(&mut buf, 172).expect("protect");
            let n = rx.unprotect_rtp(&mut buf, n).expect("unprotect");
            assert_eq!(n, 172);

            buf[..8].copy_from_slice(&[0x81, 0xc9, 0, 7, 0, 0, 0, 0]);
            buf[4..8].copy_from_slice(&ssrc.to_be_bytes());
            let n = tx.protect_rtcp(&mut buf, 32).expect("protect_rtcp");
            let n = rx.unprotect_rtcp(&mut buf, n).expect("unprotect_rtcp");
            assert_eq!(n, 32);
        }
        assert_eq!(
            allocations() - before,
            0,
            "{suite} allocated on the packet path"
        );
    }
}

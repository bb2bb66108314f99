//! Steady state allocates nothing: a counting global allocator watches
//! protect/unprotect of SRTP and SRTCP for every suite.
#![allow(
    unsafe_code,
    reason = "a counting GlobalAlloc needs an unsafe impl; it only forwards to System"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use sluice_srtp::{SrtpContext, SrtpOptions, Suite};

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the counter is a const-initialised thread-local `Cell`, which
// never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract of `GlobalAlloc::alloc`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract of `GlobalAlloc::realloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCS.with(Cell::get)
}

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

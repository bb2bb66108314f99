//! A global allocator that counts the allocations of the calling thread,
//! for tests that prove a steady-state path allocates nothing:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: sluice_alloc_count::CountingAllocator = sluice_alloc_count::CountingAllocator;
//!
//! let before = sluice_alloc_count::allocations();
//! run_the_hot_path();
//! assert_eq!(sluice_alloc_count::allocations(), before);
//! ```
#![allow(
    unsafe_code,
    reason = "a counting GlobalAlloc needs an unsafe impl; it only forwards to System"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

/// Forwards to the system allocator and counts `alloc` and `realloc`
/// calls per thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the counter is a const-initialised thread-local `Cell`, which
// never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded contract of `GlobalAlloc::alloc`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded contract of `GlobalAlloc::realloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn count() {
    // `try_with`: during thread teardown the counter may be gone already.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

/// Allocations (and reallocations) the calling thread has made so far.
pub fn allocations() -> usize {
    ALLOCS.try_with(Cell::get).unwrap_or(0)
}

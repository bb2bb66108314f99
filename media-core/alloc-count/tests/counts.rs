//! The counter sees an allocation (so a zero in another test means none
//! happened), per thread.

use sluice_alloc_count::{allocations, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn counts_this_threads_allocations_only() {
    let before = allocations();
    let v: Vec<u64> = Vec::with_capacity(16);
    assert_eq!(allocations(), before + 1);
    drop(v);
    let mut s = String::with_capacity(1);
    s.push_str("grows past its capacity");
    assert_eq!(allocations(), before + 3, "alloc and realloc both count");
    let parent = allocations();
    let child = std::thread::spawn(|| {
        let start = allocations();
        for _ in 0..50 {
            drop(std::hint::black_box(vec![1u8; 64]));
        }
        allocations() - start
    })
    .join()
    .unwrap_or(0);
    assert_eq!(child, 50, "the child counts its own");
    assert!(
        allocations() - parent < 50,
        "the parent counts only the spawn's bookkeeping"
    );
}

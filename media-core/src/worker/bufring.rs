//! A provided-buffer ring (io_uring `IORING_REGISTER_PBUF_RING`): the
//! kernel picks a free buffer for each received datagram, so thousands of
//! sockets share one pool and no receive needs its own buffer.
//!
//! Buffer ids move, bytes do not: a received buffer stays out of the
//! ring while its bytes are being forwarded and is handed back
//! ([`BufRing::push`], then [`BufRing::publish`]) when the send completes.
#![allow(unsafe_code, reason = "shares memory with the kernel through io_uring")]

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::Submitter;

/// An anonymous private mapping, unmapped on drop.
#[derive(Debug)]
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> io::Result<Self> {
        // SAFETY: an anonymous private mapping touches no existing memory;
        // MAP_FAILED is checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Self { ptr, len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned; nothing refers to
        // the mapping any more (the ring that used it was dropped first).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// A registered buffer ring and the buffers it hands out.
#[derive(Debug)]
pub struct BufRing {
    ring: Mapping,
    buffers: Mapping,
    entries: u16,
    buffer_size: u32,
    /// Bytes at the end of each buffer the kernel is not told about.
    tailroom: u32,
    group: u16,
    tail: u16,
}

impl BufRing {
    /// Maps `entries` buffers of `buffer_size` bytes, registers them as
    /// group `group` and gives them all to the kernel, which may fill all
    /// but the last `tailroom` bytes of each (room to grow a packet in
    /// place, e.g. by an SRTP tag).
    pub fn new(
        submitter: &Submitter<'_>,
        entries: u16,
        buffer_size: u32,
        tailroom: u32,
        group: u16,
    ) -> io::Result<Self> {
        if tailroom >= buffer_size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "buffer tailroom must be smaller than the buffer",
            ));
        }
        if !entries.is_power_of_two() || entries > 32768 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "buffer ring entries must be a power of two up to 32768",
            ));
        }
        let ring = Mapping::new(usize::from(entries) * std::mem::size_of::<BufRingEntry>())?;
        let buffers = Mapping::new(usize::from(entries) * buffer_size as usize)?;
        // SAFETY: the ring memory is page aligned (mmap), sized for
        // `entries` entries, zeroed, and outlives the registration: the
        // io_uring is dropped before this struct (see EventLoop's fields).
        unsafe {
            submitter.register_buf_ring_with_flags(ring.ptr.as_ptr() as u64, entries, group, 0)?
        };
        let mut this = Self {
            ring,
            buffers,
            entries,
            buffer_size,
            tailroom,
            group,
            tail: 0,
        };
        for bid in 0..entries {
            this.push(bid);
        }
        this.publish();
        Ok(this)
    }

    /// The buffer group id for `BUFFER_SELECT` operations.
    pub fn group(&self) -> u16 {
        self.group
    }

    /// All of buffer `bid`, tailroom included.
    ///
    /// # Safety
    /// `bid` must come from a completion that selected it, and must not
    /// have been recycled since: only then does the kernel leave it alone.
    pub unsafe fn buffer_mut(&mut self, bid: u16) -> &mut [u8] {
        // SAFETY: buffer_ptr keeps the range inside the buffer mapping; the
        // kernel does not touch it while we hold it (caller's contract),
        // and `&mut self` keeps this the only reference we hand out.
        unsafe { std::slice::from_raw_parts_mut(self.buffer_ptr(bid), self.buffer_size as usize) }
    }

    /// Address of buffer `bid`.
    pub fn buffer_ptr(&self, bid: u16) -> *mut u8 {
        let index = usize::from(bid % self.entries);
        // SAFETY: index < entries, so the offset stays inside the mapping.
        unsafe {
            self.buffers
                .ptr
                .as_ptr()
                .add(index * self.buffer_size as usize)
        }
    }

    /// Queues buffer `bid` to go back to the kernel at the next
    /// [`BufRing::publish`].
    pub fn push(&mut self, bid: u16) {
        let mask = self.entries - 1;
        let slot = usize::from(self.tail & mask);
        let base = self.ring.ptr.as_ptr().cast::<BufRingEntry>();
        // SAFETY: slot < entries so the entry lies inside the ring mapping;
        // the kernel only reads entries between its head and our published
        // tail, and this one is past the published tail.
        let entry = unsafe { &mut *base.add(slot) };
        entry.set_addr(self.buffer_ptr(bid) as u64);
        entry.set_len(self.buffer_size - self.tailroom);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes every pushed buffer visible to the kernel.
    pub fn publish(&self) {
        let base = self.ring.ptr.as_ptr().cast::<BufRingEntry>();
        // SAFETY: the tail field lives in the first entry of the ring
        // mapping, is 2-byte aligned and is only written by us.
        let tail = unsafe { &*BufRingEntry::tail(base).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }
}

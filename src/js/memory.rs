//! The allocator and panic handler of the `no_std` browser build.
//!
//! Blocks come in power-of-two size classes, each with its own free list;
//! fresh blocks are carved from the end of linear memory, which grows as
//! needed. A freed block is reused by the next request of its class, so a
//! long-lived page settles at its peak working set. Blocks are aligned to
//! their size up to 16 bytes, so any block of a class serves any request of
//! that class with an alignment up to 16 (all this crate makes); a request
//! aligned more than that takes a freed block only if it happens to fit.
//! This is a few hundred bytes of wasm where a general-purpose allocator is
//! several kilobytes.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32::{memory_grow, memory_size};
use core::cell::UnsafeCell;

const PAGE: usize = 65_536;
/// Classes 2^3 to 2^31 bytes.
const CLASSES: usize = 32;

struct Heap {
    /// Head of each class's free list (0: empty); a free block holds the next.
    free: [usize; CLASSES],
    /// Where the next fresh block starts (0: not set up yet).
    next: usize,
}

struct SizeClassAllocator(UnsafeCell<Heap>);

// The browser build runs on one thread: wasm32-unknown-unknown without atomics.
unsafe impl Sync for SizeClassAllocator {}

#[global_allocator]
static ALLOCATOR: SizeClassAllocator = SizeClassAllocator(UnsafeCell::new(Heap {
    free: [0; CLASSES],
    next: 0,
}));

/// The class of a layout: the smallest power of two holding its size and alignment.
fn class_of(layout: &Layout) -> usize {
    let size = layout.size().max(layout.align()).max(8);
    size.next_power_of_two().trailing_zeros() as usize
}

impl Heap {
    /// A fresh block of `size` bytes aligned to `align`, growing memory if needed.
    fn carve(&mut self, size: usize, align: usize) -> *mut u8 {
        if self.next == 0 {
            // Everything below the initial memory size belongs to the stack and statics.
            self.next = memory_size(0) * PAGE;
        }
        let start = (self.next + align - 1) & !(align - 1);
        let Some(end) = start.checked_add(size) else {
            return core::ptr::null_mut();
        };
        let available = memory_size(0) * PAGE;
        if end > available {
            let pages = (end - available).div_ceil(PAGE);
            if memory_grow(0, pages) == usize::MAX {
                return core::ptr::null_mut();
            }
        }
        self.next = end;
        start as *mut u8
    }
}

unsafe impl GlobalAlloc for SizeClassAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single-threaded, and no allocator call re-enters another.
        let heap = unsafe { &mut *self.0.get() };
        let class = class_of(&layout);
        if class >= CLASSES {
            return core::ptr::null_mut();
        }
        let head = heap.free[class];
        if head != 0 && head % layout.align() == 0 {
            // SAFETY: a free block's first word holds the next free block.
            heap.free[class] = unsafe { *(head as *const usize) };
            return head as *mut u8;
        }
        heap.carve(1 << class, layout.align().max((1 << class).min(16)))
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`; `ptr` is a block of this class, now unused.
        let heap = unsafe { &mut *self.0.get() };
        let class = class_of(&layout);
        unsafe { *(ptr as *mut usize) = heap.free[class] };
        heap.free[class] = ptr as usize;
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's layout is valid, so this one is too.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if class_of(&new_layout) == class_of(&layout) {
            return ptr;
        }
        // SAFETY: as GlobalAlloc::realloc's contract, block by block.
        unsafe {
            let moved = self.alloc(new_layout);
            if !moved.is_null() {
                core::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            moved
        }
    }
}

/// A panic is a bug: trap at once. No message is formatted, which keeps
/// `core::fmt` out of the wasm; JavaScript sees a `RuntimeError`.
#[panic_handler]
fn on_panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

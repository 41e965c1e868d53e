//! The `alloc` names the modules use. The browser build has no `std` (its
//! panic and formatting machinery would be most of the wasm), so they come
//! from `alloc` in every build.

pub(crate) use alloc::borrow::ToOwned;
pub(crate) use alloc::string::String;
pub(crate) use alloc::vec;
pub(crate) use alloc::vec::Vec;

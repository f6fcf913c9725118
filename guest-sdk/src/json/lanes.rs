//! Sixteen bytes compared at once: WebAssembly's 128-bit SIMD in a module built with it
//! (the built-in modules are: `-C target-feature=+simd128`, which wasmtime runs wherever
//! it runs), plain arrays elsewhere (native tests and benchmarks), with the same
//! answers. Only what [`super::probe`] needs, written without `unsafe`.

/// Lanes of 16 bytes; after a comparison, each lane all ones (true) or zero (false).
#[derive(Clone, Copy, Debug)]
pub struct Lanes(imp::Vector);

impl Lanes {
    /// The 16 bytes of `bytes`.
    #[inline(always)]
    pub fn load(bytes: &[u8; 16]) -> Lanes {
        Lanes(imp::load(bytes))
    }

    /// `byte` in every lane.
    #[inline(always)]
    pub fn splat(byte: u8) -> Lanes {
        Lanes(imp::splat(byte))
    }

    /// Which lanes are equal in both.
    #[inline(always)]
    pub fn eq(self, other: Lanes) -> Lanes {
        Lanes(imp::eq(self.0, other.0))
    }

    /// Lanes true in both.
    #[inline(always)]
    pub fn and(self, other: Lanes) -> Lanes {
        Lanes(imp::and(self.0, other.0))
    }

    /// Lanes true in either.
    #[inline(always)]
    pub fn or(self, other: Lanes) -> Lanes {
        Lanes(imp::or(self.0, other.0))
    }

    /// Bit `i` set when lane `i` is true.
    #[inline(always)]
    pub fn mask(self) -> u16 {
        imp::mask(self.0)
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use core::arch::wasm32::{
        u8x16_bitmask, u8x16_eq, u8x16_splat, u64x2, v128, v128_and, v128_or,
    };

    pub type Vector = v128;

    /// Two little-endian 64-bit loads (one `v128.load` once optimised): safe code, where
    /// `v128_load` takes a raw pointer.
    #[inline(always)]
    pub fn load(bytes: &[u8; 16]) -> v128 {
        let (low, high) = bytes.split_at(8);
        u64x2(
            u64::from_le_bytes(low.try_into().expect("8 bytes")),
            u64::from_le_bytes(high.try_into().expect("8 bytes")),
        )
    }

    #[inline(always)]
    pub fn splat(byte: u8) -> v128 {
        u8x16_splat(byte)
    }

    #[inline(always)]
    pub fn eq(a: v128, b: v128) -> v128 {
        u8x16_eq(a, b)
    }

    #[inline(always)]
    pub fn and(a: v128, b: v128) -> v128 {
        v128_and(a, b)
    }

    #[inline(always)]
    pub fn or(a: v128, b: v128) -> v128 {
        v128_or(a, b)
    }

    #[inline(always)]
    pub fn mask(lanes: v128) -> u16 {
        u8x16_bitmask(lanes)
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod imp {
    pub type Vector = [u8; 16];

    #[inline(always)]
    pub fn load(bytes: &[u8; 16]) -> [u8; 16] {
        *bytes
    }

    #[inline(always)]
    pub fn splat(byte: u8) -> [u8; 16] {
        [byte; 16]
    }

    #[inline(always)]
    pub fn eq(a: [u8; 16], b: [u8; 16]) -> [u8; 16] {
        std::array::from_fn(|i| if a[i] == b[i] { 0xff } else { 0 })
    }

    #[inline(always)]
    pub fn and(a: [u8; 16], b: [u8; 16]) -> [u8; 16] {
        std::array::from_fn(|i| a[i] & b[i])
    }

    #[inline(always)]
    pub fn or(a: [u8; 16], b: [u8; 16]) -> [u8; 16] {
        std::array::from_fn(|i| a[i] | b[i])
    }

    #[inline(always)]
    pub fn mask(lanes: [u8; 16]) -> u16 {
        lanes
            .iter()
            .enumerate()
            .fold(0, |mask, (i, &lane)| mask | (u16::from(lane >> 7) << i))
    }
}

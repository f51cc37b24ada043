//! Fast keyed hashing for the builder's maps (trace ids, names, small values).
//!
//! `std`'s SipHash took a fifth of the build time on a million notifications. Keys here are
//! short (16-byte uuids, point names), so a multiply-xor hasher with a random per-builder
//! seed and a folded-multiply finish does the job; the seed keeps the bucket layout
//! unpredictable to whoever writes the notifications.
//!
//! Two tables go further for the lookups made once or more per notification, on the one
//! thread that adds notifications in order: [`UuidTable`] (trace id to node, keys inline,
//! one cache line per probe instead of hashbrown's two) and [`StrTable`] (interning names
//! and small JSON values: strings up to 16 bytes are hashed and compared as two words).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

const K: u64 = 0x9E37_79B9_7F4A_7C15;
const M: u64 = 0xA076_1D64_78BD_642F;

/// Builds [`FastHasher`]s sharing one random seed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastState {
    seed: u64,
}

impl Default for FastState {
    fn default() -> Self {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(0x6f73_7072_6f66_696c);
        FastState {
            seed: h.finish() | 1,
        }
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;

    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.seed)
    }
}

/// Multiply-xor over 8-byte words, finished with a folded 128-bit multiply.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(K).rotate_left(29);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let full = u128::from(self.0 ^ M) * u128::from(M.rotate_left(17) ^ self.0.rotate_left(32));
        (full as u64) ^ ((full >> 64) as u64)
    }
}

pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, FastState>;

/// Starts loading the cache line of `value` (a hint: no effect on what the program computes).
#[inline]
fn prefetch<T>(value: &T) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: `_mm_prefetch` needs SSE, which this build has (the cfg above: SSE is part
        // of the x86_64 baseline). A prefetch reads nothing and cannot fault; the pointer
        // comes from a reference anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>()) }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
    let _ = value;
}

/// A fresh random seed (two words).
fn seeds() -> (u64, u64) {
    let state = RandomState::new();
    let a = state.hash_one(0x6f73_7072_6f66_696cu64) | 1;
    let b = state.hash_one(0x7265_706f_7274_7321u64) | 1;
    (a, b)
}

/// Folded multiply: the high and low halves of the 128-bit product, xored.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

/// The table size (a power of two) for `len` entries at a load of at most a half.
fn slots_for(len: usize) -> usize {
    len.saturating_mul(2).max(16).next_power_of_two()
}

const EMPTY: u32 = u32::MAX;

/// One [`UuidTable`] slot: the uuid's two halves and its value (`EMPTY`: free).
#[derive(Clone, Copy)]
struct UuidSlot {
    hi: u64,
    lo: u64,
    value: u32,
}

const FREE_UUID: UuidSlot = UuidSlot {
    hi: 0,
    lo: 0,
    value: EMPTY,
};

/// A map from uuids (as `u128`) to `u32`s below `u32::MAX`: open addressing with linear
/// probing, keys stored inline in 24-byte slots, seeded hash. Trace ids are random, so
/// lookups land anywhere in a big table: one cache miss per lookup instead of two is most of
/// what a lookup costs.
pub(crate) struct UuidTable {
    slots: Vec<UuidSlot>,
    len: usize,
    seed: (u64, u64),
}

impl Default for UuidTable {
    fn default() -> Self {
        UuidTable {
            slots: Vec::new(),
            len: 0,
            seed: seeds(),
        }
    }
}

impl std::fmt::Debug for UuidTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UuidTable").field("len", &self.len).finish()
    }
}

impl UuidTable {
    #[inline]
    fn home(&self, hi: u64, lo: u64) -> usize {
        let h = fold(hi ^ self.seed.0, lo ^ self.seed.1);
        // The mask keeps this in the table; `slots.len()` is a power of two (or 0: unused).
        h as usize & self.slots.len().wrapping_sub(1)
    }

    /// Room for `additional` more entries without growing.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let want = slots_for(self.len.saturating_add(additional));
        if want > self.slots.len() {
            self.rehash(want);
        }
    }

    fn rehash(&mut self, size: usize) {
        let old = std::mem::replace(&mut self.slots, vec![FREE_UUID; size]);
        for slot in old.into_iter().filter(|s| s.value != EMPTY) {
            let mut i = self.home(slot.hi, slot.lo);
            while self.slots[i].value != EMPTY {
                i = (i + 1) & (size - 1);
            }
            self.slots[i] = slot;
        }
    }

    /// The value of `key`, or the free slot where it would go.
    #[inline]
    fn find(&self, key: u128) -> Result<u32, usize> {
        let (hi, lo) = ((key >> 64) as u64, key as u64);
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = self.home(hi, lo);
        loop {
            let Some(slot) = self.slots.get(i) else {
                return Err(i);
            };
            if slot.value == EMPTY {
                return Err(i);
            }
            if slot.hi == hi && slot.lo == lo {
                return Ok(slot.value);
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    pub(crate) fn get(&self, key: u128) -> Option<u32> {
        self.find(key).ok()
    }

    /// Asks the CPU to bring `key`'s slot into cache, for a lookup soon: trace ids are
    /// random, so each lookup in a big table otherwise waits for memory (and, on a VM, for a
    /// nested page walk).
    #[inline]
    pub(crate) fn prefetch(&self, key: u128) {
        let i = self.home((key >> 64) as u64, key as u64);
        if let Some(slot) = self.slots.get(i) {
            prefetch(slot);
        }
    }

    /// Inserts `key` with `value` (below `u32::MAX`) unless present; returns the value now
    /// held.
    pub(crate) fn get_or_insert(&mut self, key: u128, value: u32) -> u32 {
        debug_assert!(value != EMPTY);
        if slots_for(self.len + 1) > self.slots.len() {
            self.rehash(slots_for(self.len + 1));
        }
        match self.find(key) {
            Ok(v) => v,
            Err(i) => {
                if let Some(slot) = self.slots.get_mut(i) {
                    *slot = UuidSlot {
                        hi: (key >> 64) as u64,
                        lo: key as u64,
                        value,
                    };
                    self.len += 1;
                }
                value
            }
        }
    }
}

/// One [`StrTable`] slot: the string's hash, its first 16 bytes (zero-padded), its length
/// and its id (`EMPTY`: free).
#[derive(Clone, Copy)]
struct StrSlot {
    hash: u64,
    words: [u64; 2],
    len: u32,
    id: u32,
}

const FREE_STR: StrSlot = StrSlot {
    hash: 0,
    words: [0, 0],
    len: 0,
    id: EMPTY,
};

/// The index of an interner: finds the id of a string whose text the caller keeps (the
/// table keeps only hashes, and the first 16 bytes). Strings up to 16 bytes (most names and
/// hosts) are hashed and compared as two words, without a call to `memcmp`.
pub(crate) struct StrTable {
    slots: Vec<StrSlot>,
    len: usize,
    seed: (u64, u64),
}

impl Default for StrTable {
    fn default() -> Self {
        StrTable {
            slots: Vec::new(),
            len: 0,
            seed: seeds(),
        }
    }
}

impl std::fmt::Debug for StrTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrTable").field("len", &self.len).finish()
    }
}

/// A string's first 16 bytes, zero-padded, as two words: with overlapping loads rather than
/// a copy (a call to `memcpy` for a variable length took a fifth of interning).
#[inline]
fn words(s: &[u8]) -> [u64; 2] {
    let u64_at = |at: usize| -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let u32_at = |at: usize| -> u64 {
        let mut w = [0u8; 4];
        w.copy_from_slice(&s[at..at + 4]);
        u64::from(u32::from_le_bytes(w))
    };
    let n = s.len();
    match n {
        16.. => [u64_at(0), u64_at(8)],
        // The last 8 bytes, shifted down past the ones the first word already has.
        8..=15 => [
            u64_at(0),
            u64_at(n - 8).checked_shr((16 - n as u32) * 8).unwrap_or(0),
        ],
        // Two loads that overlap in the middle: the shared bytes are the same in both.
        4..=7 => [u32_at(0) | (u32_at(n - 4) << ((n - 4) * 8)), 0],
        1..=3 => [
            u64::from(s[0])
                | (u64::from(s[n / 2]) << (n / 2 * 8))
                | (u64::from(s[n - 1]) << ((n - 1) * 8)),
            0,
        ],
        0 => [0, 0],
    }
}

impl StrTable {
    #[inline]
    fn hash(&self, s: &[u8], words: [u64; 2]) -> u64 {
        let short = fold(
            words[0] ^ self.seed.0,
            words[1] ^ self.seed.1 ^ (s.len() as u64).rotate_left(32),
        );
        if s.len() <= 16 {
            return short;
        }
        let mut h = FastHasher(short);
        h.write(s);
        h.finish()
    }

    /// The id of `s`, or `Err(token)` to hand to [`insert`](Self::insert) with its new id.
    /// `text(id)` gives back the text of an id (to compare strings longer than 16 bytes).
    #[inline]
    pub(crate) fn find<'a>(&self, s: &str, text: impl Fn(u32) -> &'a str) -> Result<u32, StrToken> {
        let b = s.as_bytes();
        let words = words(b);
        let hash = self.hash(b, words);
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = hash as usize & mask;
        while let Some(slot) = self.slots.get(i) {
            if slot.id == EMPTY {
                break;
            }
            if slot.hash == hash
                && slot.words == words
                && slot.len as usize == b.len()
                && (b.len() <= 16 || text(slot.id) == s)
            {
                return Ok(slot.id);
            }
            i = (i + 1) & mask;
        }
        Err(StrToken {
            hash,
            words,
            len: b.len(),
        })
    }

    /// Adds the string `find` did not find, as `id` (below `u32::MAX`).
    pub(crate) fn insert(&mut self, token: StrToken, id: u32) {
        if slots_for(self.len + 1) > self.slots.len() {
            let size = slots_for(self.len + 1);
            let old = std::mem::replace(&mut self.slots, vec![FREE_STR; size]);
            for slot in old.into_iter().filter(|s| s.id != EMPTY) {
                self.place(slot);
            }
        }
        self.place(StrSlot {
            hash: token.hash,
            words: token.words,
            len: u32::try_from(token.len).unwrap_or(u32::MAX),
            id,
        });
        self.len += 1;
    }

    fn place(&mut self, slot: StrSlot) {
        let mask = self.slots.len() - 1;
        let mut i = slot.hash as usize & mask;
        while self.slots[i].id != EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
    }
}

/// What [`StrTable::find`] learnt about a missing string.
pub(crate) struct StrToken {
    hash: u64,
    words: [u64; 2],
    len: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn h<T: Hash + ?Sized>(s: &FastState, v: &T) -> u64 {
        s.hash_one(v)
    }

    #[test]
    fn distinguishes_nearby_keys() {
        let s = FastState::default();
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000u32 {
            assert!(seen.insert(h(&s, &format!("db-{i}"))));
        }
        assert_ne!(h(&s, "a"), h(&s, "a\0"));
        assert_ne!(h(&s, ""), h(&s, "\0"));
    }

    #[test]
    fn uuid_table_maps_and_grows() {
        let mut t = UuidTable::default();
        assert_eq!(t.get(5), None);
        t.reserve(10);
        for i in 0..10_000u32 {
            let key = u128::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
            assert_eq!(t.get_or_insert(key, i), i);
            assert_eq!(t.get_or_insert(key, i + 1), i);
        }
        for i in 0..10_000u32 {
            let key = u128::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
            assert_eq!(t.get(key), Some(i));
        }
        assert_eq!(t.get(u128::MAX), None);
    }

    #[test]
    fn words_are_the_zero_padded_first_sixteen_bytes() {
        let text = b"0123456789abcdefghij";
        for n in 0..=text.len() {
            let mut buf = [0u8; 16];
            let k = n.min(16);
            buf[..k].copy_from_slice(&text[..k]);
            let want = [
                u64::from_le_bytes(buf[..8].try_into().unwrap()),
                u64::from_le_bytes(buf[8..].try_into().unwrap()),
            ];
            assert_eq!(words(&text[..n]), want, "{n}");
        }
    }

    #[test]
    fn str_table_tells_strings_apart() {
        let mut t = StrTable::default();
        let mut list: Vec<String> = Vec::new();
        let mut texts = vec![
            String::new(),
            "\0".into(),
            "a".into(),
            "a\0".into(),
            "0123456789abcdef".into(),
            "0123456789abcdefX".into(),
            "0123456789abcdefY".into(),
        ];
        texts.extend((0..1000).map(|i| format!("name-{i}")));
        texts.extend((0..100).map(|i| format!("a long string that goes past sixteen bytes {i}")));
        for round in 0..2 {
            for s in &texts {
                let found = {
                    let list = &list;
                    t.find(s, |id| list[id as usize].as_str())
                };
                match found {
                    Ok(id) => assert_eq!(&list[id as usize], s),
                    Err(token) => {
                        assert_eq!(round, 0, "{s:?} lost");
                        t.insert(token, list.len() as u32);
                        list.push(s.clone());
                    }
                }
            }
        }
        assert_eq!(list, texts);
    }
}

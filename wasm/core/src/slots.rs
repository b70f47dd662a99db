//! A hash table of 32-bit payloads under 32-bit tags, with one cache line per bucket.
//!
//! The address index holds one entry per address of the import, a million or more, so its
//! lookups miss the cache. hashbrown keeps its control bytes and its entries in two arrays, so a
//! lookup there touches two cache lines; here eight entries of eight bytes (tag and payload) make
//! one 64-byte bucket, so a lookup whose key lies in its first bucket (almost every one below the
//! 7/8 load this table keeps) touches one line, and [`SlotTable::prefetch`] lets a caller start
//! that one miss before it needs the answer.
//!
//! Nothing is ever removed, so a probe ends at the first empty entry. The table stores no key:
//! the caller's `eq` compares a payload's record with the key it looks for, and only for
//! payloads whose tag matches. Growing re-places entries by their tags alone.

/// Entries per bucket: 8 bytes each, one 64-byte line.
const WIDTH: usize = 8;
/// An empty entry: a payload of all ones, which callers never store.
const EMPTY: u64 = u64::MAX;

#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Bucket([u64; WIDTH]);

const EMPTY_BUCKET: Bucket = Bucket([EMPTY; WIDTH]);

/// Where a missing key's entry goes: a bucket and a lane of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Vacancy {
    bucket: usize,
    lane: usize,
}

#[derive(Debug, Default)]
pub(crate) struct SlotTable {
    buckets: Vec<Bucket>,
    len: usize,
}

impl SlotTable {
    /// The payloads stored.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The bucket where a tag's probe starts: the high bits of the tag spread over 64 bits, so
    /// that tags placed by their low bits elsewhere still spread here.
    fn home(&self, tag: u32) -> usize {
        let spread = u64::from(tag).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (spread >> 32) as usize & (self.buckets.len() - 1)
    }

    /// The payload under `tag` for which `eq` holds, or where it would go. Call
    /// [`Self::reserve_one`] first when the answer may be used to insert.
    pub(crate) fn find(&self, tag: u32, mut eq: impl FnMut(u32) -> bool) -> Result<u32, Vacancy> {
        if self.buckets.is_empty() {
            return Err(Vacancy { bucket: 0, lane: 0 });
        }
        let mask = self.buckets.len() - 1;
        let mut bucket = self.home(tag);
        // The load stays below 7/8, so there is always an empty entry to end the probe.
        loop {
            for (lane, &entry) in self.buckets[bucket].0.iter().enumerate() {
                if entry == EMPTY {
                    return Err(Vacancy { bucket, lane });
                }
                if (entry >> 32) as u32 == tag && eq(entry as u32) {
                    return Ok(entry as u32);
                }
            }
            bucket = (bucket + 1) & mask;
        }
    }

    /// Stores `payload` under `tag` where [`Self::find`] said it goes, with no change to the
    /// table in between.
    pub(crate) fn insert_at(&mut self, at: Vacancy, tag: u32, payload: u32) {
        debug_assert_ne!(payload, u32::MAX, "an all-ones payload marks an empty entry");
        self.buckets[at.bucket].0[at.lane] = (u64::from(tag) << 32) | u64::from(payload);
        self.len += 1;
    }

    /// Stores `payload` under `tag`, known to be absent.
    pub(crate) fn insert_unique(&mut self, tag: u32, payload: u32) {
        self.reserve_one();
        let at = match self.find(tag, |_| false) {
            Ok(_) => unreachable!("`find` with an `eq` that never holds finds nothing"),
            Err(at) => at,
        };
        self.insert_at(at, tag, payload);
    }

    /// Makes room for one more entry, doubling the table past 7/8 load.
    pub(crate) fn reserve_one(&mut self) {
        let capacity = self.buckets.len() * WIDTH;
        if (self.len + 1) * 8 <= capacity * 7 {
            return;
        }
        self.grow_to((self.buckets.len() * 2).max(1));
    }

    /// Makes room for `more` entries at once, so that the table is placed once rather than
    /// grown by doubling (each doubling re-places every entry into newly touched memory).
    pub(crate) fn reserve(&mut self, more: usize) {
        let wanted = self.len.saturating_add(more);
        let capacity = self.buckets.len() * WIDTH;
        if wanted.saturating_mul(8) <= capacity * 7 {
            return;
        }
        let buckets = wanted.saturating_mul(8).div_ceil(7).div_ceil(WIDTH).checked_next_power_of_two();
        if let Some(buckets) = buckets.filter(|&b| b > self.buckets.len()) {
            self.grow_to(buckets);
        }
    }

    /// Re-places every entry into a table of `buckets` buckets: a power of two, and enough
    /// for the entries below 7/8 load.
    fn grow_to(&mut self, buckets: usize) {
        let grown = vec![EMPTY_BUCKET; buckets];
        let old = std::mem::replace(&mut self.buckets, grown);
        let mask = self.buckets.len() - 1;
        for entry in old.iter().flat_map(|b| b.0).filter(|&e| e != EMPTY) {
            // Every entry is distinct and the new table is at most 7/8 full: take the first
            // empty lane from the entry's home bucket on.
            let mut bucket = self.home((entry >> 32) as u32);
            loop {
                if let Some(lane) = self.buckets[bucket].0.iter_mut().find(|e| **e == EMPTY) {
                    *lane = entry;
                    break;
                }
                bucket = (bucket + 1) & mask;
            }
        }
    }

    /// Starts loading the bucket where `tag`'s probe begins, so that a lookup made a little
    /// later finds it in the cache.
    #[inline]
    pub(crate) fn prefetch(&self, tag: u32) {
        if self.buckets.is_empty() {
            return;
        }
        let bucket: *const Bucket = &self.buckets[self.home(tag)];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is only a hint: it never faults and reads nothing into the
        // program, and SSE, which it needs, is part of every x86-64 target.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(bucket.cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = bucket;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table against a plain set, through growth, with most tags shared by several keys.
    #[test]
    fn agrees_with_a_set_through_growth_and_shared_tags() {
        let tag_of = |key: u64| (key % 3_000) as u32;
        let mut table = SlotTable::default();
        // The key of each payload, as the records behind the address index would be.
        let mut keys: Vec<u64> = Vec::new();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for round in 0..50_000 {
            if round == 1_000 {
                // Sized ahead once, as a file of announced size does, then grown again.
                table.reserve(9_000);
            }
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let key = seed % 20_000;
            table.prefetch(tag_of(key));
            table.reserve_one();
            match table.find(tag_of(key), |p| keys[p as usize] == key) {
                Ok(found) => assert_eq!(keys[found as usize], key),
                Err(at) => {
                    assert!(!keys.contains(&key), "{key} is stored but was not found");
                    table.insert_at(at, tag_of(key), keys.len() as u32);
                    keys.push(key);
                }
            }
        }
        assert_eq!(table.len(), keys.len());
        for (payload, &key) in keys.iter().enumerate() {
            assert_eq!(table.find(tag_of(key), |p| keys[p as usize] == key), Ok(payload as u32));
        }
        assert!(table.find(tag_of(20_001), |p| keys[p as usize] == 20_001).is_err());
    }
}

//! A small ordered map: a `Vec` of entries sorted by key.
//!
//! Owns: [`VecMap`], the map the core's bounded tables use (meter totals, the price
//! table, the response cache's index). Each `BTreeMap` or `HashMap` of a new key/value
//! type compiles its own copy of the B-tree or hash-table code into the wasm, 4 to 11 KB
//! apiece; this is a binary search and `Vec` inserts and removals, a few hundred bytes.
//! It behaves as a `BTreeMap` for the operations it has (iteration in key order
//! included). Lookups are O(log n); inserting or removing a key moves the entries after
//! it, which is cheap at the sizes these tables are bounded to (hundreds to a few
//! thousand entries). Must never: hold two entries with the same key, or lose the key
//! order.

use std::borrow::Borrow;

/// Entries sorted by key, each key once.
#[derive(Clone, PartialEq)]
pub(crate) struct VecMap<K, V>(Vec<(K, V)>);

/// As a `BTreeMap` prints: `{k: v, ...}`.
impl<K: std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for VecMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap(Vec::new())
    }
}

impl<K: Ord, V> VecMap<K, V> {
    pub(crate) fn new() -> Self {
        VecMap(Vec::new())
    }

    /// Where `key` is (`Ok`) or would go (`Err`).
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    pub(crate) fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.get_key_value(key).map(|(_, v)| v)
    }

    pub(crate) fn get_key_value<Q: Ord + ?Sized>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
    {
        let i = self.find(key).ok()?;
        self.0.get(i).map(|(k, v)| (k, v))
    }

    pub(crate) fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        let i = self.find(key).ok()?;
        self.0.get_mut(i).map(|(_, v)| v)
    }

    pub(crate) fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Set `key` to `value`; the value it had, if any.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => self.0.get_mut(i).map(|(_, v)| std::mem::replace(v, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub(crate) fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let i = self.find(key).ok()?;
        Some(self.0.remove(i).1)
    }

    /// The entry with the smallest key.
    pub(crate) fn first(&self) -> Option<(&K, &V)> {
        self.0.first().map(|(k, v)| (k, v))
    }

    /// Entries in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }
}

/// The map against `BTreeMap` on random operations: the same answers and the same
/// entries in the same order after every step.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u32),
        Remove(u8),
        Get(u8),
        GetMut(u8, u32),
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..20, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            2 => (0u8..20).prop_map(Op::Remove),
            2 => (0u8..20).prop_map(Op::Get),
            1 => (0u8..20, any::<u32>()).prop_map(|(k, v)| Op::GetMut(k, v)),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        #[test]
        fn behaves_as_a_btree_map(ops in proptest::collection::vec(op(), 0..100)) {
            let mut ours: VecMap<String, u32> = VecMap::new();
            let mut theirs: BTreeMap<String, u32> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        prop_assert_eq!(ours.insert(k.to_string(), v), theirs.insert(k.to_string(), v));
                    }
                    Op::Remove(k) => {
                        prop_assert_eq!(ours.remove(k.to_string().as_str()), theirs.remove(k.to_string().as_str()));
                    }
                    Op::Get(k) => {
                        let k = k.to_string();
                        prop_assert_eq!(ours.get(k.as_str()), theirs.get(k.as_str()));
                        prop_assert_eq!(ours.get_key_value(k.as_str()), theirs.get_key_value(k.as_str()));
                        prop_assert_eq!(ours.contains_key(k.as_str()), theirs.contains_key(k.as_str()));
                    }
                    Op::GetMut(k, v) => {
                        let k = k.to_string();
                        if let Some(x) = ours.get_mut(k.as_str()) {
                            *x = v;
                        }
                        if let Some(x) = theirs.get_mut(k.as_str()) {
                            *x = v;
                        }
                    }
                    Op::Clear => {
                        ours.clear();
                        theirs.clear();
                    }
                }
                prop_assert!(ours.iter().eq(theirs.iter()));
                prop_assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
                prop_assert_eq!(ours.first(), theirs.iter().next());
                prop_assert_eq!(ours.len(), theirs.len());
                prop_assert_eq!(ours.is_empty(), theirs.is_empty());
            }
        }
    }
}

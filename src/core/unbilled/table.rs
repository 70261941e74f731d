//! The recorder's row table: every row read, with what it keeps of it, found by key. A
//! cycle reads each source's map in the kernel's order, which holds from one read to the
//! next while the map's buckets do; a read that goes through a stream (`Order`) finds each
//! row where the same position of the last read found it, without hashing, and the rows
//! first read in that order sit in memory in that order: a cycle's 20,000 lookups walk
//! memory in order instead of hashing into a table of megabytes.
use foldhash::HashMap;

use crate::model::Source;

/// A counter row: (source, cgroup id, class), the class as its index in `ClassNames` (0: the
/// cgroup's total). Integers only, so that the tens of thousands of rows a cycle reads on a
/// busy node are hashed and compared cheaply.
pub type ReadKey = (Source, u64, u16);

#[derive(Debug, Default)]
pub struct Table<S> {
    index: HashMap<ReadKey, u32>,
    slots: Vec<Option<(ReadKey, S)>>,
    /// Slots of forgotten rows, taken again first.
    free: Vec<u32>,
}

/// One stream of reads (a source's map): the slot of each position of its last read, and
/// those of the read under way.
#[derive(Debug, Default)]
pub struct Order {
    last: Vec<u32>,
    next: Vec<u32>,
}

impl Order {
    /// A new read of the stream: the one under way becomes the last.
    pub fn begin(&mut self) {
        std::mem::swap(&mut self.last, &mut self.next);
        self.next.clear();
    }
}

impl<S: Default> Table<S> {
    pub fn get(&self, key: &ReadKey) -> Option<&S> {
        let i = *self.index.get(key)?;
        Some(&self.slots[i as usize].as_ref()?.1)
    }

    pub fn get_mut(&mut self, key: &ReadKey) -> Option<&mut S> {
        let i = *self.index.get(key)?;
        Some(&mut self.slots[i as usize].as_mut()?.1)
    }

    /// The row of `key`, made if new.
    pub fn entry(&mut self, key: ReadKey) -> &mut S {
        let i = self.slot_of(key);
        self.at(i)
    }

    /// The row of `key`, the next of a read in `order`: found at the slot the same
    /// position of the stream's last read had, if that is this row's.
    pub fn entry_in(&mut self, order: &mut Order, key: ReadKey) -> &mut S {
        let hint = order.last.get(order.next.len()).copied();
        let i = match hint {
            Some(i) if matches!(self.slots.get(i as usize), Some(Some((k, _))) if *k == key) => i,
            _ => self.slot_of(key),
        };
        order.next.push(i);
        self.at(i)
    }

    fn at(&mut self, i: u32) -> &mut S {
        match &mut self.slots[i as usize] {
            Some((_, s)) => s,
            None => unreachable!("an indexed slot holds its row"),
        }
    }

    fn slot_of(&mut self, key: ReadKey) -> u32 {
        if let Some(i) = self.index.get(&key) {
            return *i;
        }
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some((key, S::default()));
                i
            }
            None => {
                self.slots.push(Some((key, S::default())));
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(key, i);
        i
    }

    /// Puts the rows in the order the streams' reads under way found them, stream after
    /// stream, the others after them, when more than an eighth of those rows were out of
    /// that order (rows first made in another order: the ledger's cursors at a start, or
    /// after churn): the next reads then walk memory in order.
    pub fn settle(&mut self, orders: &mut [Order]) {
        let read: usize = orders.iter().map(|o| o.next.len()).sum();
        let jumps: usize =
            orders.iter().map(|o| o.next.windows(2).filter(|w| w[1] != w[0] + 1).count()).sum();
        if jumps * 8 <= read {
            return;
        }
        let mut old = std::mem::take(&mut self.slots);
        let mut moved_to = vec![u32::MAX; old.len()];
        let mut slots = Vec::with_capacity(old.len());
        let read_order = orders.iter().flat_map(|o| o.next.iter().copied());
        for i in read_order.chain(0..old.len() as u32) {
            if let Some(row) = old[i as usize].take() {
                moved_to[i as usize] = slots.len() as u32;
                slots.push(Some(row));
            }
        }
        for i in self.index.values_mut() {
            *i = moved_to[*i as usize];
        }
        for o in orders {
            o.last.clear();
            for i in &mut o.next {
                *i = moved_to[*i as usize];
            }
        }
        self.slots = slots;
        self.free.clear();
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ReadKey, &S)> {
        self.slots.iter().flatten().map(|(k, s)| (k, s))
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut S> {
        self.slots.iter_mut().flatten().map(|(_, s)| s)
    }

    /// Keeps the rows `keep` says to keep; the others' slots are freed.
    pub fn retain(&mut self, mut keep: impl FnMut(&ReadKey, &mut S) -> bool) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if let Some((k, s)) = slot {
                if !keep(k, s) {
                    self.index.remove(k);
                    self.free.push(i as u32);
                    *slot = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::Source;

    #[test]
    fn rows_are_found_by_position_or_key_and_freed_slots_are_taken_again() {
        let mut t: Table<u64> = Table::default();
        let mut o = Order::default();
        let key = |id: u64| (Source::Tc, id, 0u16);
        o.begin();
        for id in 1..=4 {
            *t.entry_in(&mut o, key(id)) += id;
        }
        // The same rows in another order: each found by key, the new order kept.
        o.begin();
        for id in [2, 1, 4, 3] {
            *t.entry_in(&mut o, key(id)) += 10;
        }
        assert_eq!(t.get(&key(2)), Some(&12));
        o.begin();
        for id in [2, 1, 4, 3] {
            *t.entry_in(&mut o, key(id)) += 100;
        }
        assert_eq!(
            t.iter().map(|(k, v)| (k.1, *v)).collect::<Vec<_>>(),
            [(1, 111), (2, 112), (3, 113), (4, 114)]
        );
        // A forgotten row's slot goes to the next new row; a stale hint to it is not taken.
        t.retain(|k, _| k.1 != 1);
        assert!(t.get(&key(1)).is_none());
        *t.entry(key(9)) += 9;
        o.begin();
        for id in [2, 1, 4, 3] {
            *t.entry_in(&mut o, key(id)) += 1000;
        }
        assert_eq!(t.get(&key(9)), Some(&9));
        assert_eq!(t.get(&key(1)), Some(&1000));
        assert_eq!(t.iter().count(), 5);
        for v in t.values_mut() {
            *v = 0;
        }
        assert_eq!(t.get_mut(&key(4)).copied(), Some(0));
    }

    #[test]
    fn settling_puts_rows_in_read_order_and_keeps_every_row_found() {
        let mut t: Table<u64> = Table::default();
        let key = |id: u64| (Source::Socket, id, 0u16);
        // Made in one order (a start's cursors), read in another.
        for id in [5, 3, 9, 1, 7] {
            *t.entry(key(id)) = id;
        }
        let mut o = [Order::default()];
        o[0].begin();
        for id in [1, 3, 5, 7] {
            t.entry_in(&mut o[0], key(id));
        }
        t.settle(&mut o);
        assert_eq!(t.iter().map(|(k, _)| k.1).collect::<Vec<_>>(), [1, 3, 5, 7, 9]);
        assert_eq!(o[0].next, [0, 1, 2, 3]);
        for id in [1, 3, 5, 7, 9] {
            assert_eq!(t.get(&key(id)), Some(&id));
        }
        // In order now: the next read finds each row at its position, and nothing moves.
        o[0].begin();
        for id in [1, 3, 5, 7] {
            *t.entry_in(&mut o[0], key(id)) += 1;
        }
        t.settle(&mut o);
        assert_eq!(
            t.iter().map(|(k, v)| (k.1, *v)).collect::<Vec<_>>(),
            [(1, 2), (3, 4), (5, 6), (7, 8), (9, 9)]
        );
    }
}

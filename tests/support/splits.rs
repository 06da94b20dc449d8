//! Deterministic split points for replaying a body at "random" chunk boundaries, the
//! same for every run. Shared by the recording tests (included with `#[path]`).

/// A small deterministic PRNG (xorshift64*), so no new dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// A seed from a recording id (FNV-1a), so each recording gets its own splits.
pub fn seed_of(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// 20 split sets of a `len`-byte body: from a few cuts to one every few bytes.
pub fn random_cut_sets(len: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = Rng::new(seed);
    (0..20)
        .map(|i| {
            let count = match i % 4 {
                0 => 1 + rng.below(3),
                1 => 1 + rng.below(20),
                2 => 1 + rng.below(len / 8 + 1),
                _ => 1 + rng.below(len / 2 + 1),
            };
            let mut cuts: Vec<usize> = (0..count).map(|_| rng.below(len + 1)).collect();
            cuts.sort_unstable();
            cuts.dedup();
            cuts
        })
        .collect()
}

//! `consistent-hashing`: requests with the same `hash_on_header` value go to the same target,
//! so a provider's prompt cache (or a conversation's affinity) is reused; requests without it
//! are spread by smooth weighted round-robin.
//!
//! The ring has exactly `slots` equally spaced points, and each point belongs to the target that
//! wins a weighted rendezvous draw for it (highest `weight / -ln(u)`, `u` uniform from a hash of
//! point and target), which gives each target a weight-proportional share of points. Why not the
//! textbook ring of per-target replicas at hashed positions: with a fixed total of `slots`, adding
//! a target must take replicas away from the others, and the keys on a removed replica move to
//! the next one clockwise, often an old target's (Kong's ring does this; about a third of keys
//! move when a fifth target joins four). With rendezvous ownership the existing targets' draws
//! are unchanged, so a point only ever changes hands to the newcomer: about `w_new / W` of keys
//! move, all of them to the new target. A point maps a key by multiplication, so lookup is
//! O(1) rather than a binary search.
//!
//! Hashes are implemented here (FNV-1a, splitmix64 finaliser), not taken from `std`, whose
//! hasher is seeded per process: the ring must be the same on every core, run and release.
//! Targets are identified by index, so inserting a target in the middle of the config list
//! remaps keys; appending one does not.

use super::algorithm::PickInput;
use super::round_robin::SmoothRoundRobin;

#[derive(Debug, Clone)]
pub struct ConsistentHash {
    /// Owner (target index) of each point, clockwise.
    owners: Vec<u32>,
    rr: SmoothRoundRobin,
}

impl ConsistentHash {
    /// Costs `slots * targets` hash draws (about 1 ms for 10,000 slots and 4 targets): build it
    /// once per config and clone it to each core.
    pub fn new(weights: &[u32], slots: u32) -> Self {
        ConsistentHash {
            owners: build(weights, slots as usize),
            rr: SmoothRoundRobin::new(weights.len()),
        }
    }

    /// With a key: the first point clockwise from the key whose owner is a candidate and
    /// eligible. Walking on (rather than rehashing) keeps every other key where it was while a
    /// target is out, and since neighbouring points belong to independent draws, an absent
    /// target's keys spread over the others by weight instead of piling onto one neighbour.
    /// Without a key, or when no eligible candidate owns a point (`slots` < targets), round-robin.
    pub fn pick(&mut self, input: &PickInput<'_>) -> Option<usize> {
        if let Some(t) = input.hash_key.and_then(|key| self.walk(key, input)) {
            return Some(t);
        }
        input.round_robin(&mut self.rr, |_| true)
    }

    fn walk(&self, key: &[u8], input: &PickInput<'_>) -> Option<usize> {
        // Answer "nothing eligible" in O(candidates) instead of after a full lap of the ring.
        if !input.candidates.iter().any(|&t| input.is_eligible(t)) {
            return None;
        }
        let n = self.owners.len();
        let start = point_of(hash_bytes(key), n)?;
        let mut rejected = None;
        for i in 0..n {
            let t = self.owners[(start + i) % n] as usize;
            if rejected == Some(t) {
                continue;
            }
            if input.candidates.contains(&t) && input.is_eligible(t) {
                return Some(t);
            }
            rejected = Some(t);
        }
        None
    }
}

/// Owner of each point by weighted rendezvous draw, then at least one point per target (taken
/// from a target that has several) so a tiny weight still receives its keys.
fn build(weights: &[u32], slots: usize) -> Vec<u32> {
    let mut owners = Vec::with_capacity(slots);
    let mut counts = vec![0usize; weights.len()];
    for p in 0..slots {
        let mut best: Option<(f64, usize)> = None;
        for (t, &w) in weights.iter().enumerate() {
            let d = draw(p, t, w);
            if best.is_none_or(|(b, _)| d > b) {
                best = Some((d, t));
            }
        }
        if let Some((_, t)) = best {
            owners.push(t as u32);
            counts[t] += 1;
        }
    }
    for (t, &w) in weights.iter().enumerate() {
        if counts[t] > 0 {
            continue;
        }
        let steal = (0..owners.len())
            .filter(|&p| counts[owners[p] as usize] > 1)
            .max_by(|&a, &b| draw(a, t, w).total_cmp(&draw(b, t, w)));
        if let Some(p) = steal {
            counts[owners[p] as usize] -= 1;
            owners[p] = t as u32;
            counts[t] = 1;
        }
    }
    owners
}

/// Weighted rendezvous score: `P(t wins) = w_t / W` exactly for independent uniform `u`.
fn draw(point: usize, target: usize, weight: u32) -> f64 {
    let h = mix64(
        mix64(point as u64 ^ 0x243F_6A88_85A3_08D3) ^ (target as u64 + 1).wrapping_mul(GOLDEN),
    );
    // 53 random bits, centred in their interval so u is never 0 or 1.
    let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    f64::from(weight.max(1)) / -u.ln()
}

/// Maps a 64-bit hash uniformly onto `0..n` (Lemire's multiply-shift), `None` for an empty ring.
fn point_of(h: u64, n: usize) -> Option<usize> {
    (n > 0).then(|| ((u128::from(h) * n as u128) >> 64) as usize)
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// FNV-1a over the bytes, then a finaliser: FNV alone leaves short, similar keys (`req-1`,
/// `req-2`) close together in the high bits that pick the point.
fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix64(h)
}

/// splitmix64's finaliser: full avalanche, so every input bit affects every output bit.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::super::algorithm::tests::Fixture;
    use super::super::algorithm::Balancer;
    use super::*;
    use crate::config::Algorithm;

    fn key(i: usize) -> Vec<u8> {
        format!("req-{i}").into_bytes()
    }

    fn owner_of(weights: &[u32], keys: usize) -> Vec<usize> {
        let f = Fixture::new(weights);
        let mut b = Balancer::new(Algorithm::ConsistentHashing, weights, 10_000);
        (0..keys)
            .map(|i| b.pick(&f.input(Some(&key(i)), &|_| true)).unwrap())
            .collect()
    }

    #[test]
    fn same_key_same_target_across_picks_and_instances() {
        let f = Fixture::new(&[100, 100, 100]);
        let mut a = Balancer::new(Algorithm::ConsistentHashing, &f.weights, 10_000);
        let mut b = Balancer::new(Algorithm::ConsistentHashing, &f.weights, 10_000);
        for k in 0..20 {
            let k = key(k);
            let first = a.pick(&f.input(Some(&k), &|_| true));
            for _ in 0..1000 {
                assert_eq!(a.pick(&f.input(Some(&k), &|_| true)), first);
                assert_eq!(b.pick(&f.input(Some(&k), &|_| true)), first);
            }
        }
    }

    #[test]
    fn the_ring_and_hashes_never_change_between_releases() {
        // Pinned (changing them remaps every key of every deployment), and cross-checked:
        // splitmix64's published first output for seed 0, and a Python reimplementation of
        // `hash_bytes` and `build`.
        assert_eq!(mix64(GOLDEN), 0xE220_A839_7B1D_CDAF);
        assert_eq!(hash_bytes(b"req-1"), 0x0A28_81C3_268A_7392);
        assert_eq!(
            build(&[100, 100, 50], 12),
            [0, 0, 0, 1, 2, 0, 0, 0, 2, 0, 2, 0]
        );
    }

    #[test]
    fn points_are_weight_proportional_and_total_slots() {
        let ring = build(&[100, 100, 200], 10_000);
        assert_eq!(ring.len(), 10_000);
        let share = |t| ring.iter().filter(|&&o| o == t).count();
        assert!((2300..2700).contains(&share(0)), "{}", share(0));
        assert!((4600..5400).contains(&share(2)), "{}", share(2));
        let keys = owner_of(&[100, 100, 200], 10_000);
        let hits = keys.iter().filter(|&&t| t == 2).count();
        assert!((4500..5500).contains(&hits), "{hits}");
    }

    #[test]
    fn every_target_gets_at_least_one_point() {
        let ring = build(&[65_535, 65_535, 1, 1], 10);
        for t in 0..4 {
            assert!(ring.contains(&t), "{t} has no point: {ring:?}");
        }
    }

    #[test]
    fn adding_a_target_moves_only_keys_to_it() {
        let before = owner_of(&[100; 4], 10_000);
        let after = owner_of(&[100; 5], 10_000);
        let moved: Vec<_> = (0..10_000).filter(|&i| before[i] != after[i]).collect();
        assert!(moved.len() < 3_000, "{} keys moved", moved.len());
        assert!(moved.len() > 1_000, "the new target should get about 1/5");
        assert!(moved.iter().all(|&i| after[i] == 4));
    }

    #[test]
    fn ineligible_owner_sends_the_key_to_the_next_point() {
        let f = Fixture::new(&[100, 100, 100, 100]);
        let mut b = Balancer::new(Algorithm::ConsistentHashing, &f.weights, 10_000);
        let ring = build(&f.weights, 10_000);
        let mut spread = [0usize; 4];
        for i in 0..2_000 {
            let k = key(i);
            let owner = b.pick(&f.input(Some(&k), &|_| true)).unwrap();
            let start = point_of(hash_bytes(&k), ring.len()).unwrap();
            assert_eq!(ring[start] as usize, owner);
            let next = (1..ring.len())
                .map(|j| ring[(start + j) % ring.len()] as usize)
                .find(|&t| t != 0);
            let got = b.pick(&f.input(Some(&k), &|t| t != 0));
            if owner == 0 {
                assert_eq!(got, next);
                spread[got.unwrap_or(0)] += 1;
            } else {
                assert_eq!(got, Some(owner), "keys of healthy targets stay put");
            }
        }
        assert!(spread[1..].iter().all(|&n| n > 50), "{spread:?}");
    }

    #[test]
    fn only_candidates_own_keys_for_an_alias() {
        let mut f = Fixture::new(&[100, 100, 100, 100]);
        let all = owner_of(&f.weights, 1_000);
        f.candidates = vec![1, 3];
        let mut b = Balancer::new(Algorithm::ConsistentHashing, &f.weights, 10_000);
        for (i, &owner) in all.iter().enumerate() {
            let got = b.pick(&f.input(Some(&key(i)), &|_| true)).unwrap();
            assert!(got == 1 || got == 3);
            if owner == 1 || owner == 3 {
                assert_eq!(got, owner);
            }
        }
    }

    #[test]
    fn without_a_key_it_round_robins() {
        let f = Fixture::new(&[5, 1, 1]);
        let mut b = Balancer::new(Algorithm::ConsistentHashing, &f.weights, 10_000);
        let seq: Vec<_> = (0..7)
            .filter_map(|_| b.pick(&f.input(None, &|_| true)))
            .collect();
        assert_eq!(seq, vec![0, 0, 1, 0, 2, 0, 0]);
        let mut empty = Balancer::new(Algorithm::ConsistentHashing, &f.weights, 0);
        assert_eq!(
            empty.pick(&f.input(Some(b"k"), &|_| true)),
            Some(0),
            "no ring: round-robin"
        );
    }
}

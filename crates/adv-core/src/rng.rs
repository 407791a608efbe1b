use rand::SeedableRng;
use rand::rngs::StdRng;

/// The random generator of one sample in one draw.
///
/// Keyed by the run seed, the sample's index in its data set and a draw counter, so that a
/// sample gets the same random numbers whether it is attacked alone or inside any batch.
pub fn sample_rng(seed: u64, sample_id: u64, draw: u64) -> StdRng {
    let mut key = seed ^ 0x9E37_79B9_7F4A_7C15;
    for word in [sample_id, draw] {
        key = splitmix(key ^ splitmix(word));
    }
    StdRng::seed_from_u64(key)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_key_same_stream_and_keys_differ() {
        let a: u64 = sample_rng(1, 2, 3).random();
        assert_eq!(a, sample_rng(1, 2, 3).random::<u64>());
        assert_ne!(a, sample_rng(1, 3, 3).random::<u64>());
        assert_ne!(a, sample_rng(1, 2, 4).random::<u64>());
        assert_ne!(a, sample_rng(2, 2, 3).random::<u64>());
    }
}

//! Lp geometry of perturbations: per-sample distances, projections onto the epsilon-ball,
//! steepest-ascent directions, uniform random starts, and the input box.

use burn::tensor::{Int, Tensor};
use rand::Rng;
use rand_distr::{Distribution, Exp1, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::tensor_ext::per_sample;
use crate::{CoreError, Result};

/// Smallest norm treated as non-zero when dividing by a norm.
const TINY: f32 = 1e-12;

/// The norm that measures a perturbation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    /// Largest absolute coordinate.
    Linf,
    /// Euclidean length.
    L2,
    /// Sum of absolute coordinates.
    L1,
}

impl Norm {
    /// The largest distance in this norm between two inputs of `values` coordinates in a box of
    /// side `width`: a ball of this radius or more holds the whole box. Radii beyond it are
    /// capped to it (an L2 radius of 1e20 would otherwise overflow its square in `f32`).
    pub fn diameter(self, values: usize, width: f32) -> f32 {
        let values = values as f32;
        match self {
            Norm::Linf => width,
            Norm::L2 => width * values.sqrt(),
            Norm::L1 => width * values,
        }
    }

    /// Every norm, in the order they are usually listed.
    pub const ALL: [Norm; 3] = [Norm::Linf, Norm::L2, Norm::L1];

    /// The short name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Norm::Linf => "linf",
            Norm::L2 => "l2",
            Norm::L1 => "l1",
        }
    }

    /// Per-sample norm of `delta` (`[n, ...]` to `[n]`).
    pub fn norms<const D: usize>(self, delta: Tensor<D>) -> Tensor<1> {
        let n = delta.dims()[0];
        let rows = delta.reshape([n as i32, -1]);
        let reduced = match self {
            Norm::Linf => rows.abs().max_dim(1),
            Norm::L2 => rows.square().sum_dim(1).sqrt(),
            Norm::L1 => rows.abs().sum_dim(1),
        };
        reduced.reshape([n])
    }

    /// Euclidean projection of each sample of `delta` onto the ball of radius `eps[i]`.
    ///
    /// Samples already inside their ball are returned unchanged.
    pub fn project<const D: usize>(self, delta: Tensor<D>, eps: Tensor<1>) -> Tensor<D> {
        match self {
            Norm::Linf => {
                let bound = per_sample(eps, &delta);
                delta.clone().max_pair(bound.clone().neg()).min_pair(bound)
            }
            Norm::L2 => {
                let norms = self.norms(delta.clone());
                let scale = (eps / norms.clamp_min(TINY)).clamp_max(1.0);
                let scale = per_sample(scale, &delta);
                delta * scale
            }
            Norm::L1 => project_l1(delta, eps),
        }
    }

    /// The unit-norm direction of steepest ascent for a gradient `grad`.
    ///
    /// Linf: the sign of the gradient. L2: the gradient over its length. L1: the sign of the
    /// `l1_fraction` largest-magnitude coordinates of each sample (at least one), divided by
    /// their count, as in the sparse L1 attacks (Tramèr & Boneh 2019, Croce & Hein 2021).
    pub fn ascent_direction<const D: usize>(self, grad: Tensor<D>, l1_fraction: f32) -> Tensor<D> {
        match self {
            Norm::Linf => grad.sign(),
            Norm::L2 => {
                let norms = self.norms(grad.clone()).clamp_min(TINY);
                let norms = per_sample(norms, &grad);
                grad / norms
            }
            Norm::L1 => {
                let dims = grad.dims();
                let n = dims[0];
                let rows = grad.reshape([n as i32, -1]);
                let width = rows.dims()[1];
                let keep = ((l1_fraction * width as f32).ceil() as usize).clamp(1, width);
                let magnitude = rows.clone().abs();
                let threshold = magnitude
                    .clone()
                    .sort_descending(1)
                    .slice([0..n, keep - 1..keep]);
                let selected = magnitude
                    .greater_equal(threshold.expand([n, width]))
                    .bool_and(rows.clone().not_equal_elem(0.0))
                    .float();
                let count = selected.clone().sum_dim(1).clamp_min(1.0);
                (rows.sign() * selected / count).reshape(dims)
            }
        }
    }

    /// A perturbation drawn uniformly from the ball of radius `eps` (host memory, `dims` per
    /// sample), using the caller's generator so draws can be keyed per sample.
    pub fn sample_ball<R: Rng>(self, rng: &mut R, eps: f32, len: usize) -> Vec<f32> {
        match self {
            Norm::Linf => (0..len)
                .map(|_| rng.random_range(-1.0f32..=1.0) * eps)
                .collect(),
            Norm::L2 | Norm::L1 => {
                // Uniform on the unit sphere of the norm, then a radius with density ~ r^(len-1).
                let direction: Vec<f32> = match self {
                    Norm::L2 => (0..len).map(|_| StandardNormal.sample(rng)).collect(),
                    _ => (0..len)
                        .map(|_| {
                            let magnitude: f32 = Exp1.sample(rng);
                            if rng.random_bool(0.5) {
                                magnitude
                            } else {
                                -magnitude
                            }
                        })
                        .collect(),
                };
                let length = match self {
                    Norm::L2 => direction.iter().map(|v| v * v).sum::<f32>().sqrt(),
                    _ => direction.iter().map(|v| v.abs()).sum::<f32>(),
                };
                let radius = eps * rng.random::<f32>().powf(1.0 / len as f32);
                let scale = if length > TINY { radius / length } else { 0.0 };
                direction.into_iter().map(|v| v * scale).collect()
            }
        }
    }
}

impl std::str::FromStr for Norm {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self> {
        match text.to_ascii_lowercase().as_str() {
            "linf" | "inf" | "l_inf" => Ok(Norm::Linf),
            "l2" | "2" => Ok(Norm::L2),
            "l1" | "1" => Ok(Norm::L1),
            other => Err(CoreError::InvalidArgument(format!(
                "unknown norm '{other}' (expected linf, l2 or l1)"
            ))),
        }
    }
}

crate::text_option!(Norm, "linf|l2|l1");

impl std::fmt::Display for Norm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Projection onto the L1 ball by sorting (Duchi, Shalev-Shwartz, Singer & Chandra 2008).
fn project_l1<const D: usize>(delta: Tensor<D>, eps: Tensor<1>) -> Tensor<D> {
    let dims = delta.dims();
    let n = dims[0];
    let rows = delta.reshape([n as i32, -1]);
    let width = rows.dims()[1];
    let device = rows.device();
    let magnitude = rows.clone().abs();
    let sorted = magnitude.clone().sort_descending(1);
    let cumulative = sorted.clone().cumsum(1);
    let ranks = Tensor::<1, Int>::arange(1..width as i64 + 1, &device)
        .float()
        .reshape([1, width])
        .expand([n, width]);
    let eps_rows = eps.clone().reshape([n, 1]);
    // The support size rho is the number of sorted entries above their running threshold.
    let above = sorted
        .greater(
            cumulative
                .clone()
                .sub(eps_rows.clone().expand([n, width]))
                .div(ranks),
        )
        .int()
        .sum_dim(1)
        .clamp_min(1);
    let rho = above.clone().float();
    let theta = (cumulative.gather(1, above - 1) - eps_rows)
        .div(rho)
        .clamp_min(0.0);
    let shrunk = (magnitude - theta.expand([n, width])).clamp_min(0.0) * rows.clone().sign();
    // Cancellation in `magnitude - theta` can leave the sum a few ulps of the entries above
    // eps; a final rescale restores the guarantee.
    let excess = (eps.clone() / Norm::L1.norms(shrunk.clone()).clamp_min(TINY)).clamp_max(1.0);
    let shrunk = shrunk * excess.reshape([n, 1]).expand([n, width]);
    let inside = Norm::L1
        .norms(rows.clone())
        .lower_equal(eps)
        .reshape([n, 1])
        .expand([n, width]);
    shrunk.mask_where(inside, rows).reshape(dims)
}

/// The box every input lives in (`[0, 1]` for images by default).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    /// Smallest valid input value.
    pub lower: f32,
    /// Largest valid input value.
    pub upper: f32,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            lower: 0.0,
            upper: 1.0,
        }
    }
}

impl Bounds {
    /// Validated bounds: both finite and `lower < upper`.
    pub fn new(lower: f32, upper: f32) -> Result<Self> {
        if lower.is_finite() && upper.is_finite() && lower < upper {
            Ok(Self { lower, upper })
        } else {
            Err(CoreError::InvalidBounds { lower, upper })
        }
    }

    /// Clips every value of `x` into the box.
    pub fn clip<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        x.clamp(self.lower, self.upper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor_ext::to_floats;
    use burn::tensor::{Device, TensorData};

    fn tensor(rows: Vec<Vec<f32>>) -> Tensor<2> {
        let n = rows.len();
        let d = rows[0].len();
        Tensor::from_data(
            TensorData::new(rows.into_iter().flatten().collect::<Vec<_>>(), [n, d]),
            &Device::default(),
        )
    }

    fn eps(values: &[f32]) -> Tensor<1> {
        Tensor::from_data(
            TensorData::new(values.to_vec(), [values.len()]),
            &Device::default(),
        )
    }

    #[test]
    fn norms_match_hand_computed_values() {
        let delta = tensor(vec![vec![3.0, -4.0, 0.0], vec![-1.0, 1.0, -2.0]]);
        assert_eq!(to_floats(Norm::Linf.norms(delta.clone())), vec![4.0, 2.0]);
        let l2 = to_floats(Norm::L2.norms(delta.clone()));
        assert!((l2[0] - 5.0).abs() < 1e-6 && (l2[1] - 6f32.sqrt()).abs() < 1e-6);
        assert_eq!(to_floats(Norm::L1.norms(delta)), vec![7.0, 4.0]);
    }

    #[test]
    fn l1_projection_matches_hand_computed_example() {
        // |v| = (3, 1, 0.5), eps = 2: theta = (3 - 2) / 1 = 1, so the result is (2, 0, 0).
        let projected = Norm::L1.project(tensor(vec![vec![3.0, -1.0, 0.5]]), eps(&[2.0]));
        assert_eq!(to_floats(projected), vec![2.0, 0.0, 0.0]);
        // theta = (3 + 2.5 - 3.5) / 2 = 1 gives (2, -1.5, 0).
        let projected = Norm::L1.project(tensor(vec![vec![3.0, -2.5, 0.5]]), eps(&[3.5]));
        assert_eq!(to_floats(projected), vec![2.0, -1.5, 0.0]);
    }

    #[test]
    fn projection_to_zero_radius_gives_zero() {
        for norm in Norm::ALL {
            let projected = norm.project(tensor(vec![vec![0.3, -0.2]]), eps(&[0.0]));
            assert!(to_floats(projected).iter().all(|v| *v == 0.0), "{norm}");
        }
    }

    #[test]
    fn l1_direction_keeps_top_fraction() {
        let direction = Norm::L1.ascent_direction(tensor(vec![vec![0.1, -5.0, 2.0, 0.0]]), 0.5);
        assert_eq!(to_floats(direction), vec![0.0, -0.5, 0.5, 0.0]);
    }

    #[test]
    fn bounds_are_validated() {
        assert!(Bounds::new(0.0, 1.0).is_ok());
        assert!(Bounds::new(1.0, 1.0).is_err());
        assert!(Bounds::new(f32::NAN, 1.0).is_err());
    }

    #[test]
    fn norm_parses_its_names() {
        for norm in Norm::ALL {
            assert_eq!(norm.name().parse::<Norm>().unwrap(), norm);
        }
        assert!("l3".parse::<Norm>().is_err());
    }
}

//! Small conversions between Burn tensors and host vectors, and per-sample broadcasting.

use burn::tensor::kind::Basic;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

/// Broadcasts a per-sample value `[n]` (float, int or bool) to the shape of `like` (`[n, ...]`).
pub fn per_sample<const D: usize, K: Basic, L: Basic>(
    values: Tensor<1, K>,
    like: &Tensor<D, L>,
) -> Tensor<D, K> {
    let dims = like.dims();
    let mut shape = [1usize; D];
    shape[0] = dims[0];
    values.reshape(shape).expand(dims)
}

/// Reads a float tensor back to the host.
pub fn to_floats<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("a float tensor converts to f32")
}

/// Reads an integer tensor back to the host.
pub fn to_ints<const D: usize>(tensor: Tensor<D, Int>) -> Vec<i64> {
    tensor
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .expect("an int tensor converts to i64")
}

/// Reads a boolean tensor back to the host.
pub fn to_bools<const D: usize>(tensor: Tensor<D, Bool>) -> Vec<bool> {
    tensor
        .into_data()
        .try_into_vec::<bool>()
        .expect("a bool tensor reads as bool")
}

/// Builds a float tensor of `shape` from host values.
pub fn floats_from<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Builds a 1-D integer tensor from host values.
pub fn ints_from(values: &[i64], device: &Device) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
}

/// Builds a 1-D boolean tensor from host values.
pub fn bools_from(values: &[bool], device: &Device) -> Tensor<1, Bool> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
}

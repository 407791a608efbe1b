//! The pieces the residual networks and Inception-v3 share: bias-free convolutions, convolution
//! plus batch norm (plus ReLU), the pre-activation residual unit and global average pooling.
//!
//! Where PyTorch keeps a convolution and its batch norm as sibling attributes (`conv1`, `bn1`),
//! the functions here take both, so our parameter paths stay PyTorch's; where PyTorch nests them
//! in a module with `conv` and `bn` attributes (torchvision's `BasicConv2d`), [`ConvBn`] is that
//! module.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::Normalization;

/// PyTorch's default batch-norm epsilon.
pub(crate) const TORCH_BN_EPSILON: f64 = 1e-5;

/// A bias-free convolution (every convolution followed by a batch norm here has none).
pub(crate) fn conv(
    channels: [usize; 2],
    kernel: [usize; 2],
    stride: usize,
    padding: [usize; 2],
    device: &Device,
) -> Conv2d {
    let [ph, pw] = padding;
    Conv2dConfig::new(channels, kernel)
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(ph, pw, ph, pw))
        .with_bias(false)
        .init(device)
}

/// A bias-free square convolution padded by `kernel / 2`, so it keeps the size at stride 1.
pub(crate) fn conv_same(
    input: usize,
    output: usize,
    kernel: usize,
    stride: usize,
    device: &Device,
) -> Conv2d {
    conv(
        [input, output],
        [kernel, kernel],
        stride,
        [kernel / 2; 2],
        device,
    )
}

/// `relu(bn(conv(x)))`.
pub(crate) fn conv_bn_relu(conv: &Conv2d, bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    relu(bn.forward(conv.forward(x)))
}

/// The pre-activation residual unit of PreAct-ResNet and WideResNet:
/// `conv2(relu(bn2(conv1(a)))) + shortcut` with `a = relu(bn1(x))`, where the shortcut is the
/// projection of `a` when there is one, else `x`.
pub(crate) fn pre_activation_residual(
    x: Tensor<4>,
    [bn1, bn2]: [&BatchNorm; 2],
    [conv1, conv2]: [&Conv2d; 2],
    projection: Option<&Conv2d>,
) -> Tensor<4> {
    let activated = relu(bn1.forward(x.clone()));
    let shortcut = match projection {
        Some(projection) => projection.forward(activated.clone()),
        None => x,
    };
    conv2.forward(conv_bn_relu(conv1, bn2, activated)) + shortcut
}

/// Images normalized by `normalization`, or unchanged without one.
pub(crate) fn normalize(normalization: &Option<Normalization>, images: Tensor<4>) -> Tensor<4> {
    match normalization {
        Some(normalization) => normalization.apply(images),
        None => images,
    }
}

/// Global average pooling, `[n, c, h, w]` to `[n, c]`.
pub(crate) fn global_average_pool(x: Tensor<4>) -> Tensor<2> {
    let [n, c, _, _] = x.dims();
    x.mean_dim(3).mean_dim(2).reshape([n, c])
}

/// A convolution and its batch norm, as one module with PyTorch attributes `conv` and `bn`
/// (torchvision's `BasicConv2d`, a ResNet's `downsample`).
#[derive(Module, Debug)]
pub struct ConvBn {
    conv: Conv2d,
    bn: BatchNorm,
}

impl ConvBn {
    /// `conv` followed by a batch norm over its output channels with `epsilon`.
    pub(crate) fn new(conv: Conv2d, epsilon: f64, device: &Device) -> Self {
        let [channels, ..] = conv.weight.dims();
        Self {
            conv,
            bn: BatchNormConfig::new(channels)
                .with_epsilon(epsilon)
                .init(device),
        }
    }

    /// `bn(conv(x))`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.bn.forward(self.conv.forward(x))
    }

    /// `relu(bn(conv(x)))`.
    pub fn forward_relu(&self, x: Tensor<4>) -> Tensor<4> {
        conv_bn_relu(&self.conv, &self.bn, x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::to_floats;
    use burn::tensor::TensorData;

    #[test]
    fn same_padding_keeps_the_size_and_asymmetric_kernels_pad_per_axis() {
        let device = Device::default();
        let x = Tensor::<4>::ones([1, 2, 9, 7], &device);
        assert_eq!(
            conv_same(2, 4, 3, 1, &device).forward(x.clone()).dims(),
            [1, 4, 9, 7]
        );
        assert_eq!(
            conv_same(2, 4, 3, 2, &device).forward(x.clone()).dims(),
            [1, 4, 5, 4]
        );
        let one_by_seven = conv([2, 4], [1, 7], 1, [0, 3], &device);
        assert_eq!(one_by_seven.forward(x).dims(), [1, 4, 9, 7]);
        assert!(one_by_seven.bias.is_none());
    }

    #[test]
    fn conv_bn_normalizes_with_its_epsilon_and_relu_clips() {
        let device = Device::default();
        let block = ConvBn::new(conv_same(1, 1, 1, 1, &device), 1e-3, &device);
        assert_eq!(block.bn.epsilon, 1e-3);
        // A fresh batch norm in inference: x / sqrt(1 + eps).
        let weight = to_floats(block.conv.weight.val())[0];
        let x = Tensor::<4>::from_data(TensorData::new(vec![1.0f32, -2.0], [1, 1, 1, 2]), &device);
        let scale = weight / (1.0f32 + 1e-3).sqrt();
        let expected = [scale, -2.0 * scale];
        for (got, want) in to_floats(block.forward(x.clone())).iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        for (got, want) in to_floats(block.forward_relu(x)).iter().zip(expected) {
            assert!((got - want.max(0.0)).abs() < 1e-6, "{got} vs {want}");
        }
    }

    #[test]
    fn global_average_pool_averages_each_channel() {
        let x = Tensor::<4>::from_data(
            TensorData::new(
                vec![1.0f32, 2.0, 3.0, 6.0, 0.0, 0.0, 0.0, 4.0],
                [1, 2, 2, 2],
            ),
            &Device::default(),
        );
        assert_eq!(to_floats(global_average_pool(x)), vec![3.0, 1.0]);
    }
}

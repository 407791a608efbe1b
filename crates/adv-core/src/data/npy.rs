//! NumPy `.npy` arrays, format versions 1, 2 and 3
//! (<https://numpy.org/devdocs/reference/generated/numpy.lib.format.html>).
//!
//! A `.npy` file is the magic `\x93NUMPY`, a major and minor version byte, the little-endian
//! length of a header (`u16` in version 1, `u32` after), the header (a Python dict literal with
//! the keys `descr`, `fortran_order` and `shape`) and the raw array data.

use std::path::Path;

use super::Dataset;
use super::load::{class_count, dataset, read_file};
use crate::{CoreError, Result};

/// The first six bytes of every `.npy` file.
const MAGIC: &[u8] = b"\x93NUMPY";

/// Loads images and labels from two `.npy` files; the number of classes is the largest label
/// plus one. See [`load_npy_with_classes`].
pub fn load_npy(images_path: &Path, labels_path: &Path) -> Result<Dataset> {
    load_npy_with_classes(images_path, labels_path, None)
}

/// Loads images and labels from two `.npy` files, with `num_classes` classes if given (every
/// label must be below it), else the largest label plus one.
///
/// Images are `float32` or `float64` in `[0, 1]`, or `uint8` (divided by 255), in C order, with
/// shape `(N, H, W)` (grayscale), `(N, H, W, C)` or `(N, C, H, W)`; a 4-D shape is NHWC when its
/// last dimension is 1 or 3 and its second is not, NCHW when its second is 1 or 3. Labels are a
/// 1-D `int64`, `int32` or `uint8` array of non-negative values, one per image.
pub fn load_npy_with_classes(
    images_path: &Path,
    labels_path: &Path,
    num_classes: Option<usize>,
) -> Result<Dataset> {
    let image_bytes = read_file(images_path)?;
    let (images, count, shape) =
        images_from(&Array::parse(&image_bytes, images_path)?, images_path)?;
    let label_bytes = read_file(labels_path)?;
    let labels = labels_from(&Array::parse(&label_bytes, labels_path)?, labels_path)?;
    if labels.len() != count {
        return Err(CoreError::data(
            labels_path,
            format!(
                "{} labels for the {count} images of {}",
                labels.len(),
                images_path.display()
            ),
        ));
    }
    let classes = class_count(&labels, num_classes, labels_path)?;
    dataset(images_path, images, labels, shape, classes)
}

/// Pixel values in NCHW order, the number of images and the shape of one.
fn images_from(array: &Array, path: &Path) -> Result<(Vec<f32>, usize, [usize; 3])> {
    let values = array.unit_floats().ok_or_else(|| {
        CoreError::data(
            path,
            format!(
                "unsupported image dtype '{}': expected <f4, <f8 or |u1",
                array.descr
            ),
        )
    })?;
    if let Some(i) = values.iter().position(|v| !(0.0..=1.0).contains(v)) {
        return Err(CoreError::data(
            path,
            format!("value {} at flat index {i} is outside [0, 1]", values[i]),
        ));
    }
    if array.shape.iter().skip(1).any(|&d| d == 0) {
        return Err(CoreError::data(
            path,
            format!("images of shape {:?} have a zero dimension", array.shape),
        ));
    }
    let is_channels = |d: usize| d == 1 || d == 3;
    match array.shape[..] {
        [n, h, w] => Ok((values, n, [1, h, w])),
        [n, h, w, c] if is_channels(c) && !is_channels(h) => {
            Ok((nhwc_to_nchw(&values, h * w * c, c), n, [c, h, w]))
        }
        [n, c, h, w] if is_channels(c) => Ok((values, n, [c, h, w])),
        _ => Err(CoreError::data(
            path,
            format!(
                "cannot use images of shape {:?}: expected (N, H, W), (N, H, W, C) or \
                 (N, C, H, W) with C = 1 or 3",
                array.shape
            ),
        )),
    }
}

/// Reorders images of `per_image` values from HWC to CHW.
fn nhwc_to_nchw(values: &[f32], per_image: usize, channels: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(values.len());
    for image in values.chunks_exact(per_image) {
        for channel in 0..channels {
            out.extend(image.iter().skip(channel).step_by(channels));
        }
    }
    out
}

fn labels_from(array: &Array, path: &Path) -> Result<Vec<usize>> {
    if array.shape.len() != 1 {
        return Err(CoreError::data(
            path,
            format!("labels must be 1-D, not of shape {:?}", array.shape),
        ));
    }
    let values = array.ints().ok_or_else(|| {
        CoreError::data(
            path,
            format!(
                "unsupported label dtype '{}': expected <i8, <i4 or |u1",
                array.descr
            ),
        )
    })?;
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            usize::try_from(v)
                .map_err(|_| CoreError::data(path, format!("label {v} of sample {i} is negative")))
        })
        .collect()
}

/// Element types understood here (all little-endian).
#[derive(Clone, Copy, Debug, PartialEq)]
enum DType {
    U8,
    I32,
    I64,
    F32,
    F64,
}

impl DType {
    fn from_descr(descr: &str) -> Option<Self> {
        match descr {
            "|u1" | "<u1" | "u1" => Some(Self::U8),
            "<i4" => Some(Self::I32),
            "<i8" => Some(Self::I64),
            "<f4" => Some(Self::F32),
            "<f8" => Some(Self::F64),
            _ => None,
        }
    }

    fn size(self) -> usize {
        match self {
            Self::U8 => 1,
            Self::I32 | Self::F32 => 4,
            Self::I64 | Self::F64 => 8,
        }
    }
}

/// A checked C-order array borrowed from the bytes of a `.npy` file.
struct Array<'a> {
    descr: String,
    dtype: DType,
    shape: Vec<usize>,
    data: &'a [u8],
}

impl<'a> Array<'a> {
    /// Parses a whole `.npy` file: magic, version, header, and exactly the data it promises.
    fn parse(bytes: &'a [u8], path: &Path) -> Result<Self> {
        let (header, data) = split_header(bytes, path)?;
        let header = Header::parse(header)
            .map_err(|problem| CoreError::data(path, format!("bad .npy header: {problem}")))?;
        let dtype = DType::from_descr(&header.descr).ok_or_else(|| {
            CoreError::data(
                path,
                format!(
                    "unsupported dtype '{}': expected <f4, <f8, |u1, <i4 or <i8",
                    header.descr
                ),
            )
        })?;
        if header.fortran_order {
            return Err(CoreError::data(
                path,
                "fortran_order arrays are not supported: save a C-order array",
            ));
        }
        let expected = header
            .shape
            .iter()
            .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| CoreError::data(path, format!("shape {:?} overflows", header.shape)))?;
        if data.len() != expected {
            let problem = if data.len() < expected {
                "truncated: "
            } else {
                ""
            };
            return Err(CoreError::data(
                path,
                format!(
                    "{problem}shape {:?} of '{}' needs {expected} bytes of data, the file has {}",
                    header.shape,
                    header.descr,
                    data.len()
                ),
            ));
        }
        Ok(Self {
            descr: header.descr,
            dtype,
            shape: header.shape,
            data,
        })
    }

    /// The values as `f32` in image scale (`uint8` divided by 255), or `None` for integer types.
    fn unit_floats(&self) -> Option<Vec<f32>> {
        match self.dtype {
            DType::U8 => Some(self.data.iter().map(|&b| f32::from(b) / 255.0).collect()),
            DType::F32 => Some(words::<4>(self.data).map(f32::from_le_bytes).collect()),
            DType::F64 => Some(
                words::<8>(self.data)
                    .map(|w| f64::from_le_bytes(w) as f32)
                    .collect(),
            ),
            DType::I32 | DType::I64 => None,
        }
    }

    /// The values of an integer array, or `None` for floating-point types.
    fn ints(&self) -> Option<Vec<i64>> {
        match self.dtype {
            DType::U8 => Some(self.data.iter().map(|&b| i64::from(b)).collect()),
            DType::I32 => Some(
                words::<4>(self.data)
                    .map(|w| i64::from(i32::from_le_bytes(w)))
                    .collect(),
            ),
            DType::I64 => Some(words::<8>(self.data).map(i64::from_le_bytes).collect()),
            DType::F32 | DType::F64 => None,
        }
    }
}

fn words<const N: usize>(data: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    data.as_chunks::<N>().0.iter().copied()
}

/// Splits a `.npy` file into its header text and its data.
fn split_header<'a>(bytes: &'a [u8], path: &Path) -> Result<(&'a str, &'a [u8])> {
    if !bytes.starts_with(MAGIC) {
        return Err(CoreError::data(path, "not a .npy file: wrong magic string"));
    }
    let truncated = || CoreError::data(path, "truncated .npy header");
    let (len_bytes, header_start) = match bytes.get(MAGIC.len()).ok_or_else(truncated)? {
        1 => (2, 10),
        2 | 3 => (4, 12),
        v => {
            return Err(CoreError::data(
                path,
                format!("unsupported .npy format version {v}"),
            ));
        }
    };
    let len_field = bytes.get(8..8 + len_bytes).ok_or_else(truncated)?;
    let header_len = len_field
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    let header_end = header_start + header_len;
    let header = bytes.get(header_start..header_end).ok_or_else(truncated)?;
    let header = std::str::from_utf8(header)
        .map_err(|_| CoreError::data(path, "the .npy header is not text"))?;
    Ok((header, &bytes[header_end..]))
}

/// The fields of a `.npy` header.
#[derive(Debug, PartialEq)]
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// A value of a `.npy` header dict.
enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

impl Header {
    /// Parses a Python dict literal such as
    /// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
    fn parse(text: &str) -> std::result::Result<Self, String> {
        let mut cursor = Cursor { rest: text };
        let (mut descr, mut fortran_order, mut shape) = (None, None, None);
        cursor.expect('{')?;
        while !cursor.eat('}') {
            let key = cursor.string()?;
            cursor.expect(':')?;
            match (key.as_str(), cursor.value()?) {
                ("descr", Value::Str(s)) => descr = Some(s),
                ("fortran_order", Value::Bool(b)) => fortran_order = Some(b),
                ("shape", Value::Tuple(t)) => shape = Some(t),
                ("descr" | "fortran_order" | "shape", _) => {
                    return Err(format!("`{key}` has a value of the wrong type"));
                }
                _ => {}
            }
            if !cursor.eat(',') {
                cursor.expect('}')?;
                break;
            }
        }
        if !cursor.rest.trim().is_empty() {
            return Err(format!(
                "unexpected `{}` after the dict",
                cursor.rest.trim()
            ));
        }
        let missing = |key: &str| format!("no `{key}` key");
        Ok(Self {
            descr: descr.ok_or_else(|| missing("descr"))?,
            fortran_order: fortran_order.ok_or_else(|| missing("fortran_order"))?,
            shape: shape.ok_or_else(|| missing("shape"))?,
        })
    }
}

/// A position in header text.
struct Cursor<'a> {
    rest: &'a str,
}

impl Cursor<'_> {
    /// Skips white space, then consumes `c` if it comes next.
    fn eat(&mut self, c: char) -> bool {
        self.rest = self.rest.trim_start();
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, c: char) -> std::result::Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected `{c}` at `{}`", self.snippet()))
        }
    }

    fn snippet(&self) -> String {
        self.rest.chars().take(20).collect()
    }

    /// A quoted string without escapes.
    fn string(&mut self) -> std::result::Result<String, String> {
        self.rest = self.rest.trim_start();
        let quote = match self.rest.chars().next() {
            Some(q @ ('\'' | '"')) => q,
            _ => return Err(format!("expected a quoted string at `{}`", self.snippet())),
        };
        let body = &self.rest[1..];
        let end = body.find(quote).ok_or("unterminated string")?;
        self.rest = &body[end + 1..];
        Ok(body[..end].to_string())
    }

    fn value(&mut self) -> std::result::Result<Value, String> {
        self.rest = self.rest.trim_start();
        for (word, value) in [("True", true), ("False", false)] {
            if let Some(rest) = self.rest.strip_prefix(word) {
                self.rest = rest;
                return Ok(Value::Bool(value));
            }
        }
        if self.eat('(') {
            self.tuple().map(Value::Tuple)
        } else {
            self.string().map(Value::Str)
        }
    }

    /// The rest of a tuple of integers whose `(` is consumed.
    fn tuple(&mut self) -> std::result::Result<Vec<usize>, String> {
        let mut items = Vec::new();
        while !self.eat(')') {
            items.push(self.integer()?);
            if !self.eat(',') {
                self.expect(')')?;
                break;
            }
        }
        Ok(items)
    }

    /// A non-negative integer, with the `L` suffix Python 2 wrote allowed.
    fn integer(&mut self) -> std::result::Result<usize, String> {
        self.rest = self.rest.trim_start();
        let digits = self.rest.len()
            - self
                .rest
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        let value = self.rest[..digits]
            .parse()
            .map_err(|_| format!("expected a dimension at `{}`", self.snippet()))?;
        self.rest = self.rest[digits..]
            .strip_prefix('L')
            .unwrap_or(&self.rest[digits..]);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::super::load::testing::{assert_data_error, write};
    use super::*;

    /// A version-`version` `.npy` file of `descr` and `shape` holding `data`.
    fn npy(version: u8, descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
        let dims: Vec<String> = shape.iter().map(|d| format!("{d}, ")).collect();
        let mut header = format!(
            "{{'descr': '{descr}', 'fortran_order': False, 'shape': ({}), }}",
            dims.concat()
        );
        let prefix = if version == 1 { 10 } else { 12 };
        while (prefix + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = MAGIC.to_vec();
        bytes.extend([version, 0]);
        if version == 1 {
            bytes.extend((header.len() as u16).to_le_bytes());
        } else {
            bytes.extend((header.len() as u32).to_le_bytes());
        }
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        bytes
    }

    fn f32s(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn i64s(values: &[i64]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// Writes images and labels into a fresh directory and loads them.
    fn load(x: &[u8], y: &[u8], classes: Option<usize>) -> (tempfile::TempDir, Result<Dataset>) {
        let dir = tempfile::tempdir().unwrap();
        let (xp, yp) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
        write(&xp, x);
        write(&yp, y);
        let result = load_npy_with_classes(&xp, &yp, classes);
        (dir, result)
    }

    fn x_path(dir: &tempfile::TempDir) -> std::path::PathBuf {
        dir.path().join("x.npy")
    }

    fn y_path(dir: &tempfile::TempDir) -> std::path::PathBuf {
        dir.path().join("y.npy")
    }

    #[test]
    fn parses_headers() {
        let header =
            Header::parse("{'descr': '<f4', 'fortran_order': False, 'shape': (200L, 3), }\n");
        let expected = Header {
            descr: "<f4".into(),
            fortran_order: false,
            shape: vec![200, 3],
        };
        assert_eq!(header.unwrap(), expected);
        let scalar = Header::parse("{\"shape\": (), \"fortran_order\": True, \"descr\": \"|u1\"}");
        assert_eq!(scalar.unwrap().shape, Vec::<usize>::new());
        assert_eq!(
            Header::parse("{'shape': (5,), 'descr': '<i8', 'fortran_order': False}")
                .unwrap()
                .shape,
            [5]
        );
        assert!(Header::parse("{'descr': '<f4', 'shape': (2,)}").is_err());
        assert!(Header::parse("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}").is_err());
        assert!(Header::parse("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}").is_err());
        assert!(
            Header::parse("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x").is_err()
        );
    }

    #[test]
    fn loads_nhwc_float32_as_nchw() {
        // Two 2x2 RGB images holding 0, 1/24, 2/24, ... in NHWC order.
        let values: Vec<f32> = (0..24).map(|i| i as f32 / 24.0).collect();
        let (_dir, data) = load(
            &npy(1, "<f4", &[2, 2, 2, 3], &f32s(&values)),
            &npy(1, "<i8", &[2], &i64s(&[3, 1])),
            None,
        );
        let data = data.unwrap();
        assert_eq!(
            (data.len(), data.shape(), data.num_classes()),
            (2, [3, 2, 2], 4)
        );
        assert_eq!(data.labels(), &[3, 1]);
        let expected: Vec<f32> = (0..3)
            .flat_map(|c| (0..4).map(move |p| 12 + 3 * p + c))
            .map(|i| values[i])
            .collect();
        assert_eq!(data.image(1), &expected[..]);
    }

    #[test]
    fn loads_nchw_float64_grayscale_uint8_and_v2_v3_headers() {
        let values: Vec<u8> = [0.0f64, 0.25, 0.5, 1.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let labels = npy(2, "<i4", &[1], &7i32.to_le_bytes());
        let (_dir, data) = load(&npy(2, "<f8", &[1, 1, 2, 2], &values), &labels, Some(10));
        let data = data.unwrap();
        assert_eq!(
            (data.shape(), data.num_classes(), data.labels()),
            ([1, 2, 2], 10, &[7][..])
        );
        assert_eq!(data.image(0), &[0.0, 0.25, 0.5, 1.0]);

        let (_dir, data) = load(
            &npy(3, "|u1", &[2, 1, 2], &[0, 255, 51, 0]),
            &npy(1, "|u1", &[2], &[0, 1]),
            None,
        );
        let data = data.unwrap();
        assert_eq!((data.shape(), data.num_classes()), ([1, 1, 2], 2));
        assert_eq!(data.images(), &[0.0, 1.0, 0.2, 0.0]);
    }

    #[test]
    fn bad_magic_version_and_header_are_errors() {
        let y = npy(1, "<i8", &[1], &i64s(&[0]));
        let (dir, result) = load(b"PK\x03\x04 not npy", &y, None);
        assert_data_error(result, &x_path(&dir), "wrong magic");
        let mut v9 = npy(1, "|u1", &[1, 1, 1], &[0]);
        v9[6] = 9;
        let (dir, result) = load(&v9, &y, None);
        assert_data_error(result, &x_path(&dir), "version 9");
        let (dir, result) = load(&npy(1, "|u1", &[1, 1, 1], &[0])[..20], &y, None);
        assert_data_error(result, &x_path(&dir), "truncated");
        let mut broken = npy(1, "|u1", &[1, 1, 1], &[0]);
        broken[10] = b'[';
        let (dir, result) = load(&broken, &y, None);
        assert_data_error(result, &x_path(&dir), "bad .npy header");
    }

    #[test]
    fn fortran_order_is_an_error() {
        let mut x = npy(1, "|u1", &[1, 2, 2], &[0; 4]);
        let at = x.windows(5).position(|w| w == b"False").unwrap();
        x.splice(at..at + 5, *b"True ");
        let (dir, result) = load(&x, &npy(1, "|u1", &[1], &[0]), None);
        assert_data_error(result, &x_path(&dir), "fortran_order");
    }

    #[test]
    fn unsupported_dtypes_are_errors() {
        let (dir, result) = load(
            &npy(1, ">f4", &[1, 1, 1], &[0; 4]),
            &npy(1, "|u1", &[1], &[0]),
            None,
        );
        assert_data_error(result, &x_path(&dir), "unsupported dtype '>f4'");
        let (dir, result) = load(
            &npy(1, "<i8", &[1, 1, 1], &[0; 8]),
            &npy(1, "|u1", &[1], &[0]),
            None,
        );
        assert_data_error(result, &x_path(&dir), "unsupported image dtype '<i8'");
        let (dir, result) = load(
            &npy(1, "|u1", &[1, 1, 1], &[0]),
            &npy(1, "<f4", &[1], &[0; 4]),
            None,
        );
        assert_data_error(result, &y_path(&dir), "unsupported label dtype '<f4'");
    }

    #[test]
    fn truncated_and_oversized_data_are_errors() {
        let y = npy(1, "|u1", &[2], &[0, 1]);
        let (dir, result) = load(&npy(1, "<f4", &[2, 1, 2], &[0; 15]), &y, None);
        assert_data_error(
            result,
            &x_path(&dir),
            "truncated: shape [2, 1, 2] of '<f4' needs 16 bytes",
        );
        let (dir, result) = load(&npy(1, "|u1", &[2, 1, 2], &[0; 5]), &y, None);
        assert_data_error(
            result,
            &x_path(&dir),
            "needs 4 bytes of data, the file has 5",
        );
    }

    #[test]
    fn count_mismatch_is_an_error() {
        let (dir, result) = load(
            &npy(1, "|u1", &[2, 1, 1], &[0, 0]),
            &npy(1, "|u1", &[3], &[0, 1, 2]),
            None,
        );
        assert_data_error(result, &y_path(&dir), "3 labels for the 2 images");
    }

    #[test]
    fn values_outside_the_unit_interval_are_errors() {
        let y = npy(1, "|u1", &[1], &[0]);
        let (dir, result) = load(&npy(1, "<f4", &[1, 1, 2], &f32s(&[0.5, 1.5])), &y, None);
        assert_data_error(result, &x_path(&dir), "value 1.5 at flat index 1");
        let (dir, result) = load(&npy(1, "<f4", &[1, 1, 1], &f32s(&[f32::NAN])), &y, None);
        assert_data_error(result, &x_path(&dir), "NaN");
    }

    #[test]
    fn unknown_layouts_are_errors() {
        let y = npy(1, "|u1", &[1], &[0]);
        let (dir, result) = load(&npy(1, "|u1", &[1, 2, 2, 2], &[0; 8]), &y, None);
        assert_data_error(
            result,
            &x_path(&dir),
            "cannot use images of shape [1, 2, 2, 2]",
        );
        let (dir, result) = load(&npy(1, "|u1", &[1, 2], &[0; 2]), &y, None);
        assert_data_error(result, &x_path(&dir), "cannot use images of shape [1, 2]");
        let (dir, result) = load(&npy(1, "|u1", &[1, 0, 2, 3], &[]), &y, None);
        assert_data_error(result, &x_path(&dir), "zero dimension");
    }

    #[test]
    fn bad_labels_are_errors() {
        let x = npy(1, "|u1", &[2, 1, 1], &[0, 0]);
        let (dir, result) = load(&x, &npy(1, "<i8", &[2], &i64s(&[0, -1])), None);
        assert_data_error(result, &y_path(&dir), "label -1 of sample 1 is negative");
        let (dir, result) = load(&x, &npy(1, "|u1", &[2], &[0, 10]), Some(10));
        assert_data_error(
            result,
            &y_path(&dir),
            "label 10 of sample 1 is out of range for 10 classes",
        );
        let (dir, result) = load(&x, &npy(1, "|u1", &[1, 2], &[0, 1]), None);
        assert_data_error(result, &y_path(&dir), "labels must be 1-D");
    }
}

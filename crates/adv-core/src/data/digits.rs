//! The UCI optical recognition of hand-written digits data set, 8x8 version (Alpaydin and
//! Kaynak 1998, <https://archive.ics.uci.edu/dataset/80>), as a CSV file.
//!
//! Each row holds 65 integers: 64 pixel counts in `0..=16` (row by row) and the label in `0..=9`.

use std::path::Path;

use super::Dataset;
use super::load::{dataset, gunzip};
use crate::{CoreError, Result};

/// Values in a row: 64 pixels, then the label.
const ROW_LEN: usize = PIXELS + 1;
/// Pixels of an 8x8 image.
const PIXELS: usize = 64;
/// The largest pixel count.
const MAX_PIXEL: u32 = 16;
/// Ten digits.
const NUM_CLASSES: usize = 10;

/// The UCI digits (1,797 images) embedded in this crate: the default data set of the quickstart.
const EMBEDDED: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// The UCI 8x8 digits shipped inside this crate (1,797 images, 10 classes, CC BY 4.0), so the
/// quickstart needs no download.
pub fn embedded_digits() -> Dataset {
    parse_digits_csv(EMBEDDED, Path::new("<embedded digits.csv.gz>"))
        .expect("the embedded digits parse (checked by a unit test)")
}

/// Loads the digits CSV at `path`, plain or gzip-compressed; see [`parse_digits_csv`].
pub fn load_digits_csv(path: &Path) -> Result<Dataset> {
    let bytes = std::fs::read(path).map_err(|e| CoreError::io(path, e))?;
    parse_digits_csv(&bytes, path)
}

/// Parses the digits CSV held in `bytes` (plain or gzip-compressed, so that it can be embedded
/// with `include_bytes!`), naming it `name_for_errors` in errors.
///
/// Images get shape `[1, 8, 8]` and values `count / 16`; there are 10 classes. Blank lines are
/// skipped; a row without exactly 65 integers, a pixel above 16 or a label above 9 is a
/// [`CoreError::Data`] giving the line number.
pub fn parse_digits_csv(bytes: &[u8], name_for_errors: &Path) -> Result<Dataset> {
    let path = name_for_errors;
    let bytes = gunzip(bytes, path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| CoreError::data(path, format!("not UTF-8 text: {e}")))?;
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row = parse_row(line, index + 1, path)?;
        images.extend(row[..PIXELS].iter().map(|&v| v as f32 / MAX_PIXEL as f32));
        labels.push(row[PIXELS] as usize);
    }
    if labels.is_empty() {
        return Err(CoreError::data(path, "contains no rows"));
    }
    dataset(path, images, labels, [1, 8, 8], NUM_CLASSES)
}

/// The 65 checked integers of line `number`.
fn parse_row(line: &str, number: usize, path: &Path) -> Result<Vec<u32>> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    if fields.len() != ROW_LEN {
        return Err(CoreError::data(
            path,
            format!(
                "line {number}: {} values, expected {ROW_LEN} (64 pixels and a label)",
                fields.len()
            ),
        ));
    }
    let row = fields
        .iter()
        .enumerate()
        .map(|(i, field)| {
            field.parse::<u32>().map_err(|_| {
                CoreError::data(
                    path,
                    format!(
                        "line {number}, column {}: `{field}` is not a non-negative integer",
                        i + 1
                    ),
                )
            })
        })
        .collect::<Result<Vec<u32>>>()?;
    if let Some(i) = row[..PIXELS].iter().position(|&v| v > MAX_PIXEL) {
        return Err(CoreError::data(
            path,
            format!(
                "line {number}, column {}: pixel value {} is above {MAX_PIXEL}",
                i + 1,
                row[i]
            ),
        ));
    }
    if row[PIXELS] as usize >= NUM_CLASSES {
        return Err(CoreError::data(
            path,
            format!(
                "line {number}: label {} is not below {NUM_CLASSES}",
                row[PIXELS]
            ),
        ));
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::super::load::testing::{assert_data_error, gzip, write};
    use super::*;

    /// A CSV row of 64 pixels `i % 17` and `label`.
    fn row(label: &str) -> String {
        let pixels: Vec<String> = (0..PIXELS).map(|i| (i % 17).to_string()).collect();
        format!("{},{label}", pixels.join(","))
    }

    #[test]
    fn embedded_digits_are_the_full_uci_set() {
        let data = embedded_digits();
        assert_eq!((data.len(), data.shape(), data.num_classes()), (1797, [1, 8, 8], 10));
        assert_eq!(&data.labels()[..3], &[0, 1, 2]);
    }

    #[test]
    fn parses_plain_and_gzip_rows() {
        let text = format!("{}\r\n{}\n\n", row("3"), row("0"));
        let name = Path::new("digits.csv");
        let data = parse_digits_csv(text.as_bytes(), name).unwrap();
        assert_eq!(
            (data.len(), data.shape(), data.num_classes()),
            (2, [1, 8, 8], 10)
        );
        assert_eq!(data.labels(), &[3, 0]);
        assert_eq!(data.image(1)[..2], [0.0, 1.0 / 16.0]);
        assert_eq!(data.image(0)[16], 1.0);
        assert_eq!(
            parse_digits_csv(&gzip(text.as_bytes()), name).unwrap(),
            data
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("digits.csv.gz");
        write(&path, &gzip(text.as_bytes()));
        assert_eq!(load_digits_csv(&path).unwrap(), data);
    }

    #[test]
    fn wrong_row_length_gives_the_line() {
        let name = Path::new("digits.csv");
        let text = format!("{}\n{},5\n", row("1"), row("2"));
        assert_data_error(
            parse_digits_csv(text.as_bytes(), name),
            name,
            "line 2: 66 values",
        );
    }

    #[test]
    fn bad_values_give_the_line_and_column() {
        let name = Path::new("d.csv");
        let pixel = row("1").replacen("0,", "17,", 1);
        assert_data_error(
            parse_digits_csv(pixel.as_bytes(), name),
            name,
            "line 1, column 1: pixel value 17",
        );
        let text = format!("{}\n{}", row("1"), row("x"));
        assert_data_error(
            parse_digits_csv(text.as_bytes(), name),
            name,
            "line 2, column 65: `x`",
        );
        let negative = row("1").replacen("0,", "-1,", 1);
        assert_data_error(
            parse_digits_csv(negative.as_bytes(), name),
            name,
            "`-1` is not",
        );
        assert_data_error(
            parse_digits_csv(row("10").as_bytes(), name),
            name,
            "line 1: label 10",
        );
    }

    #[test]
    fn empty_and_binary_input_are_errors() {
        let name = Path::new("d.csv");
        assert_data_error(parse_digits_csv(b"\n\n", name), name, "no rows");
        assert_data_error(parse_digits_csv(&[0xff, 0xfe, 0x00], name), name, "UTF-8");
    }
}

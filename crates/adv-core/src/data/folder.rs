//! Folders of PNG and JPEG images, labelled by sub-folder or by file name.

use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageReader};

use super::Dataset;
use super::load::{class_count, dataset};
use crate::{CoreError, Result};

/// File extensions read as images (compared case-insensitively).
const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// Loads the PNG and JPEG images in `dir`; the number of classes is the largest label plus one.
/// See [`load_image_folder_with_classes`].
pub fn load_image_folder(dir: &Path) -> Result<Dataset> {
    load_image_folder_with_classes(dir, None)
}

/// Loads the PNG and JPEG images in `dir`, with `num_classes` classes if given (every label must
/// be below it), else the largest label plus one.
///
/// Two layouts are read:
/// * class sub-folders `dir/<class>/<image>`: when `dir` has any sub-folder (hidden ones
///   aside), only the images inside sub-folders count. If every class name is an integer, that
///   integer is the label; otherwise classes are numbered in name order.
/// * flat files named `<anything>_<label>.<ext>`, such as `cifar10_03_0.png`.
///
/// Flat files are read in name order, class folders by label, then by file name. All images
/// must have the same size; they are converted to RGB if any of them has colour, else to
/// grayscale (alpha is dropped). Values are `byte / 255`, NCHW.
pub fn load_image_folder_with_classes(dir: &Path, num_classes: Option<usize>) -> Result<Dataset> {
    let files = labelled_files(dir)?;
    if files.is_empty() {
        return Err(CoreError::data(dir, "contains no PNG or JPEG images"));
    }
    // Sizes and colour from the headers first, so nothing is decoded (a decompression bomb
    // never allocated) before the whole folder's memory is known and reserved.
    let headers = files
        .iter()
        .map(|(path, _)| header(path))
        .collect::<Result<Vec<_>>>()?;
    let (width, height) = (headers[0].0, headers[0].1);
    if let Some(((path, _), &(w, h, _))) = files
        .iter()
        .zip(&headers)
        .find(|&(_, &(w, h, _))| (w, h) != (width, height))
    {
        return Err(CoreError::data(
            path,
            format!(
                "is {w}x{h} but {} is {width}x{height}: all images must have the same size",
                files[0].0.display()
            ),
        ));
    }
    let channels = if headers.iter().any(|&(_, _, colour)| colour) {
        3
    } else {
        1
    };
    let per_image = channels * width as usize * height as usize;
    let total = per_image
        .checked_mul(files.len())
        .filter(|&n| n <= MAX_VALUES);
    let mut images: Vec<f32> = Vec::new();
    if total.is_none_or(|n| images.try_reserve_exact(n).is_err()) {
        return Err(CoreError::data(
            dir,
            format!(
                "its {} images of {width}x{height} would take {:.1} GiB as floats: too large \
                 to hold in memory",
                files.len(),
                (per_image as f64) * (files.len() as f64) * 4.0 / f64::from(1u32 << 30)
            ),
        ));
    }
    for (path, _) in &files {
        let image = decode(path)?;
        let raw = if channels == 3 {
            image.to_rgb8().into_raw()
        } else {
            image.to_luma8().into_raw()
        };
        push_chw(&raw, channels, &mut images);
    }
    let labels: Vec<usize> = files.iter().map(|&(_, label)| label).collect();
    let out_of_range = num_classes.and_then(|n| files.iter().find(|&&(_, label)| label >= n));
    let blamed = out_of_range.map_or(dir, |(path, _)| path);
    let classes = class_count(&labels, num_classes, blamed)?;
    dataset(
        dir,
        images,
        labels,
        [channels, height as usize, width as usize],
        classes,
    )
}

/// Appends an HWC image of `channels` channels to `out` in CHW order, scaled to `[0, 1]`.
fn push_chw(raw: &[u8], channels: usize, out: &mut Vec<f32>) {
    for channel in 0..channels {
        out.extend(
            raw.iter()
                .skip(channel)
                .step_by(channels)
                .map(|&v| f32::from(v) / 255.0),
        );
    }
}

/// The most values (pixels times channels) a folder may hold: 2^30, 4 GiB as floats.
const MAX_VALUES: usize = 1 << 30;

/// The side a single image may have at most, in pixels.
const MAX_SIDE: u32 = 1 << 14;

/// A reader of the image at `path` that refuses images larger than [`MAX_SIDE`] a side, or
/// needing more than the image crate's default allocation limit, before decoding them.
fn reader(path: &Path, side_limit: bool) -> Result<ImageReader<std::io::BufReader<std::fs::File>>> {
    let mut reader = ImageReader::open(path)
        .and_then(ImageReader::with_guessed_format)
        .map_err(|e| CoreError::io(path, e))?;
    if side_limit {
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
        reader.limits(limits);
    }
    Ok(reader)
}

/// Width, height and whether the image has colour, from its header only.
fn header(path: &Path) -> Result<(u32, u32, bool)> {
    let bad = |e: image::ImageError| CoreError::data(path, format!("cannot decode the image: {e}"));
    // The header alone (the sides are checked below, with the sizes in the message).
    let decoder = reader(path, false)?.into_decoder().map_err(bad)?;
    let (w, h) = image::ImageDecoder::dimensions(&decoder);
    if w > MAX_SIDE || h > MAX_SIDE {
        return Err(CoreError::data(
            path,
            format!("is {w}x{h}: images are read up to {MAX_SIDE} pixels a side"),
        ));
    }
    Ok((w, h, image::ImageDecoder::color_type(&decoder).has_color()))
}

fn decode(path: &Path) -> Result<DynamicImage> {
    reader(path, true)?
        .decode()
        .map_err(|e| CoreError::data(path, format!("cannot decode the image: {e}")))
}

/// The images under `dir` with their labels.
fn labelled_files(dir: &Path) -> Result<Vec<(PathBuf, usize)>> {
    let (folders, files) = list(dir)?;
    if folders.is_empty() {
        files
            .into_iter()
            .map(|path| label_from_name(&path).map(|label| (path, label)))
            .collect()
    } else {
        class_folder_files(&folders)
    }
}

/// The images in each class folder, labelled by the folder's integer name if all names are
/// integers, else by the folder's rank in name order (`folders` is sorted); ordered by label,
/// then by path.
fn class_folder_files(folders: &[PathBuf]) -> Result<Vec<(PathBuf, usize)>> {
    let numbers: Option<Vec<usize>> = folders.iter().map(|f| file_name(f).parse().ok()).collect();
    let labels = numbers.unwrap_or_else(|| (0..folders.len()).collect());
    let mut labelled = Vec::new();
    for (folder, label) in folders.iter().zip(labels) {
        let (_, files) = list(folder)?;
        labelled.extend(files.into_iter().map(|path| (path, label)));
    }
    labelled.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    Ok(labelled)
}

/// The label at the end of a file name: `cifar10_03_7.png` has label 7.
fn label_from_name(path: &Path) -> Result<usize> {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    stem.rsplit_once('_')
        .and_then(|(_, label)| label.parse().ok())
        .ok_or_else(|| {
            CoreError::data(
                path,
                "no label in the file name: expected `<name>_<label>.<ext>` or class sub-folders",
            )
        })
}

/// The visible sub-folders and the image files of `dir`, each sorted by name.
fn list(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let entries = std::fs::read_dir(dir).map_err(|e| CoreError::io(dir, e))?;
    let (mut folders, mut files) = (Vec::new(), Vec::new());
    for entry in entries {
        let path = entry.map_err(|e| CoreError::io(dir, e))?.path();
        if path.is_dir() && !file_name(&path).starts_with('.') {
            folders.push(path);
        } else if path.is_file() && is_image(&path) {
            files.push(path);
        }
    }
    folders.sort();
    files.sort();
    Ok((folders, files))
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| EXTENSIONS.iter().any(|e| ext.eq_ignore_ascii_case(e)))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use image::{GrayImage, Luma, Rgb, RgbImage};

    use super::super::load::testing::{assert_data_error, write};
    use super::*;

    /// A `w`x`h` RGB image whose pixel (x, y) is (x, y, seed).
    fn rgb(w: u32, h: u32, seed: u8) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| Rgb([x as u8, y as u8, seed]))
    }

    fn gray(w: u32, h: u32, value: u8) -> GrayImage {
        GrayImage::from_pixel(w, h, Luma([value]))
    }

    #[test]
    fn labels_flat_files_by_name() {
        let dir = tempfile::tempdir().unwrap();
        rgb(3, 2, 51).save(dir.path().join("img_01_7.png")).unwrap();
        rgb(3, 2, 0).save(dir.path().join("img_00_2.png")).unwrap();
        write(&dir.path().join("README.md"), b"not an image");
        let data = load_image_folder(dir.path()).unwrap();
        assert_eq!(
            (data.len(), data.shape(), data.num_classes()),
            (2, [3, 2, 3], 8)
        );
        assert_eq!(data.labels(), &[2, 7]);
        let image = data.image(1);
        assert_eq!(image[..3], [0.0, 1.0 / 255.0, 2.0 / 255.0]); // red = x
        assert_eq!(image[6 + 3], 1.0 / 255.0); // green = y, second row
        assert_eq!(image[12], 0.2); // blue = seed
    }

    #[test]
    fn labels_class_folders_by_rank_or_number() {
        let dir = tempfile::tempdir().unwrap();
        for (class, value) in [("dog", 10), ("cat", 20)] {
            std::fs::create_dir(dir.path().join(class)).unwrap();
            gray(2, 2, value)
                .save(dir.path().join(class).join("a.png"))
                .unwrap();
        }
        rgb(2, 2, 0)
            .save(dir.path().join("dog").join("b.jpg"))
            .unwrap();
        std::fs::create_dir(dir.path().join(".hidden")).unwrap();
        let data = load_image_folder_with_classes(dir.path(), Some(5)).unwrap();
        assert_eq!(
            (data.len(), data.shape(), data.num_classes()),
            (3, [3, 2, 2], 5)
        );
        assert_eq!(data.labels(), &[0, 1, 1]);
        assert_eq!(data.image(0), &[20.0 / 255.0; 12]);

        let numbered = tempfile::tempdir().unwrap();
        for class in ["10", "2"] {
            std::fs::create_dir(numbered.path().join(class)).unwrap();
            gray(2, 2, 0)
                .save(numbered.path().join(class).join("x.png"))
                .unwrap();
        }
        let data = load_image_folder(numbered.path()).unwrap();
        assert_eq!(
            (data.labels(), data.shape(), data.num_classes()),
            (&[2, 10][..], [1, 2, 2], 11)
        );
    }

    #[test]
    fn size_mismatch_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        rgb(2, 2, 0).save(dir.path().join("a_0.png")).unwrap();
        rgb(3, 2, 0).save(dir.path().join("b_1.png")).unwrap();
        let result = load_image_folder(dir.path());
        assert_data_error(result, &dir.path().join("b_1.png"), "is 3x2 but");
    }

    #[test]
    fn unlabelled_names_and_corrupt_images_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        rgb(2, 2, 0).save(dir.path().join("a_x.png")).unwrap();
        assert_data_error(
            load_image_folder(dir.path()),
            &dir.path().join("a_x.png"),
            "no label",
        );
        std::fs::remove_file(dir.path().join("a_x.png")).unwrap();
        write(&dir.path().join("a_1.png"), b"\x89PNG\r\n\x1a\n truncated");
        assert_data_error(
            load_image_folder(dir.path()),
            &dir.path().join("a_1.png"),
            "cannot decode",
        );
    }

    #[test]
    fn empty_folder_and_labels_beyond_the_class_count_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert_data_error(load_image_folder(dir.path()), dir.path(), "no PNG or JPEG");
        gray(2, 2, 0).save(dir.path().join("a_1.png")).unwrap();
        gray(2, 2, 0).save(dir.path().join("b_4.png")).unwrap();
        let result = load_image_folder_with_classes(dir.path(), Some(4));
        assert_data_error(
            result,
            &dir.path().join("b_4.png"),
            "out of range for 4 classes",
        );
    }

    /// A real 1x1 PNG whose header then claims `w`x`h` (CRC fixed): a decompression bomb's
    /// header, without its megabytes.
    fn claiming(w: u32, h: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        gray(1, 1, 7)
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .unwrap();
        // Signature (8), IHDR length (4), "IHDR" (4), width, height, ..., CRC of type + data.
        bytes[16..20].copy_from_slice(&w.to_be_bytes());
        bytes[20..24].copy_from_slice(&h.to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.sum().to_be_bytes());
        bytes
    }

    #[test]
    fn huge_images_are_refused_from_their_headers() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("bomb_0.png"), &claiming(20_000, 20_000));
        assert_data_error(
            load_image_folder(dir.path()),
            &dir.path().join("bomb_0.png"),
            "20000x20000",
        );
        // Each image under the side limit, together more than a folder may hold: refused
        // before any is decoded.
        let dir = tempfile::tempdir().unwrap();
        for i in 0..9 {
            write(
                &dir.path().join(format!("big_{i}.png")),
                &claiming(16_384, 16_384),
            );
        }
        assert_data_error(load_image_folder(dir.path()), dir.path(), "too large");
    }
}

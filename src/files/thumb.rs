//! Thumbnails in PocketBase's size formats: `WxH` (crop to fill, centred), `WxHt` / `WxHb` (crop
//! to fill, anchored top / bottom), `WxHf` (fit inside, no crop), `0xH` / `Wx0` (scale to a
//! height / width). Decoding is bounded (dimensions and allocation) against decompression bombs.
//! Blocking: callers run it off the async workers.

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use std::path::Path;

/// Largest source dimension decoded for a thumbnail.
const MAX_SOURCE_SIDE: u32 = 12_000;
/// Largest decoder allocation.
const MAX_DECODE_BYTES: u64 = 512 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Center,
    Top,
    Bottom,
    Fit,
}

/// A parsed thumb size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThumbSpec {
    width: u32,
    height: u32,
    mode: Mode,
}

impl ThumbSpec {
    /// Parses a size the field accepts (see `schema::valid_thumb`); `None` otherwise.
    pub fn parse(spec: &str) -> Option<Self> {
        if !crate::schema::valid_thumb(spec) {
            return None;
        }
        let (body, mode) = match spec.as_bytes().last() {
            Some(b't') => (&spec[..spec.len() - 1], Mode::Top),
            Some(b'b') => (&spec[..spec.len() - 1], Mode::Bottom),
            Some(b'f') => (&spec[..spec.len() - 1], Mode::Fit),
            _ => (spec, Mode::Center),
        };
        let (w, h) = body.split_once('x')?;
        Some(Self {
            width: w.parse().ok()?,
            height: h.parse().ok()?,
            mode,
        })
    }

    fn apply(&self, img: &DynamicImage) -> DynamicImage {
        let (w, h) = (self.width, self.height);
        let filter = FilterType::Lanczos3;
        if w == 0 {
            return img.resize(u32::MAX, h, filter);
        }
        if h == 0 {
            return img.resize(w, u32::MAX, filter);
        }
        match self.mode {
            Mode::Fit => img.resize(w, h, filter),
            Mode::Center => img.resize_to_fill(w, h, filter),
            Mode::Top | Mode::Bottom => fill_anchored(img, w, h, filter, self.mode == Mode::Top),
        }
    }
}

/// Scales `img` to cover `w`×`h`, then cuts the overflow: centred across, from the bottom
/// (`top`) or from the top.
fn fill_anchored(img: &DynamicImage, w: u32, h: u32, f: FilterType, top: bool) -> DynamicImage {
    let (sw, sh) = (img.width().max(1) as f64, img.height().max(1) as f64);
    let scale = (w as f64 / sw).max(h as f64 / sh);
    let (cw, ch) = (
        ((sw * scale).round() as u32).max(w),
        ((sh * scale).round() as u32).max(h),
    );
    let cover = img.resize_exact(cw, ch, f);
    let x = (cw - w) / 2;
    let y = if top { 0 } else { ch - h };
    cover.crop_imm(x, y, w, h)
}

/// Whether thumbnails are made for files of this (sniffed or guessed) MIME type.
pub fn is_thumbable(mime: &str) -> bool {
    matches!(
        mime,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// Writes the thumbnail of the image at `src` to `dst` (via a temp file and rename, so readers
/// never see a partial thumbnail), in the source's format.
pub fn generate(src: &Path, dst: &Path, spec: ThumbSpec) -> Result<(), String> {
    let mut reader = ImageReader::open(src)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let format = reader.format().ok_or("unknown image format")?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SOURCE_SIDE);
    limits.max_image_height = Some(MAX_SOURCE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| e.to_string())?;
    let thumb = spec.apply(&img);
    let thumb = match format {
        // JPEG has no alpha channel.
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(thumb.to_rgb8()),
        _ => thumb,
    };
    let dir = dst.parent().ok_or("thumb path has no parent")?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let tmp = dir.join(format!(".tmp_{}", crate::schema::random_id()));
    let written = thumb
        .save_with_format(&tmp, format)
        .map_err(|e| e.to_string())
        .and_then(|_| std::fs::rename(&tmp, dst).map_err(|e| e.to_string()));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size_of(spec: &str, w: u32, h: u32) -> (u32, u32) {
        let img = DynamicImage::new_rgb8(w, h);
        let t = ThumbSpec::parse(spec).expect(spec).apply(&img);
        (t.width(), t.height())
    }

    #[test]
    fn sizes_match_pocketbase_on_a_200x100_image() {
        assert_eq!(size_of("100x100", 200, 100), (100, 100));
        assert_eq!(size_of("50x50", 200, 100), (50, 50));
        assert_eq!(size_of("100x0", 200, 100), (100, 50));
        assert_eq!(size_of("0x40", 200, 100), (80, 40));
        assert_eq!(size_of("30x30t", 200, 100), (30, 30));
        assert_eq!(size_of("30x30b", 200, 100), (30, 30));
        assert_eq!(size_of("30x30f", 200, 100), (30, 15));
        assert_eq!(ThumbSpec::parse("0x0"), None);
        assert_eq!(ThumbSpec::parse("10x10q"), None);
    }

    #[test]
    fn generates_a_png_thumb_and_refuses_garbage() {
        let dir = std::env::temp_dir().join(format!("fb-thumb-{}", crate::schema::random_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("a.png");
        DynamicImage::new_rgba8(64, 32).save(&src).unwrap();
        let dst = dir.join("thumbs_a.png").join("10x10_a.png");
        generate(&src, &dst, ThumbSpec::parse("10x10").unwrap()).unwrap();
        let t = image::open(&dst).unwrap();
        assert_eq!((t.width(), t.height()), (10, 10));
        let bad = dir.join("b.png");
        std::fs::write(&bad, b"not an image").unwrap();
        assert!(generate(&bad, &dir.join("x.png"), ThumbSpec::parse("10x10").unwrap()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

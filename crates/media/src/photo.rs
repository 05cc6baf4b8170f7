//! From uploaded bytes to a clean JPEG and its thumbnail.

use std::io::Cursor;

use image::{
    DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, Limits,
    RgbImage, codecs::jpeg::JpegEncoder, imageops::FilterType, metadata::Orientation,
};
use signalons_domain::{GeoPoint, Latitude, Longitude};

/// What an upload may be, and what it becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoLimits {
    /// The most an uploaded file may weigh.
    pub max_bytes: usize,
    /// The most pixels (width × height) an uploaded image may declare: a guard against
    /// decompression bombs, checked before anything is decoded.
    pub max_pixels: u64,
    /// The long side of the stored photo, in pixels (smaller photos keep their size).
    pub long_side: u32,
    /// The long side of the thumbnail, in pixels.
    pub thumbnail_long_side: u32,
}

impl Default for PhotoLimits {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_pixels: 40_000_000,
            long_side: 2048,
            thumbnail_long_side: 320,
        }
    }
}

/// Why an upload is refused. Nothing is stored for a refused upload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the photo is empty")]
    Empty,
    #[error("the photo is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("the file is not a JPEG, PNG or WebP image{hint}")]
    UnsupportedType { hint: &'static str },
    #[error("the photo is {width} × {height} pixels; at most {max} pixels are accepted")]
    TooManyPixels { width: u32, height: u32, max: u64 },
    #[error("the image data is damaged or incomplete")]
    Corrupt,
}

impl Refusal {
    /// The stable machine-readable code of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "photo_empty",
            Self::TooLarge { .. } => "photo_too_large",
            Self::UnsupportedType { .. } => "unsupported_photo_type",
            Self::TooManyPixels { .. } => "photo_too_many_pixels",
            Self::Corrupt => "photo_corrupt",
        }
    }
}

/// A photo ready to store: re-encoded as JPEG without metadata, upright, at most
/// [`PhotoLimits::long_side`] pixels long, with its thumbnail.
#[derive(Debug, Clone)]
pub struct ProcessedPhoto {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub thumbnail: Vec<u8>,
    /// Where the camera said it was, read from the EXIF GPS tags before they were dropped.
    pub location: Option<GeoPoint>,
}

/// The media type of every stored photo and thumbnail.
pub const CONTENT_TYPE: &str = "image/jpeg";

const PHOTO_QUALITY: u8 = 85;
const THUMBNAIL_QUALITY: u8 = 80;

/// Checks `bytes` and turns them into a photo fit to publish.
pub fn process(bytes: &[u8], limits: &PhotoLimits) -> Result<ProcessedPhoto, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(Refusal::TooLarge {
            max: limits.max_bytes,
        });
    }
    let format = sniff(bytes)?;
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(Refusal::Corrupt);
    }
    let (width, height) = reader(bytes, format)
        .into_dimensions()
        .map_err(|_| Refusal::Corrupt)?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels == 0 {
        return Err(Refusal::Corrupt);
    }
    if pixels > limits.max_pixels {
        return Err(Refusal::TooManyPixels {
            width,
            height,
            max: limits.max_pixels,
        });
    }
    let location = exif_location(bytes);
    let mut reader = reader(bytes, format);
    let mut decode_limits = Limits::default();
    decode_limits.max_image_width = Some(width);
    decode_limits.max_image_height = Some(height);
    // RGBA at 16 bits a channel, plus the decoder's own buffers.
    decode_limits.max_alloc = Some(pixels.saturating_mul(8).saturating_add(64 << 20));
    reader.limits(decode_limits);
    let mut decoder = reader.into_decoder().map_err(|_| Refusal::Corrupt)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|_| Refusal::Corrupt)?;
    image.apply_orientation(orientation);

    let photo = fit(&image, limits.long_side, FilterType::CatmullRom);
    let thumbnail = fit(&image, limits.thumbnail_long_side, FilterType::Triangle);
    let photo = opaque(&photo);
    Ok(ProcessedPhoto {
        width: photo.width(),
        height: photo.height(),
        jpeg: encode_jpeg(&photo, PHOTO_QUALITY)?,
        thumbnail: encode_jpeg(&opaque(&thumbnail), THUMBNAIL_QUALITY)?,
        location,
    })
}

/// The format the bytes themselves say, among those accepted.
fn sniff(bytes: &[u8]) -> Result<ImageFormat, Refusal> {
    let hint = if is_heif(bytes) {
        ": HEIC/HEIF photos are not accepted yet; share the photo as JPEG (most phones do so when uploading)"
    } else {
        ""
    };
    match image::guess_format(bytes) {
        Ok(format @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => Ok(format),
        _ => Err(Refusal::UnsupportedType { hint }),
    }
}

/// An ISO base media file whose brand is one of HEIF's.
fn is_heif(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(b"ftyp")
        && bytes.get(8..12).is_some_and(|brand| {
            [
                b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1",
            ]
            .iter()
            .any(|known| brand == *known)
        })
}

fn reader(bytes: &[u8], format: ImageFormat) -> ImageReader<Cursor<&[u8]>> {
    ImageReader::with_format(Cursor::new(bytes), format)
}

/// `image` scaled down (never up) so that its long side is at most `long_side`.
fn fit(image: &DynamicImage, long_side: u32, filter: FilterType) -> DynamicImage {
    if image.width().max(image.height()) <= long_side {
        image.clone()
    } else {
        image.resize(long_side, long_side, filter)
    }
}

/// RGB on white: JPEG has no transparency.
fn opaque(image: &DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over_white = |channel: u8| {
            let alpha = u16::from(a);
            let blended = (u16::from(channel) * alpha + 255 * (255 - alpha) + 127) / 255;
            u8::try_from(blended).unwrap_or(u8::MAX)
        };
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    })
}

fn encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, Refusal> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            ExtendedColorType::Rgb8,
        )
        .map_err(|_| Refusal::Corrupt)?;
    Ok(out)
}

/// Whether a JPEG stream runs to its end-of-image marker. Decoders fill a cut-off scan with
/// grey rather than fail, so a truncated upload is recognised on its markers instead.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let mut at = 2;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) else {
            return false;
        };
        at += 2;
        match marker {
            0xD9 => return true,
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let (Some(&high), Some(&low)) = (bytes.get(at), bytes.get(at + 1)) else {
            return false;
        };
        let length = usize::from(u16::from_be_bytes([high, low]));
        if length < 2 {
            return false;
        }
        at += length;
        if at > bytes.len() {
            return false;
        }
        if marker == 0xDA {
            // Entropy-coded data runs to the next marker other than a stuffed zero or a
            // restart marker.
            loop {
                match (bytes.get(at), bytes.get(at + 1)) {
                    (Some(&0xFF), Some(&(0x00 | 0xD0..=0xD7))) => at += 2,
                    (Some(&0xFF), Some(_)) => break,
                    (Some(_), _) => at += 1,
                    (None, _) => return false,
                }
            }
        }
    }
}

/// The position in the photo's EXIF GPS tags, when it has a plausible one.
fn exif_location(bytes: &[u8]) -> Option<GeoPoint> {
    use exif::{In, Tag, Value};
    let exif = exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok()?;
    let degrees = |tag: Tag| -> Option<f64> {
        match &exif.get_field(tag, In::PRIMARY)?.value {
            Value::Rational(parts) if parts.len() >= 3 => {
                Some(parts[0].to_f64() + parts[1].to_f64() / 60.0 + parts[2].to_f64() / 3600.0)
            }
            _ => None,
        }
    };
    let reference = |tag: Tag| -> Option<u8> {
        match &exif.get_field(tag, In::PRIMARY)?.value {
            Value::Ascii(texts) => texts.first()?.first().copied(),
            _ => None,
        }
    };
    let mut latitude = degrees(Tag::GPSLatitude)?;
    let mut longitude = degrees(Tag::GPSLongitude)?;
    if reference(Tag::GPSLatitudeRef)? == b'S' {
        latitude = -latitude;
    }
    if reference(Tag::GPSLongitudeRef)? == b'W' {
        longitude = -longitude;
    }
    // Cameras without a fix write zeros.
    if latitude == 0.0 && longitude == 0.0 {
        return None;
    }
    Some(GeoPoint::new(
        Latitude::new(latitude).ok()?,
        Longitude::new(longitude).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        encode_jpeg(&image, 90).expect("encode")
    }

    #[test]
    fn a_complete_jpeg_is_recognised_and_a_cut_one_is_not() {
        let whole = jpeg(64, 48);
        assert!(jpeg_is_complete(&whole));
        for cut in [whole.len() - 2, whole.len() / 2, 20, 3] {
            assert!(!jpeg_is_complete(&whole[..cut]), "cut at {cut}");
        }
    }

    #[test]
    fn large_photos_are_scaled_to_the_long_side_and_get_a_thumbnail() {
        let photo = process(&jpeg(3000, 1000), &PhotoLimits::default()).expect("processed");
        assert_eq!((photo.width, photo.height), (2048, 683));
        let thumbnail = image::load_from_memory(&photo.thumbnail).expect("thumbnail");
        assert_eq!(thumbnail.width().max(thumbnail.height()), 320);
        assert_eq!(photo.location, None);
    }

    #[test]
    fn small_photos_keep_their_size() {
        let photo = process(&jpeg(640, 480), &PhotoLimits::default()).expect("processed");
        assert_eq!((photo.width, photo.height), (640, 480));
    }

    #[test]
    fn refusals_have_their_codes() {
        let limits = PhotoLimits {
            max_bytes: 1000,
            max_pixels: 100,
            ..PhotoLimits::default()
        };
        assert_eq!(process(b"", &limits).map(|_| ()), Err(Refusal::Empty));
        assert_eq!(
            process(&[0xFF; 1001], &limits)
                .map(|_| ())
                .map_err(|e| e.code()),
            Err("photo_too_large")
        );
        assert_eq!(
            process(b"PK\x03\x04not a photo", &limits)
                .map(|_| ())
                .map_err(|e| e.code()),
            Err("unsupported_photo_type")
        );
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        let refusal = process(heic, &limits).map(|_| ()).unwrap_err();
        assert!(refusal.to_string().contains("HEIC"), "{refusal}");
        assert_eq!(
            process(&jpeg(20, 20), &limits)
                .map(|_| ())
                .map_err(|e| e.code()),
            Err("photo_too_many_pixels")
        );
    }

    #[test]
    fn transparency_becomes_white() {
        let clear = image::RgbaImage::from_pixel(4, 4, image::Rgba([0, 0, 0, 0]));
        let flat = opaque(&DynamicImage::ImageRgba8(clear));
        assert_eq!(flat.get_pixel(0, 0).0, [255, 255, 255]);
    }
}

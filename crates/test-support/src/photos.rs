//! Photos made for tests: plain images in each accepted format, JPEGs carrying EXIF (GPS,
//! camera, orientation), and the hostile files uploads must refuse.

use std::io::Cursor;

use exif::{Field, In, Rational, Tag, Value, experimental::Writer};
use image::{ImageEncoder, RgbImage};

fn gradient(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (x * 255 / width.max(1)) as u8,
            (y * 255 / height.max(1)) as u8,
            90,
        ])
    })
}

/// A plain JPEG of `width` × `height`.
pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let image = gradient(width, height);
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(
            image.as_raw(),
            width,
            height,
            image::ExtendedColorType::Rgb8,
        )
        .expect("encode JPEG");
    out
}

/// A PNG of `width` × `height`.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = gradient(width, height);
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            image.as_raw(),
            width,
            height,
            image::ExtendedColorType::Rgb8,
        )
        .expect("encode PNG");
    out
}

/// A (lossless) WebP of `width` × `height`.
pub fn webp(width: u32, height: u32) -> Vec<u8> {
    let image = gradient(width, height);
    let mut out = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut out)
        .write_image(
            image.as_raw(),
            width,
            height,
            image::ExtendedColorType::Rgb8,
        )
        .expect("encode WebP");
    out
}

fn degrees_minutes_seconds(value: f64) -> Value {
    let value = value.abs();
    let degrees = value.trunc();
    let minutes = ((value - degrees) * 60.0).trunc();
    let seconds = ((value - degrees) * 60.0 - minutes) * 60.0;
    Value::Rational(vec![
        Rational::from((degrees as u32, 1)),
        Rational::from((minutes as u32, 1)),
        Rational::from(((seconds * 10_000.0).round() as u32, 10_000)),
    ])
}

fn ascii(text: &str) -> Value {
    Value::Ascii(vec![text.as_bytes().to_vec()])
}

/// A JPEG of `width` × `height` whose EXIF names a camera and its owner, carries `gps`
/// (latitude, longitude) and says the image is to be turned by `orientation` (EXIF values
/// 1–8; 6 means a quarter turn clockwise).
pub fn jpeg_with_exif(
    width: u32,
    height: u32,
    gps: Option<(f64, f64)>,
    orientation: u16,
) -> Vec<u8> {
    let mut fields = vec![
        Field {
            tag: Tag::Make,
            ifd_num: In::PRIMARY,
            value: ascii("SignalonsCam"),
        },
        Field {
            tag: Tag::Artist,
            ifd_num: In::PRIMARY,
            value: ascii("Jane Resident"),
        },
        Field {
            tag: Tag::Orientation,
            ifd_num: In::PRIMARY,
            value: Value::Short(vec![orientation]),
        },
    ];
    if let Some((latitude, longitude)) = gps {
        fields.extend([
            Field {
                tag: Tag::GPSLatitudeRef,
                ifd_num: In::PRIMARY,
                value: ascii(if latitude < 0.0 { "S" } else { "N" }),
            },
            Field {
                tag: Tag::GPSLatitude,
                ifd_num: In::PRIMARY,
                value: degrees_minutes_seconds(latitude),
            },
            Field {
                tag: Tag::GPSLongitudeRef,
                ifd_num: In::PRIMARY,
                value: ascii(if longitude < 0.0 { "W" } else { "E" }),
            },
            Field {
                tag: Tag::GPSLongitude,
                ifd_num: In::PRIMARY,
                value: degrees_minutes_seconds(longitude),
            },
        ]);
    }
    let mut writer = Writer::new();
    for field in &fields {
        writer.push_field(field);
    }
    let mut tiff = Cursor::new(Vec::new());
    writer.write(&mut tiff, false).expect("write EXIF");
    let tiff = tiff.into_inner();
    let plain = jpeg(width, height);
    let length = u16::try_from(2 + 6 + tiff.len()).expect("EXIF fits a segment");
    let mut out = Vec::with_capacity(plain.len() + tiff.len() + 10);
    out.extend_from_slice(&plain[..2]);
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(&tiff);
    out.extend_from_slice(&plain[2..]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).expect("chunk").to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A few hundred bytes of valid PNG that declare `width` × `height` pixels: a decompression
/// bomb's header.
pub fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &header);
    // An empty zlib stream: whatever decodes it runs out of data at once.
    png_chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A zip archive, as if renamed `photo.jpg`.
pub fn zip_file() -> Vec<u8> {
    let mut out = b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec();
    out.extend_from_slice(&[0u8; 40]);
    out.extend_from_slice(b"photo.jpg");
    out
}

/// The segment markers of a JPEG, in order (`0xE1` is EXIF's APP1, `0xFE` a comment...).
pub fn jpeg_markers(bytes: &[u8]) -> Vec<u8> {
    let mut markers = Vec::new();
    let mut at = 2;
    while at + 4 <= bytes.len() && bytes[at] == 0xFF {
        let marker = bytes[at + 1];
        markers.push(marker);
        if marker == 0xDA {
            break;
        }
        let length = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        at += 2 + length;
    }
    markers
}

// Photos are resized on the phone before they are kept: at most 2048 px on the longest side,
// re-encoded as JPEG (which also drops the camera's EXIF, GPS included).
import type { StoredPhoto } from './outbox';

export const MAX_SIDE = 2048;
export const JPEG_QUALITY = 0.85;

/** The size that fits `width` × `height` within `max` px, keeping the ratio; never enlarges. */
export function fitWithin(
  width: number,
  height: number,
  max: number = MAX_SIDE,
): { width: number; height: number } {
  if (!(width > 0) || !(height > 0)) throw new RangeError('an image has a positive size');
  const scale = Math.min(1, max / Math.max(width, height));
  return {
    width: Math.max(1, Math.min(max, Math.round(width * scale))),
    height: Math.max(1, Math.min(max, Math.round(height * scale))),
  };
}

/** Decodes `file` (honouring its EXIF orientation), scales it down and encodes it as JPEG. */
export async function resizePhoto(file: Blob, max: number = MAX_SIDE): Promise<StoredPhoto> {
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  try {
    const { width, height } = fitWithin(bitmap.width, bitmap.height, max);
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext('2d');
    if (!context) throw new Error('no 2d canvas');
    context.imageSmoothingQuality = 'high';
    context.drawImage(bitmap, 0, 0, width, height);
    const blob = await new Promise<Blob>((resolve, reject) =>
      canvas.toBlob(
        (b) => (b ? resolve(b) : reject(new Error('encoding failed'))),
        'image/jpeg',
        JPEG_QUALITY,
      ),
    );
    return { blob, width, height };
  } finally {
    bitmap.close();
  }
}

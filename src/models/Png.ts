/**
 * A tiny PNG encoder (8-bit greyscale, no interlace): signature, IHDR, one zlib-deflated IDAT of
 * filter-0 scanlines (node:zlib), IEND, each chunk with its CRC-32. Plus a helper that tiles square
 * digit images into a grid.
 */
import { deflateSync } from 'node:zlib'

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

/** CRC-32 (ISO 3309, as PNG uses it) of bytes */
export const crc32 = (bytes: Uint8Array): number => {
  let c = 0xffffffff
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

const chunk = (type: string, data: Uint8Array): Uint8Array => {
  const out = new Uint8Array(12 + data.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, data.length)
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i)
  out.set(data, 8)
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)))
  return out
}

/** a greyscale PNG of `width` × `height` pixels, row-major grey levels 0 … 255 */
export const grey = (width: number, height: number, pixels: Uint8Array): Uint8Array => {
  if (pixels.length !== width * height) throw new Error(`Png.grey: ${pixels.length} pixels for ${width} × ${height}`)
  const ihdr = new Uint8Array(13)
  const v = new DataView(ihdr.buffer)
  v.setUint32(0, width)
  v.setUint32(4, height)
  ihdr.set([8, 0, 0, 0, 0], 8) // bit depth 8, colour type 0 (grey), deflate, filter 0, no interlace
  const raw = new Uint8Array(height * (width + 1))
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1)
  const parts = [Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/**
 * tile `rows` × `cols` square images of side `side` (row-major values in [lo, hi], clipped) into one
 * grey image with `gap` pixels of `background` between tiles, each pixel scaled by `zoom`
 */
export const grid = (
  images: ArrayLike<number>,
  o: { readonly rows: number; readonly cols: number; readonly side: number; readonly lo?: number; readonly hi?: number; readonly gap?: number; readonly zoom?: number; readonly background?: number },
): { readonly width: number; readonly height: number; readonly pixels: Uint8Array } => {
  const { rows, cols, side } = o
  const [lo, hi, gap, zoom] = [o.lo ?? 0, o.hi ?? 1, o.gap ?? 2, o.zoom ?? 1]
  const cell = side * zoom
  const width = cols * cell + (cols + 1) * gap
  const height = rows * cell + (rows + 1) * gap
  const pixels = new Uint8Array(width * height).fill(o.background ?? 128)
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const base = (r * cols + c) * side * side
      if (base >= images.length) continue
      for (let y = 0; y < cell; y++)
        for (let x = 0; x < cell; x++) {
          const v = images[base + Math.floor(y / zoom) * side + Math.floor(x / zoom)]!
          const g = Math.round((255 * (Math.min(hi, Math.max(lo, v)) - lo)) / (hi - lo))
          pixels[(gap + r * (cell + gap) + y) * width + gap + c * (cell + gap) + x] = g
        }
    }
  return { width, height, pixels }
}

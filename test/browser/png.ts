/**
 * A minimal PNG decoder (node:zlib) for screenshots: 8-bit greyscale, grey + alpha, RGB and RGBA,
 * non-interlaced; every scanline filter (None, Sub, Up, Average, Paeth). Enough to inspect what
 * Chromium writes; anything else is rejected with the reason.
 */
import * as zlib from 'node:zlib'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** decoded pixels: RGBA, row-major, 4 bytes per pixel */
export interface Image {
  readonly width: number
  readonly height: number
  readonly rgba: Uint8Array
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
/** channels per colour type: 0 grey, 2 RGB, 4 grey + alpha, 6 RGBA */
const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 4: 2, 6: 4 }

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** the Paeth predictor of PNG filter type 4 */
const paeth = (a: number, b: number, c: number): number => {
  const p = a + b - c
  const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)]
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c
}

/** undo the per-scanline filters in place: raw = height × (1 filter byte + stride bytes) */
const unfilter = (raw: Uint8Array, height: number, stride: number, bpp: number): Uint8Array => {
  const out = new Uint8Array(height * stride)
  for (let y = 0; y < height; y++) {
    const type = raw[y * (stride + 1)]!
    const src = y * (stride + 1) + 1
    const row = y * stride
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? out[row + i - bpp]! : 0
      const b = y > 0 ? out[row - stride + i]! : 0
      const c = y > 0 && i >= bpp ? out[row - stride + i - bpp]! : 0
      const pred = type === 0 ? 0 : type === 1 ? a : type === 2 ? b : type === 3 ? (a + b) >> 1 : type === 4 ? paeth(a, b, c) : NaN
      if (Number.isNaN(pred)) throw new Error(`png: unknown filter type ${type} at row ${y}`)
      out[row + i] = (raw[src + i]! + pred) & 0xff
    }
  }
  return out
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** decode a PNG file's bytes to RGBA */
export const decode = (bytes: Uint8Array): Image => {
  if (!SIGNATURE.every((v, i) => bytes[i] === v)) throw new Error('png: not a PNG file (bad signature)')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const idat: Uint8Array[] = []
  let header: { width: number; height: number; depth: number; colour: number; interlace: number } | undefined
  for (let o = 8; o + 8 <= bytes.length;) {
    const len = view.getUint32(o)
    const type = String.fromCharCode(...bytes.subarray(o + 4, o + 8))
    const data = bytes.subarray(o + 8, o + 8 + len)
    if (type === 'IHDR') header = { width: view.getUint32(o + 8), height: view.getUint32(o + 12), depth: data[8]!, colour: data[9]!, interlace: data[12]! }
    if (type === 'IDAT') idat.push(data)
    if (type === 'IEND') break
    o += 12 + len
  }
  if (header === undefined) throw new Error('png: no IHDR chunk')
  const channels = CHANNELS[header.colour]
  if (header.depth !== 8 || channels === undefined || header.interlace !== 0)
    throw new Error(`png: only 8-bit non-interlaced grey/RGB(A) is supported (depth ${header.depth}, colour type ${header.colour}, interlace ${header.interlace})`)
  const { width, height } = header
  const px = unfilter(zlib.inflateSync(Buffer.concat(idat)), height, width * channels, channels)
  const rgba = new Uint8Array(width * height * 4)
  for (let k = 0; k < width * height; k++) {
    const s = k * channels
    const grey = channels <= 2
    rgba[4 * k] = px[s]!
    rgba[4 * k + 1] = grey ? px[s]! : px[s + 1]!
    rgba[4 * k + 2] = grey ? px[s]! : px[s + 2]!
    rgba[4 * k + 3] = channels === 4 ? px[s + 3]! : channels === 2 ? px[s + 1]! : 255
  }
  return { width, height, rgba }
}

/** distinct RGB colours and pixels differing from `background` inside a rectangle */
export const stats = (img: Image, box: { readonly x: number; readonly y: number; readonly width: number; readonly height: number }, background = 0xffffff) => {
  const colours = new Set<number>()
  let foreground = 0
  const x0 = Math.max(0, Math.round(box.x))
  const y0 = Math.max(0, Math.round(box.y))
  const x1 = Math.min(img.width, Math.round(box.x + box.width))
  const y1 = Math.min(img.height, Math.round(box.y + box.height))
  for (let y = y0; y < y1; y++)
    for (let x = x0; x < x1; x++) {
      const k = 4 * (y * img.width + x)
      const rgb = (img.rgba[k]! << 16) | (img.rgba[k + 1]! << 8) | img.rgba[k + 2]!
      colours.add(rgb)
      if (rgb !== background) foreground++
    }
  return { distinct: colours.size, foreground, pixels: Math.max(0, (x1 - x0) * (y1 - y0)) }
}

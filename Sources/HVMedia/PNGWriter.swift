// Minimal PNG encoder for 8-bit RGB images (contact sheets, plots): signature, IHDR, one zlib IDAT
// (filter 0 on every row), IEND, each chunk with its CRC-32.
import CZlib
import Foundation

public enum PNGWriter {
    public static func encode(_ image: RGBFrame) throws -> [UInt8] {
        let w = image.width, h = image.height
        var raw = [UInt8](repeating: 0, count: h * (w * 3 + 1))
        image.pixels.withUnsafeBufferPointer { src in
            for y in 0..<h {
                raw[y * (w * 3 + 1)] = 0
                for i in 0..<(w * 3) { raw[y * (w * 3 + 1) + 1 + i] = src[y * w * 3 + i] }
            }
        }
        var destLen = compressBound(uLong(raw.count))
        var z = [UInt8](repeating: 0, count: Int(destLen))
        let rc = compress2(&z, &destLen, raw, uLong(raw.count), 6)
        guard rc == Z_OK else { throw MediaError.encodeFailed(name: "png", reason: "zlib error \(rc)") }
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
        func chunk(_ type: String, _ data: [UInt8]) {
            let td = Array(type.utf8) + data
            out += be32(UInt32(data.count)) + td
            out += be32(UInt32(crc32(0, td, uInt(td.count))))
        }
        chunk("IHDR", be32(UInt32(w)) + be32(UInt32(h)) + [8, 2, 0, 0, 0])
        chunk("IDAT", Array(z[0..<Int(destLen)]))
        chunk("IEND", [])
        return out
    }
}

/// A grid of frames with gaps, for looking at videos at a glance.
public enum ContactSheet {
    /// Rows of frames (all the same size) → one image, `gap` pixels of dark grey between cells.
    public static func compose(rows: [[RGBFrame]], gap: Int = 4) -> RGBFrame {
        let fw = rows[0][0].width, fh = rows[0][0].height
        let cols = rows.map { $0.count }.max() ?? 1
        let W = cols * fw + (cols + 1) * gap, H = rows.count * fh + (rows.count + 1) * gap
        var px = [UInt8](repeating: 40, count: W * H * 3)
        for (r, row) in rows.enumerated() {
            for (c, f) in row.enumerated() {
                let x0 = gap + c * (fw + gap), y0 = gap + r * (fh + gap)
                for y in 0..<min(fh, f.height) {
                    let src = y * f.width * 3, dst = ((y0 + y) * W + x0) * 3
                    for i in 0..<(min(fw, f.width) * 3) { px[dst + i] = f.pixels[src + i] }
                }
            }
        }
        return RGBFrame(width: W, height: H, pixels: px)
    }

    /// `count` indices spread evenly over `total` frames.
    public static func sampleIndices(total: Int, count: Int) -> [Int] {
        guard total > 0 else { return [] }
        let n = min(count, total)
        return (0..<n).map { n == 1 ? 0 : $0 * (total - 1) / (n - 1) }
    }
}

import Foundation
import XCTest
@testable import HVMedia

/// VideoDecoder's fast path (scale in Y'CbCr with swscale, convert to RGB ourselves) against its reference
/// (swscale scales and converts to RGB24 in one call), on ffmpeg-made sources of each planar layout it handles.
final class DecodePathTests: XCTestCase {
    var dir: String!
    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "hvdecpath-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func ffmpeg(_ args: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "ffmpeg -v error -y \(args)"]
        try p.run(); p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, args)
    }

    func frames(_ path: String, rgbReference: Bool, crop: Bool) throws -> [RGBFrame] {
        var o = DecodeOptions()
        o.size = 64; o.crop = crop; o.scaleInRGB = rgbReference
        let d = try VideoDecoder(path: path, options: o)
        var out: [RGBFrame] = []
        while let f = try d.nextFrame() { out.append(f) }
        return out
    }

    func psnr(_ a: [RGBFrame], _ b: [RGBFrame]) -> Double {
        var se = 0.0, n = 0
        for (x, y) in zip(a, b) { for (p, q) in zip(x.pixels, y.pixels) { let e = Double(p) - Double(q); se += e * e; n += 1 } }
        return se == 0 ? 100 : 10 * log10(255 * 255 / (se / Double(n)))
    }

    /// ffmpeg's most careful rendering of the same job (full chroma interpolation in and out, accurate
    /// rounding), as RGB24 frames: the truth both paths are measured against.
    func truth(_ src: String, filter: String, frames n: Int) throws -> [RGBFrame] {
        let raw = "\(dir!)/truth.rgb"
        try ffmpeg("-i \(src) -vf \(filter) -frames:v \(n) -pix_fmt rgb24 -f rawvideo \(raw)")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
        XCTAssertEqual(bytes.count, n * 64 * 64 * 3)
        return (0..<n).map { RGBFrame(width: 64, height: 64, pixels: Array(bytes[($0 * 64 * 64 * 3)..<(($0 + 1) * 64 * 64 * 3)])) }
    }

    /// `nextYCbCrFrame` gives the planes `nextFrame`'s RGB is converted from (planar Y'CbCr sources, cropped,
    /// letterboxed and rotated), and `nextFrame`'s RGB converted to Y'CbCr for the others.
    func testYCbCrFramesAreThePlanesOfTheRGBFrames() throws {
        let plain = "\(dir!)/plain.mkv", rotated = "\(dir!)/rot.mp4", rgb = "\(dir!)/rgb.mkv"
        try ffmpeg("-f lavfi -i testsrc2=size=160x120:rate=8 -t 1 -pix_fmt yuv420p -c:v libx264 -qp 0 \(plain)")
        try ffmpeg("-f lavfi -i testsrc2=size=160x90:rate=8 -t 1 -pix_fmt yuv420p -c:v libx264 -qp 0 \(dir!)/land.mp4")
        try ffmpeg("-i \(dir!)/land.mp4 -c copy -metadata:s:v:0 rotate=90 \(rotated)")
        try ffmpeg("-f lavfi -i testsrc2=size=96x80:rate=8 -t 1 -pix_fmt bgr24 -c:v ffv1 \(rgb)")
        for (src, planar) in [(plain, true), (rotated, true), (rgb, false)] {
            for crop in [true, false] {
                var o = DecodeOptions()
                o.size = 64; o.crop = crop
                let a = try VideoDecoder(path: src, options: o), b = try VideoDecoder(path: src, options: o)
                var n = 0
                while let f = try a.nextFrame() {
                    let p = try XCTUnwrap(try b.nextYCbCrFrame())
                    XCTAssertEqual(p.width, 64)
                    if planar {
                        var back = [UInt8](repeating: 0, count: 64 * 64 * 3)
                        ColorConversion.yuvToRGB(y: p.y, cb: p.cb, cr: p.cr, width: 64, height: 64, chromaWidth: 64, subsampled: false,
                                                 fullRange: false, rgb: &back)
                        XCTAssertEqual(back, f.pixels, "\(src) crop \(crop) frame \(n)")
                    } else {
                        var y = [UInt8](repeating: 0, count: 64 * 64), cb = y, cr = y
                        ColorConversion.rgbToYUV(rgb: f.pixels, width: 64, height: 64, subsampled: false, fullRange: false, y: &y, cb: &cb, cr: &cr)
                        XCTAssertEqual([y, cb, cr], [p.y, p.cb, p.cr], "\(src) crop \(crop) frame \(n)")
                    }
                    n += 1
                }
                XCTAssertNil(try b.nextYCbCrFrame())
                XCTAssertEqual(n, 8, src)
            }
        }
        // The rotated source is displayed portrait: letterboxed, its left and right margins are black.
        var o = DecodeOptions()
        o.size = 64; o.crop = false
        let p = try XCTUnwrap(try VideoDecoder(path: rotated, options: o).nextYCbCrFrame())
        XCTAssertEqual([p.y[32 * 64], p.cb[32 * 64], p.cr[32 * 64 + 63]], [16, 128, 128])
    }

    /// 4:2:0 frames (hv-decode's default y4m) are what ffmpeg's scale and crop filters make of the same 4:2:0
    /// source, plane by plane — cropped (at an odd column too, which both round down to an even one) or
    /// letterboxed — and rotated frames, which take the 4:4:4 path, are that path's 2×2 means.
    func testSubsampledFramesAreFFmpegs() throws {
        for (w, crop, filter) in [(160, true, "scale=85:64,crop=64:64:10:0"), (170, true, "scale=91:64,crop=64:64:13:0"),
                                  (160, false, "scale=64:48,pad=64:64:0:8")] {
            let src = "\(dir!)/s\(w).mkv", raw = "\(dir!)/s\(w).yuv"
            try ffmpeg("-f lavfi -i testsrc2=size=\(w)x120:rate=8 -t 1 -pix_fmt yuv420p -c:v libx264 -qp 0 \(src)")
            try ffmpeg("-i \(src) -vf \(filter) -pix_fmt yuv420p -f rawvideo \(raw)")
            let truth = [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
            var o = DecodeOptions()
            o.size = 64; o.crop = crop
            let d = try VideoDecoder(path: src, options: o)
            var n = 0
            while let f = try d.nextYCbCrFrame(subsampled: true) {
                XCTAssertTrue(f.isSubsampled)
                let frame = Array(truth[(n * 6144)..<((n + 1) * 6144)])
                let ours = f.y + f.cb + f.cr
                let maxErr = zip(ours, frame).map { abs(Int($0) - Int($1)) }.max()!
                XCTAssertLessThanOrEqual(maxErr, 1, "\(filter) frame \(n)")
                n += 1
            }
            XCTAssertEqual(n, 8)
        }
        let rotated = "\(dir!)/rot.mp4"
        try ffmpeg("-f lavfi -i testsrc2=size=160x90:rate=8 -t 1 -pix_fmt yuv420p -c:v libx264 -qp 0 \(dir!)/land.mp4")
        try ffmpeg("-i \(dir!)/land.mp4 -c copy -metadata:s:v:0 rotate=90 \(rotated)")
        for crop in [true, false] {
            let src = rotated
            var o = DecodeOptions()
            o.size = 64; o.crop = crop
            let full = try XCTUnwrap(try VideoDecoder(path: src, options: o).nextYCbCrFrame())
            let sub = try XCTUnwrap(try VideoDecoder(path: src, options: o).nextYCbCrFrame(subsampled: true))
            XCTAssertEqual(sub, full.subsampled(), "\(src) crop \(crop)")
        }
    }

    func testFastPathIsNoWorseThanRGBReference() throws {
        // testsrc2 (saturated colour edges: the hardest case for chroma) at 160×120 → 64² centre crop (scaled
        // to 85×64, crop x 10) and letterboxed (scaled to 64×48, pad y 8), so the truth has the same geometry.
        let flags = "flags=bicubic+full_chroma_int+full_chroma_inp+accurate_rnd"
        let jobs = [(true, "scale=85:64:\(flags),crop=64:64:10:0"), (false, "scale=64:48:\(flags),pad=64:64:0:8")]
        for pix in ["yuv420p", "yuvj420p", "yuv422p", "yuv444p"] {
            let src = "\(dir!)/\(pix).mkv"
            try ffmpeg("-f lavfi -i testsrc2=size=160x120:rate=8 -t 1 -pix_fmt \(pix) -c:v libx264 -qp 0 \(src)")
            for (crop, filter) in jobs {
                let fast = try frames(src, rgbReference: false, crop: crop)
                let ref = try frames(src, rgbReference: true, crop: crop)
                XCTAssertEqual(fast.count, 8, pix)
                XCTAssertEqual(fast.count, ref.count, pix)
                let t = try truth(src, filter: filter, frames: fast.count)
                let fastQ = psnr(fast, t), refQ = psnr(ref, t)
                // No worse than the reference, or past 50 dB where the reference is exact (it can be: the
                // RGB24 path with 4:4:4 or a centre crop is swscale doing what ffmpeg does here).
                XCTAssertGreaterThan(fastQ, min(refQ, 50) - 0.5, "\(pix) crop \(crop): fast \(fastQ) dB, reference \(refQ) dB")
                XCTAssertGreaterThan(fastQ, 25, "\(pix) crop \(crop)")
                XCTAssertLessThan(psnr(fast, ref), 100, "\(pix): the two paths should not be the same code")
            }
        }
    }
}

import XCTest
@testable import HVMedia

final class Y4MTests: XCTestCase {
    func pipeReader(_ bytes: [UInt8]) throws -> Y4MReader {
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        let w = fds[1]
        DispatchQueue.global().async {
            bytes.withUnsafeBytes { b in var off = 0; while off < b.count { let n = write(w, b.baseAddress! + off, b.count - off); if n <= 0 { break }; off += n } }
            close(w)
        }
        return try Y4MReader(fileDescriptor: fds[0], name: "pipe")
    }

    func gradientFrame(_ w: Int, _ h: Int, seed: Int) -> RGBFrame {
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h { for x in 0..<w {
            px[(y * w + x) * 3] = UInt8((x * 255) / max(w - 1, 1))
            px[(y * w + x) * 3 + 1] = UInt8((y * 255) / max(h - 1, 1))
            px[(y * w + x) * 3 + 2] = UInt8((x + y + seed) % 256)
        } }
        return RGBFrame(width: w, height: h, pixels: px)
    }

    func roundTrip(_ frames: [RGBFrame], cs: Y4MColorSpace, full: Bool) throws -> [RGBFrame] {
        var bytes: [UInt8] = []
        let writer = Y4MWriter(width: frames[0].width, height: frames[0].height, frameRate: FrameRate(8), colorSpace: cs, fullRange: full) { bytes += $0 }
        for f in frames { try writer.write(f) }
        let r = try pipeReader(bytes)
        XCTAssertEqual(r.header.colorSpace, cs)
        XCTAssertEqual(r.header.fullRange, full)
        var out: [RGBFrame] = []
        while let f = try r.nextFrame() { out.append(f) }
        return out
    }

    func testRoundTrip444IsNearlyExact() throws {
        for full in [false, true] {
            let src = [gradientFrame(17, 9, seed: 0), gradientFrame(17, 9, seed: 50)]
            let back = try roundTrip(src, cs: .c444, full: full)
            XCTAssertEqual(back.count, 2)
            for (a, b) in zip(src, back) {
                let maxErr = zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max()!
                XCTAssertLessThanOrEqual(maxErr, full ? 2 : 3, "444 full=\(full)")
            }
        }
    }

    func testRoundTrip420OnSmoothContentAndOddSizes() throws {
        for (w, h) in [(16, 16), (15, 7), (1, 1)] {
            var f = RGBFrame(width: w, height: h)
            for y in 0..<h { for x in 0..<w { for c in 0..<3 { f.pixels[(y * w + x) * 3 + c] = UInt8(60 + 40 * c + 10 * (x / 2) % 100) } } }
            let back = try roundTrip([f], cs: .c420jpeg, full: false)
            let maxErr = zip(f.pixels, back[0].pixels).map { abs(Int($0) - Int($1)) }.max()!
            XCTAssertLessThanOrEqual(maxErr, 4, "\(w)x\(h)")
        }
        let mono = try roundTrip([gradientFrame(8, 8, seed: 1)], cs: .mono, full: true)
        XCTAssertEqual(mono[0].pixels[0], mono[0].pixels[1])
    }

    /// Y'CbCr planes written as they are give the bytes of the same picture written as RGB, within the RGB
    /// path's rounding: 4:4:4 luma and chroma, and 4:2:0's 2×2 means (odd sizes replicate the edge).
    func testYCbCrFramesWriteLikeTheirRGB() throws {
        for (cs, w, h) in [(Y4MColorSpace.c420jpeg, 16, 16), (.c420jpeg, 15, 7), (.c444, 17, 9), (.mono, 8, 8)] {
            let rgb = gradientFrame(w, h, seed: 7)
            var f = YCbCrFrame(width: w, height: h)
            ColorConversion.rgbToYUV(rgb: rgb.pixels, width: w, height: h, subsampled: false, fullRange: false, y: &f.y, cb: &f.cb, cr: &f.cr)
            var viaRGB: [UInt8] = [], direct: [UInt8] = []
            try Y4MWriter(width: w, height: h, frameRate: FrameRate(8), colorSpace: cs) { viaRGB += $0 }.write(rgb)
            try Y4MWriter(width: w, height: h, frameRate: FrameRate(8), colorSpace: cs) { direct += $0 }.write(f)
            XCTAssertEqual(direct.count, viaRGB.count, "\(cs)")
            let maxErr = zip(direct, viaRGB).map { abs(Int($0) - Int($1)) }.max()!
            XCTAssertLessThanOrEqual(maxErr, 1, "\(cs) \(w)x\(h)")
        }
        // Chroma of a 2×2 block is its mean: 10, 20, 30, 41 → 25 (25.25 rounded).
        var f = YCbCrFrame(width: 2, height: 2)
        f.cb = [10, 20, 30, 41]
        var bytes: [UInt8] = []
        try Y4MWriter(width: 2, height: 2, frameRate: FrameRate(8)) { bytes += $0 }.write(f)
        XCTAssertEqual(Array(bytes.suffix(2)), [25, 128])
        let full = Y4MWriter(width: 2, height: 2, frameRate: FrameRate(8), fullRange: true) { _ in }
        XCTAssertThrowsError(try full.write(f))
    }

    func testReadsFFmpegY4MLikeFFmpegsOwnRGB() throws {
        let d = NSTemporaryDirectory() + "y4m-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: d) }
        func sh(_ c: String) throws -> Int32 {
            let p = Process(); p.executableURL = URL(fileURLWithPath: "/bin/sh"); p.arguments = ["-c", c]
            try p.run(); p.waitUntilExit(); return p.terminationStatus
        }
        for pix in ["yuv420p", "yuv444p", "gray"] {
            XCTAssertEqual(try sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=64x48:rate=8 -t 0.5 -pix_fmt \(pix) -f yuv4mpegpipe \(d)/a.y4m"), 0)
            XCTAssertEqual(try sh("ffmpeg -v error -y -i \(d)/a.y4m -sws_flags neighbor+accurate_rnd+full_chroma_int -f rawvideo -pix_fmt rgb24 \(d)/a.rgb"), 0)
            let ref = [UInt8](try Data(contentsOf: URL(fileURLWithPath: d + "/a.rgb")))
            let fd = open(d + "/a.y4m", O_RDONLY); defer { close(fd) }
            let r = try Y4MReader(fileDescriptor: fd, name: "a.y4m")
            var ours: [UInt8] = []
            while let f = try r.nextFrame() { ours += f.pixels }
            XCTAssertEqual(ours.count, ref.count, pix)
            let diffs = zip(ours, ref).map { abs(Int($0) - Int($1)) }
            let mean = Double(diffs.reduce(0, +)) / Double(max(diffs.count, 1))
            // Stated tolerance: mean absolute difference ≤ 2 levels (chroma siting and rounding differ slightly).
            XCTAssertLessThanOrEqual(mean, 2.0, "\(pix): mean |diff| \(mean)")
        }
    }

    func testMalformedStreams() throws {
        let cases: [(String, String)] = [
            ("GIF89a....\n", "not a y4m"),
            ("YUV4MPEG2 H16 F8:1\n", "W (width) or H"),
            ("YUV4MPEG2 W16 H16\n", "F (frame rate)"),
            ("YUV4MPEG2 W16 H16 F8:0\n", "frame rate"),
            ("YUV4MPEG2 W16 H16 F8:1 It\n", "interlaced"),
            ("YUV4MPEG2 W16 H16 F8:1 C420p10\n", "colour space"),
            ("YUV4MPEG2 W99999 H16 F8:1\n", "outside"),
            ("YUV4MPEG2 W16 H16 F8:1 Q3\n", "unknown tag"),
            ("YUV4MPEG2 W16 H16 F8:1 XCOLORRANGE=PURPLE\n", "neither FULL nor LIMITED"),
        ]
        for (text, expect) in cases {
            XCTAssertThrowsError(try pipeReader(Array(text.utf8)), text) { e in
                XCTAssertTrue("\(e)".contains(expect), "\(text): \(e)")
                XCTAssertEqual((e as? MediaError)?.exitCode, 65)
            }
        }
        XCTAssertThrowsError(try pipeReader(Array(("YUV4MPEG2 W16 H16 F8:1 " + String(repeating: "X", count: 2000) + "\n").utf8)))
        let r = try pipeReader(Array("YUV4MPEG2 W4 H4 F8:1 C444\nFRAME\n".utf8) + [UInt8](repeating: 0, count: 10))
        XCTAssertThrowsError(try r.nextFrame()) { XCTAssertTrue("\($0)".contains("truncated")) }
        let r2 = try pipeReader(Array("YUV4MPEG2 W4 H4 F8:1 C444\nJUNK\n".utf8))
        XCTAssertThrowsError(try r2.nextFrame())
        // Data that does not match the header (a mono header over 4:2:0 frames) is named as such, at any frame.
        let frame420 = Array("FRAME\n".utf8) + [UInt8](repeating: 128, count: 16 * 16 * 3 / 2)
        let r3 = try pipeReader(Array("YUV4MPEG2 W16 H16 F8:1 Cmono\n".utf8) + frame420 + frame420 + frame420)
        XCTAssertNotNil(try r3.nextFrame())
        XCTAssertThrowsError(try r3.nextFrame()) { XCTAssertTrue("\($0)".contains("does not match the header (16x16 Cmono"), "\($0)") }
    }

    /// A header saved with CRLF keeps its last tag (the colour range).
    func testCRLFHeaderKeepsItsLastTag() throws {
        let r = try pipeReader(Array("YUV4MPEG2 W4 H4 F8:1 C444 XCOLORRANGE=FULL\r\n".utf8))
        XCTAssertTrue(r.header.fullRange)
    }

    func testPNGEncodesAReadableImage() throws {
        let png = try PNGWriter.encode(gradientFrame(20, 10, seed: 3))
        XCTAssertEqual(Array(png[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let path = NSTemporaryDirectory() + "t-\(UUID().uuidString).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(png).write(to: URL(fileURLWithPath: path))
        let p = Process(); p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0", path]
        let out = Pipe(); p.standardOutput = out
        try p.run(); p.waitUntilExit()
        XCTAssertEqual(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "20,10")
    }
}

// The paper's Table 3 baseline, automated: encode the reference frames with libx265 (ffmpeg CLI) at the bits per
// pixel of a token file, decode, and return the frames and the bits spent. Fair to x265: the bits counted are the
// HEVC elementary stream's (no container, and x265's ~2 KB encoder-info SEI switched off), and the rate is reached
// by a search over CRF (fractional, so finer than whole kbps or integer QP) to within 5 % of the target, in a
// private temporary folder (no pass logs left behind). When x265 cannot go that low at this size, the result is
// its lowest rate (CRF 51), flagged.
import Foundation
import HVMedia

public enum HEVCReference {
    public struct Result {
        public var frames: [RGBFrame]
        /// Bits per pixel of the HEVC elementary stream (parameter sets included, no container).
        public var bitsPerPixel: Double
        /// The CRF the search settled on.
        public var crf: Double
        /// False when even CRF 51 spends more than 5 % over the target: x265's lowest rate is reported instead.
        public var reachedTarget: Bool
    }

    /// Relative tolerance on the bit rate.
    public static let tolerance = 0.05

    public static func encode(_ frames: [RGBFrame], bitsPerPixel target: Double, fps: Int) throws -> Result {
        let w = frames[0].width, h = frames[0].height
        let dir = NSTemporaryDirectory() + "hv-hevc-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let raw = dir + "/in.rgb", stream = dir + "/out.hevc", back = dir + "/out.rgb"
        var data = Data(capacity: frames.count * w * h * 3)
        for f in frames { data.append(contentsOf: f.pixels) }
        try data.write(to: URL(fileURLWithPath: raw))
        let pixels = Double(frames.count * w * h)

        func bpp(crf: Double) throws -> Double {
            try run(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "\(w)x\(h)", "-r", "\(fps)", "-i", raw,
                     "-c:v", "libx265", "-x265-params", "log-level=error:info=0:crf=\(String(format: "%.3f", crf))",
                     "-pix_fmt", "yuv420p", "-f", "hevc", stream], cwd: dir)
            let size = (try FileManager.default.attributesOfItem(atPath: stream)[.size] as? Int) ?? 0
            return Double(size * 8) / pixels
        }
        // Bits fall as CRF rises: bisect CRF in [0, 51] for the target, keeping the closest encode.
        var lo = 0.0, hi = 51.0
        var best = (crf: 51.0, bpp: try bpp(crf: 51))
        var reached = best.bpp <= target * (1 + tolerance)
        if reached && abs(best.bpp - target) > tolerance * target {
            for _ in 0..<14 {
                let mid = (lo + hi) / 2
                let b = try bpp(crf: mid)
                if abs(b - target) < abs(best.bpp - target) { best = (mid, b) }
                if abs(b - target) <= tolerance * target { break }
                if b > target { lo = mid } else { hi = mid }
            }
            reached = abs(best.bpp - target) <= tolerance * target
        }
        _ = try bpp(crf: best.crf)   // the file on disk is the chosen encode
        try run(["-v", "error", "-y", "-i", stream, "-f", "rawvideo", "-pix_fmt", "rgb24", back], cwd: dir)
        let decoded = try Data(contentsOf: URL(fileURLWithPath: back))
        let n = min(frames.count, decoded.count / (w * h * 3))
        let out = (0..<n).map { i in RGBFrame(width: w, height: h, pixels: [UInt8](decoded[(i * w * h * 3)..<((i + 1) * w * h * 3)])) }
        return Result(frames: out, bitsPerPixel: best.bpp, crf: best.crf, reachedTarget: reached)
    }

    static func run(_ args: [String], cwd: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ffmpeg"] + args
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        p.standardOutput = FileHandle.nullDevice
        try p.run(); p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw MediaError.encodeFailed(name: "hevc", reason: "ffmpeg/libx265 failed (is ffmpeg installed?)") }
    }
}

// The paper's Table 3 baseline, automated: encode the reference frames with libx265 (ffmpeg CLI) at the bits per
// pixel of a token file, decode, and return the frames and the bits spent. Fair to x265: the bits counted are the
// HEVC elementary stream's (no container, and x265's ~2 KB encoder-info SEI switched off), and the rate is reached
// by a search over CRF (fractional, so finer than whole kbps or integer QP) to within 5 % of the target, in a
// private temporary folder (no pass logs left behind). When x265 cannot go that low at this size, the result is
// its lowest rate (CRF 51), flagged; when it cannot spend that much, its highest (CRF 0), flagged.
import Foundation
import HVMedia

public enum HEVCReference {
    /// How the rate found relates to the target.
    public enum Outcome: String, Sendable {
        /// Within `tolerance` of the target.
        case reached
        /// Even CRF 51 spends more than the target allows: x265's lowest rate.
        case lowestRateAboveTarget
        /// Even CRF 0 spends less than the target allows: x265's highest rate.
        case highestRateBelowTarget
        /// The target lies between two CRFs the search could not split further: the closest rate.
        case closest
    }

    public struct Result {
        public var frames: [RGBFrame]
        /// Bits per pixel of the HEVC elementary stream (parameter sets included, no container).
        public var bitsPerPixel: Double
        /// The CRF the search settled on.
        public var crf: Double
        public var outcome: Outcome
        public var reachedTarget: Bool { outcome == .reached }
    }

    /// Relative tolerance on the bit rate.
    public static let tolerance = 0.05
    /// x265's CRF range (8-bit).
    public static let crfRange = 0.0...51.0

    /// Bits per pixel fall as CRF rises: bisects CRF for `target`, calling `bitsPerPixel(crf)` at most 16 times,
    /// and returns the encode closest to it. The bounds are tried first, so a target outside x265's range costs
    /// two encodes and is reported as such.
    public static func searchCRF(target: Double, bitsPerPixel: (Double) throws -> Double) rethrows -> (crf: Double, bpp: Double, outcome: Outcome) {
        func within(_ b: Double) -> Bool { abs(b - target) <= tolerance * target }
        let top = try bitsPerPixel(crfRange.upperBound)
        if within(top) { return (crfRange.upperBound, top, .reached) }
        if top > target { return (crfRange.upperBound, top, .lowestRateAboveTarget) }
        let bottom = try bitsPerPixel(crfRange.lowerBound)
        if within(bottom) { return (crfRange.lowerBound, bottom, .reached) }
        if bottom < target { return (crfRange.lowerBound, bottom, .highestRateBelowTarget) }
        var lo = crfRange.lowerBound, hi = crfRange.upperBound
        var best = abs(top - target) < abs(bottom - target) ? (crf: hi, bpp: top) : (crf: lo, bpp: bottom)
        for _ in 0..<14 {
            let mid = (lo + hi) / 2
            let b = try bitsPerPixel(mid)
            if abs(b - target) < abs(best.bpp - target) { best = (mid, b) }
            if within(b) { return (mid, b, .reached) }
            if b > target { lo = mid } else { hi = mid }
        }
        return (best.crf, best.bpp, .closest)
    }

    /// Encodes `frames` at about `target` bits per pixel. The work happens in a folder of its own under
    /// `workFolder` (the system's temporary folder by default), removed on return, thrown errors included.
    public static func encode(_ frames: [RGBFrame], bitsPerPixel target: Double, fps: FrameRate,
                              workFolder: String = NSTemporaryDirectory()) throws -> Result {
        let w = frames[0].width, h = frames[0].height
        let dir = (workFolder as NSString).appendingPathComponent("hv-hevc-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let raw = dir + "/in.rgb", back = dir + "/out.rgb"
        var data = Data(capacity: frames.count * w * h * 3)
        for f in frames { data.append(contentsOf: f.pixels) }
        try data.write(to: URL(fileURLWithPath: raw))
        let pixels = Double(frames.count * w * h)

        // Each CRF's stream is kept under its own name, so the chosen one is decoded without encoding it again.
        func stream(_ crf: Double) -> String { dir + "/crf" + String(format: "%.3f", crf) + ".hevc" }
        let found = try searchCRF(target: target) { crf in
            try run(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "\(w)x\(h)", "-r", fps.description, "-i", raw,
                     "-c:v", "libx265", "-x265-params", "log-level=error:info=0:crf=\(String(format: "%.3f", crf))",
                     "-pix_fmt", "yuv420p", "-f", "hevc", stream(crf)], cwd: dir)
            let size = (try FileManager.default.attributesOfItem(atPath: stream(crf))[.size] as? Int) ?? 0
            return Double(size * 8) / pixels
        }
        try run(["-v", "error", "-y", "-i", stream(found.crf), "-f", "rawvideo", "-pix_fmt", "rgb24", back], cwd: dir)
        let decoded = try Data(contentsOf: URL(fileURLWithPath: back))
        let n = min(frames.count, decoded.count / (w * h * 3))
        let out = (0..<n).map { i in RGBFrame(width: w, height: h, pixels: [UInt8](decoded[(i * w * h * 3)..<((i + 1) * w * h * 3)])) }
        return Result(frames: out, bitsPerPixel: found.bpp, crf: found.crf, outcome: found.outcome)
    }

    static func run(_ args: [String], cwd: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ffmpeg"] + args
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        p.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        p.standardError = err
        try p.run()
        // ffmpeg's own words become the one line of the error, not lines of their own on the tool's stderr.
        let said = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let last = said.split(whereSeparator: \.isNewline).last.map { ": " + $0 } ?? " (is ffmpeg with libx265 installed?)"
            throw MediaError.encodeFailed(name: "the HEVC reference", reason: "ffmpeg/libx265 failed" + last)
        }
    }
}

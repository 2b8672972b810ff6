// Frame-by-frame comparison of two videos: per-frame PSNR/SSIM/MS-SSIM scored on all cores (one
// SSIMWorkspace per worker, frames dealt out round-robin), accumulated into a clip report with the mean
// of per-frame PSNR and the whole-clip PSNR (from the MSE pooled over every frame), plus the CSV rendering.
import Dispatch
import Foundation
import HVMedia

public struct FrameScores: Codable, Equatable, Sendable {
    public var frame: Int
    public var mse: Double
    public var psnr: Double
    public var ssim: Double
    public var msssim: Double?

    public init(frame: Int, _ s: PairScores) {
        self.frame = frame; mse = s.mse; psnr = s.psnr; ssim = s.ssim; msssim = s.msssim
    }

    // nil MS-SSIM is written as JSON null, not left out.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(frame, forKey: .frame); try c.encode(mse, forKey: .mse); try c.encode(psnr, forKey: .psnr)
        try c.encode(ssim, forKey: .ssim); try c.encode(msssim, forKey: .msssim)
    }
}

public struct ComparisonReport: Codable, Sendable {
    public var frames: Int
    public var width: Int
    public var height: Int
    /// SSIM and MS-SSIM on BT.601 luma instead of RGB.
    public var luma: Bool
    /// Mean of per-frame PSNR, each capped at `psnrCap`.
    public var psnr: Double
    /// PSNR of the MSE pooled over the whole clip (capped likewise).
    public var psnrWholeClip: Double
    public var psnrCap: Double
    public var mse: Double
    public var ssim: Double
    /// nil when the frames are too small for five scales.
    public var msssim: Double?
    public var perFrame: [FrameScores]

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(frames, forKey: .frames); try c.encode(width, forKey: .width); try c.encode(height, forKey: .height)
        try c.encode(luma, forKey: .luma); try c.encode(psnr, forKey: .psnr); try c.encode(psnrWholeClip, forKey: .psnrWholeClip)
        try c.encode(psnrCap, forKey: .psnrCap); try c.encode(mse, forKey: .mse); try c.encode(ssim, forKey: .ssim)
        try c.encode(msssim, forKey: .msssim); try c.encode(perFrame, forKey: .perFrame)
    }
}

/// Scores batches of frame pairs of one size on every core, reusing its workspaces.
public final class FrameScorer {
    public let width: Int
    public let height: Int
    public let luma: Bool
    public let workers: Int
    private let workspaces: [SSIMWorkspace]

    /// `workers` defaults to the number of active cores.
    public init(width: Int, height: Int, luma: Bool, workers: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
        guard ImageQuality.supportsSSIM(width: width, height: height) else {
            throw MetricsError.frameTooSmall(width: width, height: height)
        }
        self.width = width; self.height = height; self.luma = luma
        self.workers = max(1, workers)
        workspaces = (0..<self.workers).map { _ in SSIMWorkspace(width: width, height: height) }
    }

    /// Scores `ref[i]` against `dist[i]`, numbering frames from `firstIndex`; throws unless every frame has
    /// this scorer's size (extra frames in the longer array are ignored; `VideoComparison.check` refuses them).
    public func score(_ ref: [RGBFrame], _ dist: [RGBFrame], firstIndex: Int = 0) throws -> [FrameScores] {
        let n = min(ref.count, dist.count)
        // Checked here, before the workers start, so that they cannot fail.
        for i in 0..<n {
            guard ref[i].width == width, ref[i].height == height else {
                throw MetricsError.sizeMismatch(ref: "the scorer", refWidth: width, refHeight: height,
                                                dist: "reference frame \(firstIndex + i)", distWidth: ref[i].width, distHeight: ref[i].height)
            }
            try ImageQuality.check(ref[i], dist[i], workspace: workspaces[0])
        }
        var out = [PairScores](repeating: PairScores(mse: 0, psnr: 0, ssim: 0, msssim: nil), count: n)
        let lanes = min(workers, n)
        out.withUnsafeMutableBufferPointer { o in
            let base = o.baseAddress!
            // Lane k scores frames k, k + lanes, ... with its own workspace; lanes write disjoint slots.
            func lane(_ k: Int) {
                var i = k
                while i < n {
                    base[i] = ImageQuality.scoresUnchecked(ref[i], dist[i], luma: luma, msssim: true, workspace: workspaces[k])
                    i += lanes
                }
            }
            if lanes <= 1 { if n > 0 { lane(0) } } else { DispatchQueue.concurrentPerform(iterations: lanes) { lane($0) } }
        }
        return out.enumerated().map { FrameScores(frame: firstIndex + $0.offset, $0.element) }
    }
}

/// Running sums over a clip's per-frame scores.
public struct ClipAccumulator {
    public private(set) var perFrame: [FrameScores] = []
    public let width: Int, height: Int, luma: Bool

    public init(width: Int, height: Int, luma: Bool) { self.width = width; self.height = height; self.luma = luma }

    public mutating func add(_ scores: [FrameScores]) { perFrame += scores }

    public var report: ComparisonReport {
        let n = Double(max(perFrame.count, 1))
        let mse = perFrame.reduce(0) { $0 + $1.mse } / n
        let ms = perFrame.compactMap { $0.msssim }
        return ComparisonReport(frames: perFrame.count, width: width, height: height, luma: luma,
                                psnr: perFrame.reduce(0) { $0 + $1.psnr } / n,
                                psnrWholeClip: ImageQuality.psnr(mse: mse), psnrCap: ImageQuality.psnrCap, mse: mse,
                                ssim: perFrame.reduce(0) { $0 + $1.ssim } / n,
                                msssim: ms.count == perFrame.count && !ms.isEmpty ? ms.reduce(0, +) / n : nil,
                                perFrame: perFrame)
    }
}

public enum VideoComparison {
    /// Throws unless both frame lists are non-empty, equally long and of one size.
    public static func check(_ ref: [RGBFrame], _ dist: [RGBFrame], names: (ref: String, dist: String)) throws {
        guard let r0 = ref.first else { throw MetricsError.noFrames(name: names.ref) }
        guard let d0 = dist.first else { throw MetricsError.noFrames(name: names.dist) }
        // Every frame of one stream has its stream's size (the readers guarantee it), so the first frames decide.
        guard d0.width == r0.width, d0.height == r0.height else {
            throw MetricsError.sizeMismatch(ref: names.ref, refWidth: r0.width, refHeight: r0.height,
                                            dist: names.dist, distWidth: d0.width, distHeight: d0.height)
        }
        guard ref.count == dist.count else {
            throw MetricsError.frameCountMismatch(ref: names.ref, refFrames: ref.count, dist: names.dist, distFrames: dist.count)
        }
    }

    /// Compares two whole clips held in memory on every core.
    public static func compare(_ ref: [RGBFrame], _ dist: [RGBFrame], luma: Bool,
                               names: (ref: String, dist: String) = ("reference", "distorted")) throws -> ComparisonReport {
        try check(ref, dist, names: names)
        let scorer = try FrameScorer(width: ref[0].width, height: ref[0].height, luma: luma)
        var acc = ClipAccumulator(width: ref[0].width, height: ref[0].height, luma: luma)
        acc.add(try scorer.score(ref, dist))
        return acc.report
    }

    /// One row per frame: frame,mse,psnr,ssim,msssim (msssim empty when not defined).
    public static func csv(_ r: ComparisonReport) -> String {
        var s = "frame,mse,psnr,ssim,msssim\n"
        for f in r.perFrame {
            s += "\(f.frame),\(fmt(f.mse, 4)),\(fmt(f.psnr, 4)),\(fmt(f.ssim, 6)),\(f.msssim.map { fmt($0, 6) } ?? "")\n"
        }
        return s
    }

    static func fmt(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }
}

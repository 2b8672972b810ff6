// hv-metrics: the report a tokenizer researcher wants — PSNR, SSIM and MS-SSIM between two videos (streamed,
// scored on every core), bits per pixel of an .hvt three ways with codebook usage (--tokens, TokenReport.swift),
// and the HEVC comparison at a matched bit rate (--vs-hevc). Definitions: HVMetrics/ImageQuality.swift.
import ArgumentParser
import Foundation
import HVCLI
import HVMedia
import HVMetrics

struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv-metrics",
        abstract: "Measure reconstruction quality (PSNR, SSIM, MS-SSIM) and token bit rates.",
        discussion: """
        hv-metrics REF DIST              compare two videos (y4m files or pipes, or any file libavformat reads)
        hv-metrics --tokens a.hvt [REF]  bits per pixel, token counts, codebook usage; with REF, render the
                                         tokens with the model and add the reconstruction metrics
        hv-metrics --vs-hevc --tokens a.hvt REF  also encode REF with libx265 at the .hvt's bit rate

        PSNR is computed per frame on 8-bit RGB (MSE over all three channels, peak 255) and averaged over
        frames; identical frames count as 100 dB. "PSNR clip" pools the MSE over every frame first.
        SSIM is Wang et al. 2004 as scikit-image computes it with gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, data_range=255: 11-tap Gaussian window, K1 0.01, K2 0.03, mean over the
        region 5 pixels in from the borders, RGB channels averaged (or BT.601 luma with --luma).
        MS-SSIM is Wang et al. 2003 as pytorch_msssim: 5 scales (weights 0.0448, 0.2856, 0.3001, 0.2363,
        0.1333), 2x2 average pooling; frames with a short side below 176 get none (null in JSON).
        Both inputs must have the same size, frame rate and frame count, and frames at most 4096x4096 pixels
        (exit 65 otherwise). Scoring holds at most about 1 GiB on any number of cores (fewer workers and
        shorter batches for large frames); --tokens holds one clip at a time (plus the rendered frames with
        REF). y4m inputs are used as they are; other files are decoded like hv-decode to --size and --fps, which default to the other
        input's when that one is y4m.
        """)

    @Argument(help: "Reference video, then the distorted video ('-' reads y4m from stdin).")
    var videos: [String] = []

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(name: .customLong("per-frame"), help: "Write per-frame scores to this CSV file.")
    var perFrame: String?

    @Option(help: "Write a plot of per-frame PSNR, SSIM and MS-SSIM to this SVG file.")
    var plot: String?

    @Flag(help: "Compute SSIM and MS-SSIM on BT.601 luma instead of RGB.")
    var luma = false

    @Option(help: "Compare only the first N frames of each input.")
    var frames: Int?

    @Option(help: "Square frame size for inputs that are not y4m (default: the y4m input's size, else 256).")
    var size: Int?

    @Option(help: "Frame rate for inputs that are not y4m (default: the y4m input's rate, else 8).")
    var fps: Int?

    // Token reports (TokenReport.swift).
    @Option(help: "An .hvt file to report bits per pixel and codebook usage for.")
    var tokens: String?

    @Flag(help: "Compare the reference with HEVC (libx265) at the bit rate of --tokens.")
    var vsHevc = false

    /// The tokenizer that renders --tokens.
    @OptionGroup var model: TokenizerModelOption

    func validate() throws {
        if tokens == nil {
            if vsHevc { throw ValidationError("--vs-hevc needs --tokens FILE and a reference video.") }
            if videos.count != 2 { throw ValidationError("Give a reference and a distorted video (or --tokens FILE).") }
            if videos[0] == "-" && videos[1] == "-" { throw ValidationError("Only one input can be stdin ('-').") }
        } else {
            if videos.count > 1 { throw ValidationError("With --tokens give at most one reference video.") }
            if vsHevc && videos.count != 1 { throw ValidationError("--vs-hevc needs a reference video.") }
        }
        if let p = plot, !p.lowercased().hasSuffix(".svg") { throw ValidationError("--plot must name an .svg file.") }
        if let n = frames, n < 1 { throw ValidationError("--frames must be at least 1.") }
        if let s = size, !(16...8192).contains(s) || s % 2 != 0 { throw ValidationError("--size must be an even number from 16 to 8192.") }
        if let f = fps, !(1...1000).contains(f) { throw ValidationError("--fps must be from 1 to 1000.") }
    }

    func run() throws {
        if let tokens { return try runTokens(tokens) }
        let (ref, dist) = try openPair(videos[0], videos[1])
        try report(compare(ref, dist), reference: ref.name, distorted: dist.name)
    }

    /// Largest frame scored: 4096 × 4096.
    static let maxFramePixels = 4096 * 4096
    /// What scoring may hold (workspaces and a batch of frame pairs), on any number of cores.
    static let scoringBudget = 1 << 30

    /// Opens both inputs, y4m ones first so that decoded ones can follow their size and rate.
    func openPair(_ a: String, _ b: String) throws -> (VideoInput, VideoInput) {
        let y4m = [try VideoInput.isY4M(a), try VideoInput.isY4M(b)]
        var opened: [VideoInput?] = [nil, nil]
        for (i, p) in [a, b].enumerated() where y4m[i] { opened[i] = try VideoInput(y4m: p) }
        let partner = opened.compactMap { $0 }.first
        let s = size ?? partner.map { $0.width == $0.height ? $0.width : 256 } ?? 256
        let r = fps.map { FrameRate($0) } ?? partner?.frameRate ?? FrameRate(8)
        for (i, p) in [a, b].enumerated() where !y4m[i] { opened[i] = try VideoInput(decoding: p, size: s, fps: r) }
        return (opened[0]!, opened[1]!)
    }

    /// Streams both inputs in batches of a few frames per core, scoring each batch in parallel.
    func compare(_ ref: VideoInput, _ dist: VideoInput) throws -> ComparisonReport {
        guard ref.width == dist.width, ref.height == dist.height else {
            throw MetricsError.sizeMismatch(ref: ref.name, refWidth: ref.width, refHeight: ref.height,
                                            dist: dist.name, distWidth: dist.width, distHeight: dist.height)
        }
        // Scoring holds ~36 bytes a pixel (float planes, SSIM and MS-SSIM scratch per worker): bound it.
        guard ref.width * ref.height <= MetricsCommand.maxFramePixels else {
            throw MetricsError.frameTooLarge(width: ref.width, height: ref.height, limit: MetricsCommand.maxFramePixels)
        }
        if let a = ref.frameRate, let b = dist.frameRate, a.numerator * b.denominator != b.numerator * a.denominator {
            throw MetricsError.frameRateMismatch(ref: ref.name, refRate: "\(a)", dist: dist.name, distRate: "\(b)")
        }
        // Scoring memory is bounded whatever the core count: each worker's SSIM workspace takes ~36 bytes a pixel
        // and each frame pair of a batch 6, so large frames get fewer workers and shorter batches.
        let pixels = ref.width * ref.height
        let half = MetricsCommand.scoringBudget / 2
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let workers = max(1, min(cores, half / (36 * pixels)))
        let scorer = try FrameScorer(width: ref.width, height: ref.height, luma: luma, workers: workers)
        var acc = ClipAccumulator(width: ref.width, height: ref.height, luma: luma)
        let batch = max(workers, min(4 * workers, half / (6 * pixels)))
        let limit = frames ?? Int.max
        let progress = Progress("hv-metrics")
        var done = 0
        while done < limit {
            var a: [RGBFrame] = [], b: [RGBFrame] = []
            while a.count < batch && done + a.count < limit {
                let fa = try ref.next(), fb = try dist.next()
                if fa == nil || fb == nil {
                    if fa == nil && fb == nil { break }
                    // One input ended first: count the other to say by how much.
                    let nr = fa == nil ? ref.framesRead : try ref.countRemaining()
                    let nd = fb == nil ? dist.framesRead : try dist.countRemaining()
                    throw MetricsError.frameCountMismatch(ref: ref.name, refFrames: nr, dist: dist.name, distFrames: nd)
                }
                a.append(fa!); b.append(fb!)
            }
            if a.isEmpty { break }
            acc.add(try scorer.score(a, b, firstIndex: done))
            done += a.count
            progress.update("\(done) frames")
        }
        progress.finish("\(done) frames")
        guard done > 0 else { throw MetricsError.noFrames(name: ref.framesRead == 0 ? ref.name : dist.name) }
        return acc.report
    }

    func report(_ r: ComparisonReport, reference: String, distorted: String, extra: [(String, String)] = [],
                extraJSON: [String: Any] = [:]) throws {
        if let perFrame {
            let out = try OutputFile(perFrame, what: "CSV")
            try out.write(Data(VideoComparison.csv(r).utf8))
            try out.commit()
        }
        if let plot {
            let out = try OutputFile(plot, what: "SVG")
            try out.write(Data(MetricsPlot.svg(r, title: "\(distorted) vs \(reference)").utf8))
            try out.commit()
        }
        if json {
            var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as! [String: Any]
            object["reference"] = reference
            object["distorted"] = distorted
            for (k, v) in extraJSON { object[k] = v }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        let space = r.luma ? "luma (BT.601)" : "RGB, channels averaged"
        var rows: [(String, String, String)] = [
            ("reference", reference, ""),
            ("distorted", distorted, ""),
            ("frames", "\(r.frames)", "\(r.width)x\(r.height)"),
            ("PSNR", String(format: "%.3f dB", r.psnr), "mean of per-frame PSNR on RGB; identical frames count as \(Int(r.psnrCap)) dB"),
            ("PSNR clip", String(format: "%.3f dB", r.psnrWholeClip), "from the MSE over all frames (\(String(format: "%.3f", r.mse)))"),
            ("SSIM", String(format: "%.5f", r.ssim), space),
            ("MS-SSIM", r.msssim.map { String(format: "%.5f", $0) } ?? "n/a",
             r.msssim == nil ? "needs frames of at least 176 pixels on the short side" : space),
        ]
        rows += extra.map { ($0.0, $0.1, "") }
        let w0 = rows.map { $0.0.count }.max() ?? 0, w1 = rows.filter { !$0.2.isEmpty }.map { $0.1.count }.max() ?? 0
        for (k, v, note) in rows {
            let line = k.padding(toLength: w0, withPad: " ", startingAt: 0) + "  "
                + (note.isEmpty ? v : v.padding(toLength: max(w1, v.count), withPad: " ", startingAt: 0) + "  " + note)
            print(line)
        }
    }
}

// hv-metrics: the report a tokenizer researcher wants — PSNR, SSIM, MS-SSIM between two videos, bits per
// pixel of an .hvt three ways, codebook usage, and the HEVC comparison at a matched bit rate.
import ArgumentParser
import Foundation
import HVCLI
import HVFormat
import HVMedia
import HVMetrics
import HVTokenizer

struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv-metrics",
        abstract: "Measure reconstruction quality (PSNR, SSIM, MS-SSIM) and token bit rates.",
        discussion: """
        hv-metrics REF DIST            compare two videos (y4m, or any file libavformat reads)
        hv-metrics --tokens a.hvt [REF] bits per pixel, token counts, codebook usage; with REF, render the
                                        tokens with the model and add the reconstruction metrics
        hv-metrics --vs-hevc REF --tokens a.hvt  encode REF with libx265 at the .hvt's bit rate and compare both
        PSNR is computed per frame on 8-bit RGB and averaged (identical frames count as 100 dB); the whole-clip
        PSNR pools the MSE first. SSIM is Wang et al. 2004 with an 11-tap Gaussian window (σ 1.5), RGB channels
        averaged (or luma with --luma).
        """)

    @Argument(help: "Reference video, then the distorted video.")
    var videos: [String] = []

    @Option(help: "An .hvt file to report bit rates and codebook usage for.")
    var tokens: String?

    @Flag(help: "Compare the reference with HEVC (libx265) at the bit rate of --tokens.")
    var vsHevc = false

    @Option(help: "Tokenizer checkpoint for rendering --tokens (default: the shipped model).")
    var model: String?

    @Flag(help: "Compute SSIM and MS-SSIM on BT.601 luma instead of RGB.")
    var luma = false

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(help: "Write per-frame scores to this CSV file.")
    var perFrame: String?

    @Option(help: "Write a per-frame plot to this SVG file.")
    var plot: String?

    @Option(help: "Frame size for inputs that are not y4m (decoded like hv-decode).")
    var size: Int = 256

    @Option(help: "Frame rate for inputs that are not y4m.")
    var fps: Int = 8

    func validate() throws {
        if tokens == nil && !vsHevc && videos.count != 2 { throw ValidationError("Give REF and DIST, or --tokens FILE.") }
        if tokens != nil && videos.count > 1 { throw ValidationError("With --tokens give at most one reference video.") }
        if vsHevc && (tokens == nil || videos.count != 1) { throw ValidationError("--vs-hevc needs a reference video and --tokens.") }
        if let p = plot, !p.hasSuffix(".svg") { throw ValidationError("--plot must name an .svg file.") }
    }

    func run() throws {
        if let tokens {
            try runTokens(tokens)
            return
        }
        let ref = try readVideo(videos[0]), dist = try readVideo(videos[1])
        try report(compare(ref, dist, names: (videos[0], videos[1])), title: "\(videos[1]) vs \(videos[0])")
    }

    func readVideo(_ path: String, limit: Int? = nil) throws -> [RGBFrame] {
        var frames: [RGBFrame] = []
        let isY4M: Bool
        if path == "-" { isY4M = true } else {
            let f = try InputFile(path)
            var magic = [UInt8](repeating: 0, count: 9)
            isY4M = (try? f.read(into: &magic, count: 9)) == 9 && magic == Array("YUV4MPEG2".utf8)
        }
        if isY4M {
            let f = try InputFile(path)
            let r = try Y4MReader(fileDescriptor: f.descriptor, name: f.displayName)
            while let fr = try r.nextFrame() { frames.append(fr); if let limit, frames.count >= limit { break } }
        } else {
            var o = DecodeOptions()
            o.fps = FrameRate(fps); o.size = size; o.maxFrames = limit
            let d = try VideoDecoder(path: path, options: o)
            while let fr = try d.nextFrame() { frames.append(fr) }
        }
        guard !frames.isEmpty else { throw MediaError.decodeFailed(name: path, reason: "no frames") }
        return frames
    }

    func compare(_ ref: [RGBFrame], _ dist: [RGBFrame], names: (String, String)) throws -> ComparisonReport {
        guard ref[0].width == dist[0].width, ref[0].height == dist[0].height else {
            throw MediaError.decodeFailed(name: names.1, reason: "frames are \(dist[0].width)x\(dist[0].height), the reference's \(ref[0].width)x\(ref[0].height) (hint: hv-decode --size)")
        }
        guard ref.count == dist.count else {
            throw MediaError.decodeFailed(name: names.1, reason: "\(dist.count) frames, the reference has \(ref.count)")
        }
        return VideoComparison.compare(ref, dist, luma: luma)
    }

    func report(_ r: ComparisonReport, title: String, extra: [(String, String)] = []) throws {
        if let perFrame {
            let p = AtomicPath(perFrame)
            try VideoComparison.csv(r).write(toFile: p.temporary, atomically: false, encoding: .utf8)
            try p.commit()
        }
        if let plot {
            let p = AtomicPath(plot)
            try VideoComparison.svg(r, title: title).write(toFile: p.temporary, atomically: false, encoding: .utf8)
            try p.commit()
        }
        if json {
            var summary = r
            if perFrame == nil { summary.perFrame = [] }
            let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(summary), as: UTF8.self))
            return
        }
        let rows: [(String, String)] = [
            ("frames", "\(r.frames) (\(r.width)x\(r.height))"),
            ("PSNR (mean of frames)", String(format: "%.3f dB", r.psnr)),
            ("PSNR (whole clip)", String(format: "%.3f dB", r.psnrWholeClip)),
            ("SSIM\(r.luma ? " (luma)" : "")", String(format: "%.4f", r.ssim)),
            ("MS-SSIM\(r.luma ? " (luma)" : "")", String(format: "%.4f", r.msssim)),
        ] + extra
        let w = rows.map { $0.0.count }.max() ?? 0
        for (k, v) in rows { print(k.padding(toLength: w, withPad: " ", startingAt: 0) + "  " + v) }
    }

    func runTokens(_ path: String) throws {
        let inFile = try InputFile(path)
        let reader = try HVTReader(fileDescriptor: inFile.descriptor, name: inFile.displayName)
        let h = reader.header!
        var clips: [HVTClip] = []
        var frames = 0
        var rawBits = 0, storedBits = 0
        var tokensPerLayer = [Int](repeating: 0, count: h.layers.count)
        var counts = [[UInt32: Int]](repeating: [:], count: h.layers.count)
        while let c = try reader.nextClip() {
            clips.append(c); frames += c.frameCount
            for (m, info) in h.layers.enumerated() {
                guard let idx = c.layers[m] else { continue }
                let mask = c.masks[m]
                for (i, v) in idx.enumerated() where mask?[i] != true { counts[m][v, default: 0] += 1 }
                let masked = mask?.filter { $0 }.count ?? 0
                tokensPerLayer[m] += idx.count
                rawBits += idx.count * info.bits
                storedBits += (idx.count - masked) * info.bits
            }
        }
        let fileBytes = reader.offset
        let pixels = Double(frames * h.width * h.height)
        var extra: [(String, String)] = [
            ("tokenizer", h.tokenizerDescription),
            ("clips / frames", "\(clips.count) / \(frames)"),
            ("bpp raw tokens", String(format: "%.5f", Double(rawBits) / pixels)),
            ("bpp stored (after masking)", String(format: "%.5f", Double(storedBits) / pixels)),
            ("bpp file (.hvt bytes)", String(format: "%.5f", Double(fileBytes * 8) / pixels)),
        ]
        for (m, info) in h.layers.enumerated() where info.present {
            let n = counts[m].values.reduce(0, +)
            let entropy = counts[m].values.reduce(0.0) { let p = Double($1) / Double(max(n, 1)); return $0 - p * log(p) }
            extra.append(("\(info.name) tokens / distinct / perplexity",
                          String(format: "%d / %d / %.1f (of 2^%d)", tokensPerLayer[m], counts[m].count, exp(entropy), info.bits)))
        }
        guard let refPath = videos.first else {
            if json {
                print("{" + extra.map { "\"\($0.0)\": \"\($0.1)\"" }.joined(separator: ", ") + "}")
            } else {
                let w = extra.map { $0.0.count }.max() ?? 0
                for (k, v) in extra { print(k.padding(toLength: w, withPad: " ", startingAt: 0) + "  " + v) }
            }
            return
        }
        let tokenizer = try TokenizerCheckpoint.load(from: TokenizerCheckpoint.resolve(model))
        try tokenizer.requireCompatible(h)
        var rendered: [RGBFrame] = []
        for c in clips { rendered += tokenizer.decodeClip(c, use: Set(h.presentLayers), strategy: h.maskStrategy) }
        let ref = try readVideo(refPath, limit: rendered.count)
        let r = try compare(ref, rendered, names: (refPath, path))
        if vsHevc {
            let hevc = try HEVCReference.encode(ref, bitsPerPixel: Double(fileBytes * 8) / pixels, fps: h.fpsNumerator)
            let rh = VideoComparison.compare(ref, hevc.frames, luma: luma)
            extra += [("HEVC bpp (actual)", String(format: "%.5f", hevc.bitsPerPixel)),
                      ("HEVC PSNR / SSIM / MS-SSIM", String(format: "%.3f dB / %.4f / %.4f", rh.psnr, rh.ssim, rh.msssim))]
        }
        try report(r, title: "\(path) vs \(refPath)", extra: extra)
    }
}

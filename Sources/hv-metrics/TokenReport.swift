// hv-metrics --tokens a.hvt [REF] [--vs-hevc]: bits per pixel three ways (raw token bits, bits stored after
// masking, actual file bits), per-layer token counts and codebook usage (distinct codes, perplexity); with
// REF, the tokens rendered by the model and scored against it; with --vs-hevc, libx265 at the .hvt's bit rate.
import Foundation
import HVCLI
import HVFormat
import HVMedia
import HVMetrics
import HVTokenizer

extension MetricsCommand {
    func runTokens(_ path: String) throws {
        let inFile = try InputFile(path)
        let reader = try HVTReader(fileDescriptor: inFile.descriptor, name: inFile.displayName)
        let h = reader.header!
        // With a reference the tokens are rendered, so the model is loaded and checked against the header before
        // any clip is read: a clip is then the model's size, not whatever a header allows. Clips are rendered as
        // they arrive and never kept, so memory is one clip plus the rendered frames, not the whole file.
        var tokenizer: HierarchicalTokenizer? = nil
        if !videos.isEmpty {
            let t = try TokenizerCheckpoint.load(from: TokenizerCheckpoint.resolve(model.path))
            try t.requireCompatible(h)
            tokenizer = t
        }
        var rendered: [RGBFrame] = []
        var clipCount = 0, frameCount = 0
        var rawBits = 0, storedBits = 0
        var tokensPerLayer = [Int](repeating: 0, count: h.layers.count)
        // One histogram of 2^bits counts per present layer: at most 16 × 2^20 × 8 bytes (128 MiB), whatever the file's length.
        var counts = h.layers.map { $0.present ? [Int](repeating: 0, count: 1 << $0.bits) : [] }
        while let c = try reader.nextClip() {
            clipCount += 1; frameCount += c.frameCount
            for (m, info) in h.layers.enumerated() {
                guard let idx = c.layers[m] else { continue }
                var masked = 0
                counts[m].withUnsafeMutableBufferPointer { hist in
                    if let mask = c.masks[m] {
                        for (i, v) in idx.enumerated() { if mask[i] { masked += 1 } else { hist[Int(v)] += 1 } }
                    } else {
                        for v in idx { hist[Int(v)] += 1 }
                    }
                }
                tokensPerLayer[m] += idx.count
                rawBits += idx.count * info.bits
                storedBits += (idx.count - masked) * info.bits
            }
            if let tokenizer { rendered += tokenizer.decodeClip(c, use: Set(h.presentLayers), strategy: h.maskStrategy) }
        }
        let fileBytes = reader.offset
        let pixels = Double(max(1, frameCount * h.width * h.height))
        let bpp = (raw: Double(rawBits) / pixels, stored: Double(storedBits) / pixels, file: Double(fileBytes * 8) / pixels)
        var extra: [(String, String)] = [
            ("tokenizer", h.tokenizer.description),
            ("clips / frames", "\(clipCount) / \(frameCount)"),
            ("bpp raw tokens", String(format: "%.5f", bpp.raw)),
            ("bpp stored (after masking)", String(format: "%.5f", bpp.stored)),
            ("bpp file (.hvt bytes)", String(format: "%.5f", bpp.file)),
        ]
        var layersJSON: [[String: Any]] = []
        for (m, info) in h.layers.enumerated() where info.present {
            let n = counts[m].reduce(0, +)
            let used = counts[m].filter { $0 > 0 }
            let entropy = used.reduce(0.0) { let p = Double($1) / Double(max(n, 1)); return $0 - p * log(p) }
            extra.append(("\(info.name) tokens / distinct / perplexity",
                          String(format: "%d / %d / %.1f (of 2^%d)", tokensPerLayer[m], used.count, exp(entropy), info.bits)))
            layersJSON.append(["name": info.name, "tokens": tokensPerLayer[m], "distinct": used.count,
                               "perplexity": exp(entropy), "bits": info.bits])
        }
        var extraJSON: [String: Any] = [
            "tokenizer": h.tokenizer.description, "clips": clipCount, "tokenFrames": frameCount,
            "bppRawTokens": bpp.raw, "bppStored": bpp.stored, "bppFile": bpp.file, "layers": layersJSON,
        ]
        guard let refPath = videos.first, tokenizer != nil else {
            if json {
                let data = try JSONSerialization.data(withJSONObject: extraJSON, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                let w = extra.map { $0.0.count }.max() ?? 0
                for (k, v) in extra { print(k.padding(toLength: w, withPad: " ", startingAt: 0) + "  " + v) }
            }
            return
        }
        // The reference as the tokenizer saw it: y4m as is, anything else decoded at the .hvt's size and rate.
        let input = try VideoInput.isY4M(refPath) ? VideoInput(y4m: refPath)
            : VideoInput(decoding: refPath, size: h.width, fps: FrameRate(h.fpsNumerator, max(1, h.fpsDenominator)))
        var ref: [RGBFrame] = []
        while ref.count < rendered.count, let f = try input.next() { ref.append(f) }
        let r = try VideoComparison.compare(ref, rendered, luma: luma, names: (input.name, path))
        if vsHevc {
            let hevc = try HEVCReference.encode(ref, bitsPerPixel: bpp.file, fps: FrameRate(h.fpsNumerator, max(1, h.fpsDenominator)))
            let rh = try VideoComparison.compare(ref, hevc.frames, luma: luma, names: (input.name, "HEVC"))
            let note = [HEVCReference.Outcome.reached: "", .lowestRateAboveTarget: "; x265's lowest rate, above the target",
                        .highestRateBelowTarget: "; x265's highest rate, below the target", .closest: "; the closest rate found"][hevc.outcome]!
            extra += [("HEVC bpp (stream) vs tokens", String(format: "%.5f vs %.5f (CRF %.2f", hevc.bitsPerPixel, bpp.file, hevc.crf) + note + ")"),
                      ("HEVC PSNR / SSIM / MS-SSIM", String(format: "%.3f dB / %.4f / ", rh.psnr, rh.ssim)
                        + (rh.msssim.map { String(format: "%.4f", $0) } ?? "n/a"))]
            extraJSON["hevc"] = ["bpp": hevc.bitsPerPixel, "targetBpp": bpp.file, "crf": hevc.crf, "reachedTarget": hevc.reachedTarget,
                                 "outcome": hevc.outcome.rawValue,
                                 "psnr": rh.psnr, "psnrWholeClip": rh.psnrWholeClip,
                                 "ssim": rh.ssim, "msssim": rh.msssim as Any? ?? NSNull()]
        }
        try report(r, reference: input.name, distorted: path, extra: extra, extraJSON: extraJSON)
    }
}

// Diagnostics of a tokenizer on one clip (`hv-train diagnose`, formats/tokenizer.md "Diagnosis"): what the
// tokens carry and where quality is lost, each number beside the trivial baselines on the same frames.
//   - PSNR per layer prefix (L3, L3+L2, …), whole frames;
//   - PSNR at the training crop size (the clip cut into crop² tiles, each encoded and decoded alone): a gap to
//     the whole-frame number means the model depends on the input's size (per-frame normalisation statistics);
//   - PSNR with the quantiser bypassed (the decoder fed the normalised continuous activations, hardness 0):
//     what the encoder/decoder could do without the bit budget;
//   - PSNR after shuffling layer 0's codes across positions: codes that carry the picture cost dB when moved;
//   - the fraction of +1 per LFQ bit (0.5 is a balanced bit; 0 or 1 a dead one);
//   - mean colour per channel and the correlation of per-frame motion (mean |ΔY| of consecutive frames), with the
//     box-mean baseline's correlation beside it, and the share of the frame-to-frame change that falls across the
//     densest layer's step boundaries (7/63 for even motion over 64 frames; a render that holds each step and jumps nears 1);
//   - with a mask ratio: the all-layer PSNR after masking layer 0 as `hv-encode --mask-ratio R` does (repeat; the
//     mask chosen from the encoder's codes, a fresh seed-0 choice per clip; refined for the masked render when
//     refining), and the share of layer 0 masked;
//   - baselines: the clip's mean colour, and the smooth box-mean baseline (means over the densest layer's grid
//     cells, 8 frames × 16² pixels for the paper's geometry, interpolated trilinearly back to every pixel).
import Foundation
import HVEngine
import HVFormat

public struct ClipDiagnosis: Codable, Sendable {
    public var name: String
    public var frames: Int
    /// Index k: decoded from the coarsest k+1 layers.
    public var prefixPSNR: [Double]
    public var cropPSNR: Double?
    public var bypassPSNR: Double
    public var shuffledL0PSNR: Double
    /// Per layer (densest first): mean over bits of |p(+1) − 0.5|, and the largest.
    public var bitImbalanceMean: [Double]
    public var bitImbalanceMax: [Double]
    public var clipMeanPSNR: Double
    public var boxMeanPSNR: Double
    /// Mean RGB (0–255) of the source and of the all-layer reconstruction.
    public var sourceColour: [Double]
    public var reconColour: [Double]
    /// Mean |ΔY| per frame pair, source and reconstruction, and their Pearson correlation: nil (absent from JSON)
    /// for a clip whose per-frame motion is constant (a static shot), where a correlation is undefined; 0 for a
    /// render whose motion is constant while the source's varies.
    public var sourceMotion: Double
    public var reconMotion: Double
    public var motionCorrelation: Double?
    /// The same correlation for the smooth box-mean baseline (what a render with no motion detail reaches).
    public var boxMotionCorrelation: Double?
    /// Share of the summed per-frame motion that falls on frame pairs straddling a dense latent step boundary.
    public var sourceStepEdgeShare: Double
    public var reconStepEdgeShare: Double
    /// With refinement: the all-layer PSNR of the encoder's own codes (the prefixes above are of the refined ones).
    public var encoderPSNR: Double? = nil
    /// With a mask ratio: the all-layer PSNR of the masked stream, and the share of layer 0's tokens masked.
    public var maskedPSNR: Double? = nil
    public var maskedShare: Double? = nil
    public var allLayersPSNR: Double { prefixPSNR.last ?? 0 }
}

public enum TokenizerDiagnostics {
    /// Diagnoses one clip [T, H, W, 3] in [-1, 1] (`count` real frames, the rest padding).
    /// `crop` > 0 adds the tiled crop-size PSNR (H and W must be multiples of it).
    public static func diagnose(_ model: HierarchicalTokenizer, clip x: Tensor, count: Int, name: String,
                                crop: Int = 0, seed: UInt64 = 7, refinement: CodeRefinement? = nil,
                                maskRatio: Double? = nil) -> ClipDiagnosis {
        let n = model.config.layers.count
        let T = x.shape[0], H = x.shape[1], W = x.shape[2]
        var idx = model.encode(x)
        var maskedPSNR: Double? = nil, maskedShare: Double? = nil
        if let maskRatio {
            let g = model.grid(ofLayer: 0, frames: T, height: H, width: W)
            var random = MaskRandom(seed: 0)
            let mask = TokenMasking.mask(idx[0], gridT: g.t, plane: g.h * g.w, ratio: maskRatio, strategy: .repeatPrevious,
                                         rng: &random)
            var kept = idx
            if let refinement, refinement.rounds > 0 {
                kept = model.refine(x, indices: idx, count: count, options: refinement,
                                    mask: RefinementMask(masked: mask, strategy: .repeatPrevious)).0
            }
            let masks: [[Bool]?] = [mask] + Array(repeating: nil, count: n - 1)
            maskedPSNR = VideoTensor.psnr(model.decode(indices: kept.map { Optional($0) }, masks: masks,
                                                       strategy: .repeatPrevious, frames: T, height: H, width: W),
                                          x, frames: count)
            maskedShare = Double(mask.filter { $0 }.count) / Double(mask.count)
        }
        var encoderPSNR: Double? = nil
        if let refinement, refinement.rounds > 0 {
            encoderPSNR = VideoTensor.psnr(model.decode(indices: idx.map { Optional($0) }, frames: T, height: H, width: W),
                                           x, frames: count)
            idx = model.refine(x, indices: idx, count: count, options: refinement).0
        }
        var prefix: [Double] = []
        var full = Tensor(shape: [0])
        for k in 0..<n {
            let given: [[UInt32]?] = (0..<n).map { $0 >= n - 1 - k ? idx[$0] : nil }
            let rec = model.decode(indices: given, frames: T, height: H, width: W)
            prefix.append(VideoTensor.psnr(rec, x, frames: count))
            if k == n - 1 { full = rec.clone() }
        }
        var rng = SeededRandom(seed: seed)
        let (soft, _) = model.forward(x, finest: 0, entropyWeight: 0, commitWeight: 0, hardness: 0, rng: &rng)
        let bypass = VideoTensor.psnr(soft, x, frames: count)
        var shuffled = idx
        var l0 = shuffled[0]
        for i in stride(from: l0.count - 1, to: 0, by: -1) { l0.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        shuffled[0] = l0
        let shuf = VideoTensor.psnr(model.decode(indices: shuffled.map { Optional($0) }, frames: T, height: H, width: W),
                                    x, frames: count)
        var imbMean: [Double] = [], imbMax: [Double] = []
        for (m, layer) in idx.enumerated() {
            let bits = model.config.layers[m].bits
            var ones = [Int](repeating: 0, count: bits)
            for v in layer { for b in 0..<bits where (v >> UInt32(b)) & 1 == 1 { ones[b] += 1 } }
            let d = ones.map { abs(Double($0) / Double(max(layer.count, 1)) - 0.5) }
            imbMean.append(d.reduce(0, +) / Double(bits)); imbMax.append(d.max() ?? 0)
        }
        var cropPSNR: Double? = nil
        if crop > 0 && H % crop == 0 && W % crop == 0 && (H > crop || W > crop) {
            var se: Double = 0
            let tile = Tensor(shape: [0])
            for ty in stride(from: 0, to: H, by: crop) {
                for tx in stride(from: 0, to: W, by: crop) {
                    copyTile(x, into: tile, y0: ty, x0: tx, size: crop)
                    let ti = model.encode(tile)
                    let rec = model.decode(indices: ti.map { Optional($0) }, frames: T, height: crop, width: crop)
                    se += squaredError(rec, tile, frames: count)
                }
            }
            cropPSNR = psnr(mse: se / Double(count * H * W * 3))
        }
        let sc = meanColour(x, frames: count), rc = meanColour(full, frames: count)
        let sm = motion(x, frames: count), rm = motion(full, frames: count)
        let clipMean = Tensor(shape: x.shape)
        for i in 0..<(T * H * W) { for c in 0..<3 { clipMean[i * 3 + c] = Float(sc[c] / 127.5 - 1) } }
        let clipGrid = model.grid(ofLayer: 0, frames: T, height: H, width: W)
        let box = smoothBoxMeans(x, cells: Size3(T / clipGrid.t, H / clipGrid.h, W / clipGrid.w))
        let bm = motion(box, frames: count)
        let stepFrames = T / clipGrid.t
        return ClipDiagnosis(name: name, frames: count, prefixPSNR: prefix, cropPSNR: cropPSNR, bypassPSNR: bypass,
                             shuffledL0PSNR: shuf, bitImbalanceMean: imbMean, bitImbalanceMax: imbMax,
                             clipMeanPSNR: VideoTensor.psnr(clipMean, x, frames: count),
                             boxMeanPSNR: VideoTensor.psnr(box, x, frames: count),
                             sourceColour: sc, reconColour: rc, sourceMotion: sm.mean, reconMotion: rm.mean,
                             motionCorrelation: varies(sm.perFrame) ? pearson(sm.perFrame, rm.perFrame) : nil,
                             boxMotionCorrelation: varies(sm.perFrame) ? pearson(sm.perFrame, bm.perFrame) : nil,
                             sourceStepEdgeShare: stepEdgeShare(sm.perFrame, step: stepFrames),
                             reconStepEdgeShare: stepEdgeShare(rm.perFrame, step: stepFrames),
                             encoderPSNR: encoderPSNR, maskedPSNR: maskedPSNR, maskedShare: maskedShare)
    }

    static func copyTile(_ x: Tensor, into t: Tensor, y0: Int, x0: Int, size: Int) {
        let T = x.shape[0], W = x.shape[2]
        t.resize([T, size, size, 3])
        for f in 0..<T {
            for y in 0..<size {
                let src = x.data + ((f * x.shape[1] + y0 + y) * W + x0) * 3
                (t.data + (f * size + y) * size * 3).update(from: src, count: size * 3)
            }
        }
    }

    /// Sum of squared 8-bit errors over the first `frames` frames (a clamped and rounded, as VideoTensor.psnr).
    static func squaredError(_ a: Tensor, _ b: Tensor, frames: Int) -> Double {
        let n = frames * a.shape[1] * a.shape[2] * a.shape[3]
        var se: Double = 0
        for i in 0..<n {
            let va = Double(max(0, min(255, ((a[i] + 1) * 127.5).rounded())))
            let vb = Double(((b[i] + 1) * 127.5).rounded())
            se += (va - vb) * (va - vb)
        }
        return se
    }

    static func psnr(mse: Double) -> Double { mse == 0 ? 100 : 10 * log10(255 * 255 / mse) }

    /// Mean R, G, B on the 0–255 scale over the first `frames` frames.
    public static func meanColour(_ x: Tensor, frames: Int) -> [Double] {
        let n = frames * x.shape[1] * x.shape[2]
        var s = [Double](repeating: 0, count: 3)
        for i in 0..<n { for c in 0..<3 { s[c] += Double(max(-1, min(1, x[i * 3 + c]))) } }
        return s.map { ($0 / Double(max(n, 1)) + 1) * 127.5 }
    }

    /// Mean |ΔY| (BT.601 luma, 0–255) between consecutive frames: per frame pair and overall.
    public static func motion(_ x: Tensor, frames: Int) -> (perFrame: [Double], mean: Double) {
        let plane = x.shape[1] * x.shape[2]
        func luma(_ f: Int, _ p: Int) -> Double {
            let i = (f * plane + p) * 3
            let r = Double(max(-1, min(1, x[i]))), g = Double(max(-1, min(1, x[i + 1]))), b = Double(max(-1, min(1, x[i + 2])))
            return (0.299 * r + 0.587 * g + 0.114 * b + 1) * 127.5
        }
        var out: [Double] = []
        for f in 1..<max(frames, 1) {
            var s: Double = 0
            for p in 0..<plane { s += abs(luma(f, p) - luma(f - 1, p)) }
            out.append(s / Double(plane))
        }
        return (out, out.isEmpty ? 0 : out.reduce(0, +) / Double(out.count))
    }

    /// Share of Σ motion on the pairs (f−1, f) with f a multiple of `step` (entry f−1 of `perFrame`); 0 without motion.
    public static func stepEdgeShare(_ perFrame: [Double], step: Int) -> Double {
        let total = perFrame.reduce(0, +)
        guard total > 0, step > 1 else { return 0 }
        let edges = perFrame.indices.filter { ($0 + 1) % step == 0 }.map { perFrame[$0] }.reduce(0, +)
        return edges / total
    }

    /// Whether a series takes more than one value (a correlation with it is defined).
    public static func varies(_ a: [Double]) -> Bool { a.contains { $0 != a.first } }

    /// Pearson correlation; 0 when either series is constant.
    public static func pearson(_ a: [Double], _ b: [Double]) -> Double {
        let n = min(a.count, b.count)
        guard n > 1 else { return 0 }
        let ma = a.prefix(n).reduce(0, +) / Double(n), mb = b.prefix(n).reduce(0, +) / Double(n)
        var sab: Double = 0, saa: Double = 0, sbb: Double = 0
        for i in 0..<n { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) * (a[i] - ma); sbb += (b[i] - mb) * (b[i] - mb) }
        return saa == 0 || sbb == 0 ? 0 : sab / (saa * sbb).squareRoot()
    }

    /// Means over cells of `cells` (t × h × w) frames/pixels, interpolated back trilinearly (cell centres, edges
    /// clamped): the smooth box-mean baseline at a token grid. x: [T, H, W, 3] with T, H, W multiples of the cell.
    public static func smoothBoxMeans(_ x: Tensor, cells c: Size3) -> Tensor {
        let T = x.shape[0], H = x.shape[1], W = x.shape[2]
        let gt = T / c.t, gh = H / c.h, gw = W / c.w
        var means = [Double](repeating: 0, count: gt * gh * gw * 3)
        for t in 0..<T { for y in 0..<H { for xx in 0..<W {
            let g = ((t / c.t) * gh + y / c.h) * gw + xx / c.w
            for ch in 0..<3 { means[g * 3 + ch] += Double(x[((t * H + y) * W + xx) * 3 + ch]) }
        } } }
        let inv = 1 / Double(c.volume)
        for i in means.indices { means[i] *= inv }
        // Interpolation taps along one axis: position p of n samples over cells of size s (g cells).
        func taps(_ p: Int, _ s: Int, _ g: Int) -> (Int, Int, Double) {
            let u = (Double(p) + 0.5) / Double(s) - 0.5
            let lo = Int(floor(u)), w = u - floor(u)
            return (max(0, min(g - 1, lo)), max(0, min(g - 1, lo + 1)), w)
        }
        let out = Tensor(shape: x.shape)
        for t in 0..<T {
            let (t0, t1, wt) = taps(t, c.t, gt)
            for y in 0..<H {
                let (y0, y1, wy) = taps(y, c.h, gh)
                for xx in 0..<W {
                    let (x0, x1, wx) = taps(xx, c.w, gw)
                    for ch in 0..<3 {
                        func m(_ a: Int, _ b: Int, _ d: Int) -> Double { means[((a * gh + b) * gw + d) * 3 + ch] }
                        let v = (1 - wt) * ((1 - wy) * ((1 - wx) * m(t0, y0, x0) + wx * m(t0, y0, x1))
                                            + wy * ((1 - wx) * m(t0, y1, x0) + wx * m(t0, y1, x1)))
                              + wt * ((1 - wy) * ((1 - wx) * m(t1, y0, x0) + wx * m(t1, y0, x1))
                                      + wy * ((1 - wx) * m(t1, y1, x0) + wx * m(t1, y1, x1)))
                        out[((t * H + y) * W + xx) * 3 + ch] = Float(v)
                    }
                }
            }
        }
        return out
    }
}

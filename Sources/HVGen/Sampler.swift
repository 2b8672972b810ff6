// Choosing the next code from the factorised head's logits (paper Appendix A): classifier-free guidance
//     logits = uncond + (cond − uncond)·scale
// applied per group (exact for the joint distribution, see FactorisedHead), then temperature, then top-k and
// top-p (nucleus) filtering per group — the joint top-k over 2^18 codes is not tractable without enumerating
// them, so these filters act on each group's 2^g classes. Temperature 0 is greedy (argmax per group).
import Foundation
import HVEngine

public struct SamplingOptions: Equatable, Sendable {
    /// Guidance scale; 1 uses the conditional logits alone (no unconditional pass). The default, 2.5, is where the
    /// shipped generator's samples land on the prompt's scene most often (docs/gen.md; the paper uses 7.5).
    public var cfgScale: Float
    /// Guidance scales per generated layer, coarse first, overriding `cfgScale` as `layerTemperatures` does
    /// `temperature`: the text moves the coarse layers' logits by little, and guiding the fine layers as hard breaks
    /// their texture.
    public var layerCfgScales: [Float]?
    /// Softmax temperature; 0 = greedy.
    public var temperature: Float
    /// Temperatures per generated layer, coarse first (the generator's order), overriding `temperature`; a
    /// shorter list leaves the remaining layers at `temperature`. The coarse layers set the scene, so sampling
    /// them cold and the fine ones warm is a choice of its own (nil = `temperature` everywhere).
    public var layerTemperatures: [Float]?
    /// Keep the k most likely classes of each group (nil = all).
    public var topK: Int?
    /// Keep the smallest set of each group's classes whose probability reaches p (nil = all).
    public var topP: Float?
    public var seed: UInt64

    public init(cfgScale: Float = 2.5, layerCfgScales: [Float]? = nil, temperature: Float = 1,
                layerTemperatures: [Float]? = nil, topK: Int? = nil, topP: Float? = nil, seed: UInt64 = 0) {
        self.cfgScale = cfgScale; self.layerCfgScales = layerCfgScales
        self.temperature = temperature; self.layerTemperatures = layerTemperatures
        self.topK = topK; self.topP = topP; self.seed = seed
    }

    /// The options that sample generated layer `m` (coarse first): its own temperature and guidance scale when
    /// they are listed.
    public func forLayer(_ m: Int) -> SamplingOptions {
        var o = self
        if let t = layerTemperatures, m < t.count { o.temperature = t[m] }
        if let g = layerCfgScales, m < g.count { o.cfgScale = g[m] }
        o.layerTemperatures = nil; o.layerCfgScales = nil
        return o
    }

    /// Whether any layer is guided (needs the unconditional row).
    public var guided: Bool { cfgScale != 1 || (layerCfgScales ?? []).contains { $0 != 1 } }

    public func validate() throws {
        guard cfgScale.isFinite, cfgScale >= 0, (layerCfgScales ?? []).allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw GenError.badOption(reason: "--cfg must be a finite number ≥ 0")
        }
        guard temperature.isFinite, temperature >= 0, (layerTemperatures ?? []).allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw GenError.badOption(reason: "--temperature must be ≥ 0")
        }
        if let k = topK, k < 1 { throw GenError.badOption(reason: "--top-k must be at least 1") }
        if let p = topP, !(p > 0 && p <= 1) { throw GenError.badOption(reason: "--top-p must be in (0, 1]") }
    }
}

public enum Sampler {
    /// uncond + (cond − uncond)·scale, element-wise into `out`.
    public static func guide(cond: UnsafePointer<Float>, uncond: UnsafePointer<Float>, scale: Float,
                             count: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<count { out[i] = uncond[i] + (cond[i] - uncond[i]) * scale }
    }

    /// Samples one class from logits z[n] under temperature/top-k/top-p (greedy at temperature 0).
    public static func sampleClass(_ z: UnsafePointer<Float>, count n: Int, options o: SamplingOptions,
                                   rng: inout SeededRandom) -> Int {
        if o.temperature == 0 {
            var best = 0
            for j in 1..<n where z[j] > z[best] { best = j }
            return best
        }
        // Classes sorted by logit (descending; ties by index, so sampling is deterministic for a seed).
        var order = Array(0..<n)
        order.sort { z[$0] != z[$1] ? z[$0] > z[$1] : $0 < $1 }
        var keep = min(n, o.topK ?? n)
        let m = z[order[0]]
        var p = order.prefix(keep).map { Double(expf((z[$0] - m) / o.temperature)) }
        var total = p.reduce(0, +)
        if let topP = o.topP {
            var acc = 0.0, cut = keep
            for (i, v) in p.enumerated() { acc += v; if acc / total >= Double(topP) { cut = i + 1; break } }
            keep = cut
            p = Array(p.prefix(keep)); total = p.reduce(0, +)
        }
        let u = Double(rng.uniform()) * total
        var acc = 0.0
        for i in 0..<keep { acc += p[i]; if u < acc { return order[i] } }
        return order[keep - 1]
    }

    /// One code of a layer: guidance (when `uncond` is given), then a class per group.
    public static func sampleCode(head: FactorisedHead, cond: UnsafePointer<Float>, uncond: UnsafePointer<Float>?,
                                  options o: SamplingOptions, scratch: UnsafeMutablePointer<Float>,
                                  rng: inout SeededRandom) -> UInt32 {
        let z: UnsafePointer<Float>
        if let uncond {
            guide(cond: cond, uncond: uncond, scale: o.cfgScale, count: head.outputs, into: scratch)
            z = UnsafePointer(scratch)
        } else { z = cond }
        return head.code(fromClasses: head.groups.indices.map { g in
            sampleClass(z + head.logitOffsets[g], count: 1 << head.groups[g], options: o, rng: &rng)
        })
    }
}

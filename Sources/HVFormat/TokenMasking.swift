// Dynamic video encoding (paper section 4.1, Fig. 6–7): in the dense layer, consecutive latent frames are
// often near-identical after quantisation, so those tokens need not be stored or generated.
// Difference measure: the Hamming distance between a token's LFQ code and the code at the same place in
// the previous latent frame (the number of latent channels whose sign flipped) — it needs no model.
// A token is redundant when its distance is below the clip's mean distance (over latent frames ≥ 1), or
// zero. The first latent frame is never masked. If more than `ratio` of the layer's tokens would be
// masked, a seeded random choice keeps exactly ⌊ratio·N⌋ of the candidates masked, so at least 1 − ratio
// of the tokens stay (the paper caps masking at 85 %).
// For `repeat`, whose render fills a masked token with the last kept code at its place, the candidates are then
// checked against that code (`maskAgainstFill`): in a run of masked tokens the repeated code grows older, and
// without the check a masked token can be rendered from a code far from its own. On v8's 22 report clips the check
// masked 44 % of layer 0 instead of 51 % for 0.25 dB instead of 0.45, and at equal shares it cost less than the
// paper's candidates thinned at random on 18 clips, level on 4 (docs/tokenizer-journal.md, 2026-12-06 thirteenth).

public enum TokenMasking {
    /// The mask for a stream that will be filled in with `strategy`: for `repeat`, `maskAgainstFill` (the paper's
    /// candidates less those whose repeated code has drifted); for `zero` and `learned`, whose fill carries no code,
    /// `mask`.
    public static func mask(_ indices: [UInt32], gridT: Int, plane: Int, ratio: Double, strategy: MaskStrategy,
                            rng: inout MaskRandom) -> [Bool] {
        strategy == .repeatPrevious
            ? maskAgainstFill(indices, gridT: gridT, plane: plane, ratio: ratio, rng: &rng)
            : mask(indices, gridT: gridT, plane: plane, ratio: ratio, rng: &rng)
    }

    /// Hamming distances to the previous latent frame; entries of frame 0 are −1 (never masked).
    public static func scores(_ indices: [UInt32], gridT: Int, plane: Int) -> [Int] {
        var s = [Int](repeating: -1, count: indices.count)
        for t in 1..<max(gridT, 1) {
            for p in 0..<plane {
                let i = t * plane + p
                s[i] = (indices[i] ^ indices[i - plane]).nonzeroBitCount
            }
        }
        return s
    }

    /// The mask (true = masked) of one layer of one clip (`indices.count` = gridT × plane): the rule above over
    /// `scores`, with distances kept as bytes and candidates as 32-bit positions, so that the largest legal layer
    /// (2^24 tokens) needs about 100 MiB here.
    public static func mask(_ indices: [UInt32], gridT: Int, plane: Int, ratio: Double, rng: inout MaskRandom) -> [Bool] {
        let n = indices.count
        let later = max(0, min(n, gridT * plane) - plane)   // tokens of latent frames ≥ 1
        guard later > 0 else { return [Bool](repeating: false, count: n) }
        var distance = [UInt8](repeating: 0, count: later)   // of token plane + j
        var sum = 0
        for j in 0..<later {
            let d = (indices[j + plane] ^ indices[j]).nonzeroBitCount
            distance[j] = UInt8(d); sum += d
        }
        let mean = Double(sum) / Double(later)
        var candidates: [Int32] = []
        for j in 0..<later where Double(distance[j]) < mean || distance[j] == 0 { candidates.append(Int32(j + plane)) }
        let cap = Int((ratio * Double(n)).rounded(.down))
        if candidates.count > cap {
            // Seeded Fisher–Yates: keep a random `cap` of the candidates masked.
            for i in 0..<cap {
                let j = i + Int(rng.next() % UInt64(candidates.count - i))
                candidates.swapAt(i, j)
            }
            candidates.removeLast(candidates.count - cap)
        }
        var m = [Bool](repeating: false, count: n)
        for i in candidates { m[Int(i)] = true }
        return m
    }

    /// `mask`'s choice, less the tokens that a `repeat` render would fill in badly: walking the latent frames in
    /// order, a masked token stays masked only while the code the render puts there (the last kept code at its
    /// place, not necessarily the previous frame's) is within the same threshold (below the clip's mean distance,
    /// or equal). A dropped token is kept and becomes the fill of the tokens after it. The result is a subset of
    /// `mask`'s, so the cap holds, and it consumes the same random numbers.
    public static func maskAgainstFill(_ indices: [UInt32], gridT: Int, plane: Int, ratio: Double,
                                       rng: inout MaskRandom) -> [Bool] {
        var m = mask(indices, gridT: gridT, plane: plane, ratio: ratio, rng: &rng)
        let end = min(indices.count, gridT * plane)
        guard end > plane else { return m }
        var sum = 0
        for j in plane..<end { sum += (indices[j] ^ indices[j - plane]).nonzeroBitCount }
        let mean = Double(sum) / Double(end - plane)
        var fill = Array(indices[0..<plane])
        for i in plane..<end {
            let p = i % plane
            if m[i] {
                let d = (indices[i] ^ fill[p]).nonzeroBitCount
                if Double(d) < mean || d == 0 { continue }
                m[i] = false
            }
            fill[p] = indices[i]
        }
        return m
    }
}

/// SplitMix64: small, seedable, stable across platforms (mask choices must be reproducible).
public struct MaskRandom {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

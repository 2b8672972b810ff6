// Rotary position embedding (Su et al. 2021, RoFormer), "rotate half" convention (GPT-NeoX / HF LLaMA),
// for q/k laid out [S, heads, headDim] (or [B, S, heads, headDim] with positions per batch row).
// The head dimension is split into sections, one per position axis: 1D text uses one section (all of
// headDim); 3D video positions (t, h, w) use three, by default h = w = 2·⌊headDim/6⌋ dims and t the rest
// (headDim 64 -> t 24, h 20, w 20). Within a section of n dims at offset o, dims (o+i, o+i+n/2) rotate by
// angle pos_axis · base^(−2i/n), i < n/2 — each axis has its own frequency set. Backward = inverse rotation.
import Foundation

public final class RoPE {
    public let headDim: Int
    /// Dims per position axis, each even, summing to headDim.
    public let sections: [Int]
    public let base: Double
    /// cos and sin of every pair's angle: [S, headDim/2] (pair index = section offset/2 + i).
    public let cosTable = Tensor(shape: [0]), sinTable = Tensor(shape: [0])
    public private(set) var positions = 0

    /// The default split of `headDim` over `axes` (1 or 3) axes; see the file comment.
    public static func defaultSections(headDim: Int, axes: Int) -> [Int] {
        if axes == 3 { let hw = 2 * (headDim / 6); return [headDim - 2 * hw, hw, hw] }
        if axes == 1 { return [headDim] }
        let each = 2 * (headDim / (2 * axes))
        return [headDim - each * (axes - 1)] + Array(repeating: each, count: axes - 1)
    }

    /// `sections` nil -> `defaultSections(headDim:axes:)`. Sections must be even and sum to headDim.
    public init(headDim: Int, axes: Int = 1, sections: [Int]? = nil, base: Double = 10_000) {
        let s = sections ?? RoPE.defaultSections(headDim: headDim, axes: axes)
        precondition(s.reduce(0, +) == headDim && s.allSatisfy { $0 % 2 == 0 && $0 >= 0 },
                     "RoPE sections \(s) must be even and sum to headDim \(headDim)")
        self.headDim = headDim; self.sections = s; self.base = base
    }

    public var axes: Int { sections.count }

    /// Builds the tables for `count` positions; `coordinates` is [count, axes] row-major (t, h, w for 3D).
    public func setPositions(_ coordinates: [Int], count: Int) {
        precondition(coordinates.count == count * axes, "need \(axes) coordinates per position")
        let half = headDim / 2
        cosTable.resize([count, half]); sinTable.resize([count, half])
        for p in 0..<count {
            var off = 0
            for (axis, n) in sections.enumerated() {
                let pos = Double(coordinates[p * axes + axis])
                for i in 0..<(n / 2) {
                    let angle = pos * pow(base, -2 * Double(i) / Double(n))
                    cosTable[p * half + off / 2 + i] = Float(cos(angle))
                    sinTable[p * half + off / 2 + i] = Float(sin(angle))
                }
                off += n
            }
        }
        positions = count
    }

    /// 1D positions (text): first, first+1, ...
    public func setPositions(range: Range<Int>) {
        precondition(axes == 1, "1D positions need a one-axis RoPE")
        setPositions(Array(range), count: range.count)
    }

    /// Rotates x in place: x [S·heads rows of headDim] with row s·heads + h at table row `s % positions`
    /// + `tableOffset` (so [B, S, heads, headDim] works with a table of S rows). `inverse` rotates by −angle
    /// (the backward of the rotation: dx = Rᵀ·dy).
    public func apply(_ x: UnsafeMutablePointer<Float>, rows: Int, heads: Int, tableOffset: Int = 0, inverse: Bool = false) {
        let half = headDim / 2, D = headDim, secs = sections
        let cs = cosTable.data, sn = sinTable.data, P = positions
        let sign: Float = inverse ? -1 : 1
        Parallel.forRanges(rows, minChunk: 16) { r in
            for s in r {
                let t = (s % P) + tableOffset
                let c = cs + t * half, si = sn + t * half
                for h in 0..<heads {
                    let row = x + (s * heads + h) * D
                    var off = 0
                    for n in secs {
                        let hn = n / 2
                        for i in 0..<hn {
                            let a = row[off + i], b = row[off + i + hn]
                            let cv = c[off / 2 + i], sv = sign * si[off / 2 + i]
                            row[off + i] = a * cv - b * sv
                            row[off + i + hn] = b * cv + a * sv
                        }
                        off += n
                    }
                }
            }
        }
    }

    /// x: [..., S, heads, headDim] with S = positions; rotates in place.
    public func forward(_ x: Tensor) {
        let heads = x.shape[x.rank - 2]
        apply(x.data, rows: x.count / (heads * headDim), heads: heads)
    }

    /// dy -> dx in place (inverse rotation).
    public func backward(_ dy: Tensor) {
        let heads = dy.shape[dy.rank - 2]
        apply(dy.data, rows: dy.count / (heads * headDim), heads: heads, inverse: true)
    }
}

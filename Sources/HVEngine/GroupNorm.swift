// GroupNorm on channels-last video x [T, H, W, C] with G groups of C/G channels (Wu & He 2018).
// `.perFrame` (default) takes statistics per (frame, group) over H·W·C/G values, which keeps a causal
// video model causal; `.overAllFrames` pools them over T as torch.nn.GroupNorm on [N, C, T, H, W] does.
// y = (x − μ)/sqrt(σ² + eps)·γ[c] + β[c]; γ = `name.weight` (init 1), β = `name.bias` (init 0).
import Foundation

public final class GroupNorm: ParameterOwner {
    public enum Statistics: Sendable { case perFrame, overAllFrames }
    public let groups: Int
    public let eps: Float
    public let statistics: Statistics
    public let weight: Parameter
    public let bias: Parameter
    private var input: Tensor?
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private var mean: [Float] = []
    private var rstd: [Float] = []

    public init(name: String, channels: Int, groups: Int, eps: Float = 1e-6, statistics: Statistics = .perFrame) {
        self.groups = groups
        self.eps = eps
        self.statistics = statistics
        weight = Parameter("\(name).weight", shape: [channels], decays: false)
        weight.value.fill(1)
        bias = Parameter("\(name).bias", shape: [channels], decays: false)
    }

    public var parameters: [Parameter] { [weight, bias] }

    /// Number of statistic slices (frames, or 1) and positions per slice.
    private func slices(_ x: Tensor) -> (Int, Int) {
        let T = x.shape[0], C = x.shape[x.rank - 1]
        let perFrame = x.count / T / C
        return statistics == .perFrame ? (T, perFrame) : (1, perFrame * T)
    }

    public func forward(_ x: Tensor) -> Tensor { forward(x, into: output) }

    /// The same into the caller's `y` (not x).
    @discardableResult
    public func forward(_ x: Tensor, into output: Tensor) -> Tensor {
        precondition(x !== output, "GroupNorm writes its output beside its input")
        input = x
        output.resize(x.shape)
        let C = x.shape[x.rank - 1], G = groups, cg = C / G
        let (S, P) = slices(x)
        mean = [Float](repeating: 0, count: S * G)
        rstd = [Float](repeating: 0, count: S * G)
        mean.withUnsafeMutableBufferPointer { meanP in
            rstd.withUnsafeMutableBufferPointer { rstdP in
                Parallel.forEach(S * G) { sg in
                    let s = sg / G, g = sg % G
                    let base = x.data + s * P * C + g * cg
                    var sum: Double = 0, sq: Double = 0
                    for p in 0..<P { let row = base + p * C; for c in 0..<cg { let v = Double(row[c]); sum += v; sq += v * v } }
                    let n = Double(P * cg)
                    let mu = sum / n
                    let v = max(sq / n - mu * mu, 0)
                    meanP[sg] = Float(mu)
                    rstdP[sg] = Float(1 / (v + Double(eps)).squareRoot())
                }
            }
        }
        let gamma = weight.value.data, beta = bias.value.data
        Parallel.forEach(S * G) { sg in
            let s = sg / G, g = sg % G
            let mu = mean[sg], r = rstd[sg]
            let src = x.data + s * P * C + g * cg, dst = output.data + s * P * C + g * cg
            for p in 0..<P {
                for c in 0..<cg { dst[p * C + c] = (src[p * C + c] - mu) * r * gamma[g * cg + c] + beta[g * cg + c] }
            }
        }
        return output
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("GroupNorm.backward before forward") }
        gradInput.resize(x.shape)
        let C = x.shape[x.rank - 1], G = groups, cg = C / G
        let (S, P) = slices(x)
        let gamma = weight.value.data
        // Per-(slice, group) partial sums of dγ and dβ, reduced afterwards (no shared writes).
        var dgParts = [Float](repeating: 0, count: S * C), dbParts = [Float](repeating: 0, count: S * C)
        dgParts.withUnsafeMutableBufferPointer { dgP in
            dbParts.withUnsafeMutableBufferPointer { dbP in
                Parallel.forEach(S * G) { sg in
                    let s = sg / G, g = sg % G
                    let mu = mean[sg], r = rstd[sg]
                    let xs = x.data + s * P * C + g * cg, ds = dy.data + s * P * C + g * cg
                    let out = gradInput.data + s * P * C + g * cg
                    var sumD: Double = 0, sumDX: Double = 0
                    for p in 0..<P {
                        for c in 0..<cg {
                            let xhat = (xs[p * C + c] - mu) * r
                            let d = ds[p * C + c]
                            dgP[s * C + g * cg + c] += d * xhat
                            dbP[s * C + g * cg + c] += d
                            let dxhat = d * gamma[g * cg + c]
                            sumD += Double(dxhat); sumDX += Double(dxhat * xhat)
                        }
                    }
                    let n = Double(P * cg)
                    let m1 = Float(sumD / n), m2 = Float(sumDX / n)
                    for p in 0..<P {
                        for c in 0..<cg {
                            let xhat = (xs[p * C + c] - mu) * r
                            out[p * C + c] = r * (ds[p * C + c] * gamma[g * cg + c] - m1 - xhat * m2)
                        }
                    }
                }
            }
        }
        for s in 0..<S { for c in 0..<C { weight.grad[c] += dgParts[s * C + c]; bias.grad[c] += dbParts[s * C + c] } }
        return gradInput
    }
}

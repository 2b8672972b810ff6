// Sequence-engine bench: causal attention forward/backward at sequence 2448 (GFLOP/s, vs PyTorch CPU
// scaled_dot_product_attention run by bench/peer_attention.py with the same thread count), and the memory
// and speed of a training step of a small transformer built from the engine's layers.
import ArgumentParser
import Foundation
import HVCLI
import HVEngine

struct SeqBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "seq",
        abstract: "Benchmark attention and a small transformer training step.")
    @Option(help: "Sequence length of the attention bench.") var seq = 2448
    @Option(help: "Attention heads.") var heads = 8
    @Option(help: "Dimensions per head.") var headDim = 64
    @Option(help: "Timed repetitions (best is reported).") var repeats = 3
    @Option(help: "Peer script (PyTorch); skipped loudly when it or torch is missing.") var peerScript = "bench/peer_attention.py"
    @Flag(help: "Run only the attention bench.") var attentionOnly = false
    @Option(help: "Query block size of the attention kernel.") var block = 128

    func validate() throws {
        guard seq > 0, heads > 0, headDim > 0, repeats > 0 else { throw ValidationError("sizes and repeats must be positive.") }
    }

    func run() throws {
        try runSeqBench(seq: seq, heads: heads, headDim: headDim, repeats: repeats, peerScript: peerScript,
                        transformer: !attentionOnly, blockSize: block)
    }
}

private func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

private func best(_ repeats: Int, _ body: () -> Void) -> Double {
    body()   // warm-up (allocations, page faults)
    var b = Double.infinity
    for _ in 0..<repeats { let t = now(); body(); b = min(b, now() - t) }
    return b
}

/// Resident set sizes from /proc/self/status, in MiB: (current VmRSS, peak VmHWM); zeros where there is none.
/// VmHWM starts afresh at exec, while getrusage's ru_maxrss keeps the peak of the process image it replaced — for
/// a child forked from a bench that had already grown, that is the parent's peak, not its own.
func rssMiB() -> (current: Double, peak: Double) {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
    func field(_ name: String) -> Double {
        guard let line = s.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return 0 }
        return (Double(line.split(separator: " ").dropFirst().first.map(String.init) ?? "0") ?? 0) / 1024
    }
    return (field("VmRSS:"), field("VmHWM:"))
}

func runSeqBench(seq: Int = 2448, heads: Int = 8, headDim: Int = 64, repeats: Int = 3,
                 peerScript: String = "bench/peer_attention.py", transformer: Bool = true, blockSize: Int = 128) throws {
    print("== hv-bench seq: OpenBLAS core \(BLAS.coreName), \(BLAS.threads) BLAS threads, \(Parallel.workers) workers")
    if transformer { try transformerStepBench(); lfqBench(repeats: repeats) }
    attentionBench(seq: seq, heads: heads, headDim: headDim, repeats: repeats, peerScript: peerScript, blockSize: blockSize)
}

// MARK: - attention

private func attentionBench(seq S: Int, heads H: Int, headDim D: Int, repeats: Int, peerScript: String, blockSize: Int) {
    let n = S * H * D
    var rng = SeededRandom(seed: 1)
    let q = Tensor(shape: [1, S, H, D]), k = Tensor(shape: [1, S, H, D]), v = Tensor(shape: [1, S, H, D])
    let dO = Tensor(shape: [1, S, H, D])
    for t in [q, k, v, dO] { t.randomNormal(std: 1, rng: &rng) }
    let attn = MultiHeadAttention(heads: H, headDim: D, blockSize: blockSize)
    let fwd = best(repeats) { _ = attn.forward(q: q, k: k, v: v) }
    let bwd = best(repeats) { _ = attn.backward(dO) }
    // Useful causal FLOPs: forward 2 GEMMs (QKᵀ, PV) over S(S+1)/2 pairs; backward 4 GEMMs (dV, dP, dQ, dK)
    // plus the recomputed QKᵀ = 5. The same counts are applied to the peer, so the ratio is a time ratio.
    let pairs = Double(S) * Double(S + 1) / 2
    let fwdFlops = 4 * pairs * Double(D * H), bwdFlops = 10 * pairs * Double(D * H)
    print(String(format: "attention causal B=1 S=%d heads=%d headDim=%d, query block %d (%d floats per tensor)", S, H, D, blockSize, n))
    print(String(format: "  ours   forward %8.1f ms %7.1f GFLOP/s   backward %8.1f ms %7.1f GFLOP/s",
                 fwd * 1e3, fwdFlops / fwd / 1e9, bwd * 1e3, bwdFlops / bwd / 1e9))
    guard let peer = runPeer(script: peerScript, args: ["--seq", "\(S)", "--heads", "\(H)", "--dim", "\(D)",
                                                      "--threads", "\(Parallel.workers)", "--repeats", "\(repeats)"]) else { return }
    let pf = peer.forward / 1e3, pb = peer.backward / 1e3
    print(String(format: "  torch  forward %8.1f ms %7.1f GFLOP/s   backward %8.1f ms %7.1f GFLOP/s   (%@, %d threads)",
                 pf * 1e3, fwdFlops / pf / 1e9, pb * 1e3, bwdFlops / pb / 1e9, peer.version, peer.threads))
    print(String(format: "  ratio (torch time / ours): forward %.2fx  backward %.2fx", pf / fwd, pb / bwd))
}

private struct PeerResult { var forward: Double; var backward: Double; var version: String; var threads: Int }

private func runPeer(script: String, args: [String]) -> PeerResult? {
    switch PeerScript.json(script, args) {
    case .failure(let skip):
        print("  torch  SKIPPED: \(skip.reason)"); return nil
    case .success(let obj):
        guard let f = obj["forward_ms"] as? Double, let b = obj["backward_ms"] as? Double else {
            print("  torch  SKIPPED: the peer printed no forward_ms/backward_ms"); return nil
        }
        return PeerResult(forward: f, backward: b, version: obj["torch"] as? String ?? "?", threads: obj["threads"] as? Int ?? 0)
    }
}

// MARK: - LFQ

/// LFQ forward + backward with the exact codebook entropy at 18 bits (three 512×512×N SGEMMs).
private func lfqBench(repeats: Int) {
    for (bits, n) in [(18, 1280), (18, 5120), (10, 5120)] {
        var rng = SeededRandom(seed: 3)
        let x = Tensor(shape: [n, bits]); x.randomNormal(std: 0.5, rng: &rng)
        let codes = Tensor(shape: [n, bits]), gradient = Tensor(shape: [n, bits])
        let lfq = LFQ(bits: bits)
        let t = best(repeats) {
            _ = lfq.quantize(x, codes: codes)
            _ = lfq.losses(x, entropyWeight: 0.1, commitWeight: 0.25, temperature: 1, gradient: gradient)
        }
        print(String(format: "LFQ %d bits, %d tokens: forward+backward with exact codebook entropy %.1f ms", bits, n, t * 1e3))
    }
}

// MARK: - small transformer training step

/// Pre-norm decoder block: x + attn(rope(qkv(rms(x)))), then + down(swiglu(up(rms(x)))).
private final class Block {
    let norm1: RMSNorm, qkv: Linear, proj: Linear, norm2: RMSNorm, up: Linear, down: Linear
    let attn: MultiHeadAttention, swiglu = SwiGLU()
    let heads: Int, headDim: Int, dim: Int
    let q = Tensor(shape: [0]), k = Tensor(shape: [0]), v = Tensor(shape: [0])
    let x1 = Tensor(shape: [0]), x2 = Tensor(shape: [0]), dqkv = Tensor(shape: [0]), dx1 = Tensor(shape: [0]), dx = Tensor(shape: [0])
    var parameters: [Parameter] { ([norm1, qkv, proj, norm2, up, down] as [ParameterOwner]).flatMap { $0.parameters } }

    init(_ name: String, dim: Int, heads: Int, ffn: Int, rng: inout SeededRandom) {
        self.dim = dim; self.heads = heads; headDim = dim / heads
        norm1 = RMSNorm(name: name + ".norm1", dim: dim)
        qkv = Linear(name: name + ".qkv", inFeatures: dim, outFeatures: 3 * dim, bias: false, rng: &rng)
        proj = Linear(name: name + ".proj", inFeatures: dim, outFeatures: dim, bias: false, rng: &rng)
        norm2 = RMSNorm(name: name + ".norm2", dim: dim)
        up = Linear(name: name + ".up", inFeatures: dim, outFeatures: 2 * ffn, bias: false, rng: &rng)
        down = Linear(name: name + ".down", inFeatures: ffn, outFeatures: dim, bias: false, rng: &rng)
        attn = MultiHeadAttention(heads: heads, headDim: dim / heads)
    }

    func forward(_ x: Tensor, batch B: Int, seq S: Int, rope: RoPE) -> Tensor {
        let h = qkv.forward(norm1.forward(x))            // [B·S, 3C]
        for t in [q, k, v] { t.resize([B, S, heads, headDim]) }
        for r in 0..<(B * S) {
            (q.data + r * dim).update(from: h.data + r * 3 * dim, count: dim)
            (k.data + r * dim).update(from: h.data + r * 3 * dim + dim, count: dim)
            (v.data + r * dim).update(from: h.data + r * 3 * dim + 2 * dim, count: dim)
        }
        rope.forward(q); rope.forward(k)
        let a = proj.forward(attn.forward(q: q, k: k, v: v))
        x1.resize(x.shape)
        for i in 0..<x.count { x1.data[i] = x.data[i] + a.data[i] }
        let d = down.forward(swiglu.forward(up.forward(norm2.forward(x1))))
        x2.resize(x.shape)
        for i in 0..<x.count { x2.data[i] = x1.data[i] + d.data[i] }
        return x2
    }

    func backward(_ dy: Tensor, rope: RoPE) -> Tensor {
        let dn2 = norm2.backward(up.backward(swiglu.backward(down.backward(dy))))
        dx1.resize(dy.shape)
        for i in 0..<dy.count { dx1.data[i] = dy.data[i] + dn2.data[i] }
        let g = attn.backward(proj.backward(dx1))
        rope.backward(g.dq); rope.backward(g.dk)
        let rows = dy.count / dim
        dqkv.resize([rows, 3 * dim])
        for r in 0..<rows {
            (dqkv.data + r * 3 * dim).update(from: g.dq.data + r * dim, count: dim)
            (dqkv.data + r * 3 * dim + dim).update(from: g.dk.data + r * dim, count: dim)
            (dqkv.data + r * 3 * dim + 2 * dim).update(from: g.dv.data + r * dim, count: dim)
        }
        let dn1 = norm1.backward(qkv.backward(dqkv))
        dx.resize(dy.shape)
        for i in 0..<dy.count { dx.data[i] = dx1.data[i] + dn1.data[i] }
        return dx
    }
}

private func transformerStepBench() throws {
    let vocab = 4096, dim = 256, heads = 4, layers = 4, ffn = 683, B = 2, S = 512
    let rss0 = rssMiB().current
    var rng = SeededRandom(seed: 7)
    let embed = Embedding(name: "embed", vocab: vocab, dim: dim, rng: &rng)
    let blocks = (0..<layers).map { Block("blocks.\($0)", dim: dim, heads: heads, ffn: ffn, rng: &rng) }
    let normF = RMSNorm(name: "norm", dim: dim)
    let head = Linear(name: "head", inFeatures: dim, outFeatures: vocab, bias: false, rng: &rng)
    let loss = CrossEntropyLoss()
    let params = embed.parameters + blocks.flatMap(\.parameters) + normF.parameters + head.parameters
    let opt = AdamW(parameters: params, learningRate: 3e-4)
    let schedule = LRSchedule(peak: 3e-4, warmupSteps: 5, totalSteps: 100)
    let rope = RoPE(headDim: dim / heads)
    rope.setPositions(range: 0..<S)
    let ids = (0..<(B * S)).map { _ in Int32(rng.next() % UInt64(vocab)) }
    let targets = Array(ids.dropFirst()) + [-100]
    let nParams = params.reduce(0) { $0 + $1.value.count }

    var losses: [Float] = []
    var rssPerStep: [Double] = []
    var stepTimes: [Double] = []
    for step in 0..<8 {
        let t0 = now()
        for p in params { p.grad.zero() }
        var x = try embed.forward(ids)
        for b in blocks { x = b.forward(x, batch: B, seq: S, rope: rope) }
        let logits = head.forward(normF.forward(x))
        losses.append(try loss.forward(logits, targets: targets))
        var dx = normF.backward(head.backward(loss.gradLogits))
        for b in blocks.reversed() { dx = b.backward(dx, rope: rope) }
        embed.backward(dx)
        clipGradNorm(params, maxNorm: 1)
        opt.step(learningRate: schedule.rate(at: step))
        stepTimes.append(now() - t0)
        rssPerStep.append(rssMiB().current)
    }
    let rssEnd = rssMiB()
    let stepTime = stepTimes.dropFirst().min() ?? 0
    print(String(format: "transformer training step: %d layers, dim %d, %d heads, SwiGLU %d, vocab %d, batch %d x seq %d, %.2fM parameters",
                 layers, dim, heads, ffn, vocab, B, S, Double(nParams) / 1e6))
    print(String(format: "  step %.0f ms (%.0f tokens/s); loss %.3f -> %.3f over %d steps",
                 stepTime * 1e3, Double(B * S) / stepTime, losses.first ?? 0, losses.last ?? 0, losses.count))
    // Steady state: RSS after step 2 vs the largest RSS of the later steps (no growth = no per-step churn).
    let steady = rssPerStep.dropFirst(2)
    print(String(format: "  memory: params+grads+AdamW %.1f MiB; RSS over the start %.1f MiB after step 2, growth over steps 3-%d %+.1f MiB; peak RSS %.1f MiB",
                 Double(nParams * 16) / 1048576, rssPerStep[1] - rss0, losses.count,
                 (steady.max() ?? rssPerStep[1]) - rssPerStep[1], rssEnd.peak))
}

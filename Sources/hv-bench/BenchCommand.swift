// hv-bench: speed of the engine and the tools, each reported against a reference measured in the same
// run (ratios, not absolute seconds): sgemm vs the conv kernels, our conv3d vs PyTorch, tokenizer encode
// and render vs real time, a training step, the metrics vs scikit-image, the sequence ops (attention vs
// PyTorch SDPA, LFQ, a small transformer step; `hv-bench seq` has their knobs) and the text encoder.
import ArgumentParser
import CKernels
import Foundation
import HVCLI
import HVEngine
import HVMedia
import HVMetrics
import HVTokenizer

struct BenchCommand: ParsableCommand {
    // The sections live in a default subcommand rather than in the root command, so that options of the
    // other subcommands (`hv-bench gen --peers DIR`) are not taken by the root's options of the same name.
    static let configuration = CommandConfiguration(
        commandName: "hv-bench",
        abstract: "Measure engine and tool speed against peers (PyTorch, scikit-image) in the same run.",
        subcommands: [AllBenchCommand.self, SeqBenchCommand.self, GenBenchCommand.self, TrainBenchCommand.self],
        defaultSubcommand: AllBenchCommand.self)
}

struct AllBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "all",
        abstract: "Run the sections (the default): gemm, conv, tokenizer, train, metrics, seq, text, color.")

    @Option(help: "Sections to run, comma-separated: gemm, conv, tokenizer, train, metrics, seq, text, color.")
    var only: String = "gemm,conv,tokenizer,train,metrics,seq,text,color"

    /// The tokenizer the tokenizer section times.
    @OptionGroup var model: TokenizerModelOption

    @Option(help: "Folder of the peer scripts.")
    var peers: String = "bench"

    @Option(name: .customLong("conv-shapes"), help: "Time only the conv shapes whose name contains this text, e.g. 192to192 or 8x16x16.")
    var convShapes: String?

    static let sectionNames = ["gemm", "conv", "tokenizer", "train", "metrics", "seq", "text", "color"]

    func validate() throws {
        for name in only.split(separator: ",") where !Self.sectionNames.contains(String(name)) {
            throw ValidationError("Unknown section '\(name)' in --only; sections: \(Self.sectionNames.joined(separator: ", ")).")
        }
    }

    @Flag(help: "Run every conv without Winograd (Conv3dTuning.winograd off), to time what it gains end to end.")
    var noWinograd = false

    @Flag(help: "Run the AVX2 conv rows with their per-entry pass tiles only (hv_conv_whole_tiles off), to time what the whole-reduction tiles gain.")
    var noWholeTiles = false

    @Flag(help: "Run the Winograd tile transforms in their Swift references instead of CKernels' AVX2, to time what the C versions gain.")
    var swiftTransforms = false

    func run() throws {
        if noWinograd { Conv3dTuning.winograd = false }
        if noWholeTiles { hv_conv_whole_tiles(0) }
        if swiftTransforms { Conv3dWinograd.transformsInC = false }
        let sections = Set(only.split(separator: ",").map(String.init))
        print("OpenBLAS core: \(BLAS.coreName), threads \(BLAS.threads); cores \(Parallel.workers); subnormals flushed: \(Denormals.flushing)")
        var sgemm = 0.0
        if sections.contains("gemm") || sections.contains("conv") { sgemm = benchGemm() }
        if sections.contains("conv") { try benchConv(sgemm: sgemm) }
        if sections.contains("tokenizer") { try benchTokenizer() }
        if sections.contains("train") { try benchTrain() }
        if sections.contains("metrics") { try benchMetrics() }
        if sections.contains("seq") { try runSeqBench(peerScript: "\(peers)/peer_attention.py") }
        if sections.contains("color") { benchColor() }
        if sections.contains("text") {
            if FileManager.default.fileExists(atPath: "models/text-encoder/model.safetensors") { try runTextBench() }
            else { print("text encoder: SKIPPED — models/text-encoder is missing (make text-encoder fetches it)") }
        }
    }

    /// Best of `reps` wall times of `body`.
    func time(_ reps: Int = 3, _ body: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0..<reps {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return best
    }

    /// Y′CbCr ↔ RGB on 256² frames (every y4m the tools read or write goes through them): the fixed-point
    /// kernels against their float references.
    func benchColor() {
        let w = 256, h = 256, n = w * h
        var rng = SeededRandom(seed: 4)
        var rgb = [UInt8](repeating: 0, count: 3 * n)
        for i in 0..<rgb.count { rgb[i] = UInt8(truncatingIfNeeded: Int(rng.uniform() * 256)) }
        var y = [UInt8](repeating: 0, count: n), cb = [UInt8](repeating: 0, count: n / 4), cr = cb
        var out = [UInt8](repeating: 0, count: 3 * n)
        let frames = 50
        func rate(_ body: () -> Void) -> Double { Double(frames) / time(5) { for _ in 0..<frames { body() } } }
        rgb.withUnsafeBufferPointer { src in
            y.withUnsafeMutableBufferPointer { yp in cb.withUnsafeMutableBufferPointer { bp in cr.withUnsafeMutableBufferPointer { rp in
                out.withUnsafeMutableBufferPointer { o in
                    let fast = rate { ColorConversion.rgbToYUV(rgb: src.baseAddress!, width: w, height: h, subsampled: true, fullRange: false,
                                                               y: yp.baseAddress!, cb: bp.baseAddress!, cr: rp.baseAddress!) }
                    let ref = rate { ColorConversion.rgbToYUVReference(rgb: src.baseAddress!, width: w, height: h, subsampled: true, fullRange: false,
                                                                       y: yp.baseAddress!, cb: bp.baseAddress!, cr: rp.baseAddress!) }
                    print(String(format: "RGB → Y′CbCr 4:2:0, 256²: %.0f frames/s, %.2f× the float reference", fast, fast / ref))
                    let back = rate { ColorConversion.yuvToRGB(y: yp.baseAddress!, cb: bp.baseAddress!, cr: rp.baseAddress!, width: w, height: h,
                                                               chromaWidth: w / 2, subsampled: true, fullRange: false, rgb: o.baseAddress!) }
                    let backRef = rate { ColorConversion.yuvToRGBReference(y: yp.baseAddress!, cb: bp.baseAddress!, cr: rp.baseAddress!, width: w,
                                                                           height: h, chromaWidth: w / 2, subsampled: true, fullRange: false, rgb: o.baseAddress!) }
                    print(String(format: "Y′CbCr 4:2:0 → RGB, 256²: %.0f frames/s, %.2f× the float reference", back, back / backRef))
                    // 4:4:4 (what hv-decode converts after scaling): cb/cr planes at full size.
                    var full = [UInt8](repeating: 128, count: 2 * n)
                    full.withUnsafeMutableBufferPointer { c in
                        let c0 = c.baseAddress!, c1 = c0 + n
                        let b444 = rate { ColorConversion.yuvToRGB(y: yp.baseAddress!, cb: c0, cr: c1, width: w, height: h, chromaWidth: w,
                                                                   subsampled: false, fullRange: false, rgb: o.baseAddress!) }
                        let r444 = rate { ColorConversion.yuvToRGBReference(y: yp.baseAddress!, cb: c0, cr: c1, width: w, height: h,
                                                                            chromaWidth: w, subsampled: false, fullRange: false, rgb: o.baseAddress!) }
                        print(String(format: "Y′CbCr 4:4:4 → RGB, 256²: %.0f frames/s, %.2f× the float reference", b444, b444 / r444))
                    }
                }
            } } }
        }
    }

    func benchGemm() -> Double {
        let n = 2048
        let a = Tensor(shape: [n, n]), b = Tensor(shape: [n, n]), c = Tensor(shape: [n, n])
        var rng = SeededRandom(seed: 1)
        a.randomNormal(std: 1, rng: &rng); b.randomNormal(std: 1, rng: &rng)
        let s = time { BLAS.gemm(m: n, n: n, k: n, a: a.data, lda: n, b: b.data, ldb: n, c: c.data, ldc: n) }
        let gflops = 2 * pow(Double(n), 3) / s / 1e9
        print(String(format: "sgemm 2048²: %.1f GFLOP/s (goal ≥ 200)", gflops))
        // BF16 (issue 16): Debian's OpenBLAS 0.3.21 has no cblas_sbgemm, so the question is whether a BF16 conv
        // kernel of our own could beat the float32 one: the dot-product instruction's rate against FMA's, one core.
        if let fp32 = CorePeak.rate(bf16: false) {
            if let bf16 = CorePeak.rate(bf16: true) {
                print(String(format: "one core's multiply-add peak: float32 FMA %.0f GFLOP/s, bfloat16 dot product (vdpbf16ps) %.0f GFLOP/s: %.2f×",
                             fp32 / 1e9, bf16 / 1e9, bf16 / fp32))
            } else {
                print(String(format: "one core's multiply-add peak: float32 FMA %.0f GFLOP/s; no AVX512-BF16 on this CPU", fp32 / 1e9))
            }
            if let amx = CorePeak.amxRate() {
                print(String(format: "one core's AMX bfloat16 tiles (TDPBF16PS): %.0f GFLOP/s, %.2f× float32 FMA", amx / 1e9, amx / fp32))
            } else {
                print("no AMX bfloat16 tiles on this CPU (or the kernel did not grant them)")
            }
        }
        return gflops
    }

    func peerLines(_ script: String, _ args: [String]) -> [String]? {
        guard case .success(let lines) = PeerScript.lines("\(peers)/\(script)", args),
              lines.first?.hasPrefix("SKIP") != true else { return nil }
        return lines
    }

    func benchConv(sgemm: Double) throws {
        // The issue's three bench shapes; then the 3×3×3 layers of `small2` (encoder 32, 64, 128 channels, decoder
        // 192, 96, 48) on a 64-frame 64² crop (the first stages), on the 64×128² crop the later stages train on,
        // and on a whole 64×256² clip (encoding and rendering).
        var shapes: [(String, Int, Int, Int, Int)] = [("3to64_16x128x128", 3, 64, 16, 128), ("64to64_8x64x64", 64, 64, 8, 64), ("128to128_8x32x32", 128, 128, 8, 32)]
        for s in [16, 32, 64] {    // the latent grid's side is the crop's / 16, the first stage's the crop's / 4
            for (c, t, side) in [(32, 32, s), (48, 32, s), (64, 16, s / 2), (96, 16, s / 2), (128, 8, s / 4), (192, 8, s / 4)] {
                shapes.append(("\(c)to\(c)_\(t)x\(side)x\(side)", c, c, t, side))
            }
        }
        if let f = convShapes { shapes = shapes.filter { $0.0.contains(f) } }
        let shapeArgs = shapes.map { "\($0.0):\($0.1):\($0.2):\($0.3):\($0.4)" }     // the peer times the same list
        // The peer answers one shape at a time, alternating with our calls on it (PeerServer): each side keeps the
        // best of `rounds` forward and backward calls, taken in the same minute.
        var peer: PeerServer?
        do { peer = try PeerServer("\(peers)/peer_conv.py", ["\(BLAS.threads)", "f32", "--serve"] + shapeArgs) } catch {
            print("conv3d peer: SKIPPED — \((error as? PeerScript.Skipped)?.reason ?? "\(error)")")
        }
        defer { peer?.finish() }
        let rounds = 5
        print("conv3d k3 (causal)          fwd GFLOP/s  %sgemm   bwd GFLOP/s  %sgemm   torch fwd/bwd ratio (>1: we are faster)   im2col fwd/bwd (>1: direct is faster)   without Winograd fwd/bwd (>1: it pays)")
        let savedDirect = Conv3dTuning.direct, savedWinograd = Conv3dTuning.winograd
        defer { Conv3dTuning.direct = savedDirect; Conv3dTuning.winograd = savedWinograd }
        var amx: [(String, Double, Double, Double, Double, Double, Double)] = []
        for (name, cin, cout, t, s) in shapes {
            var rng = SeededRandom(seed: 2)
            let conv = Conv3d(name: "b", inChannels: cin, outChannels: cout, kernel: (t: 3, h: 3, w: 3), rng: &rng)
            let x = Tensor(shape: [t, s, s, cin]); x.randomNormal(std: 1, rng: &rng)
            let flops = 2.0 * Double(t * s * s) * Double(27 * cin * cout)
            // The shipping path (Winograd or direct where they apply), then im2col alone on the same layer, then
            // the shipping path without Winograd where Winograd applies; every round times each once, after an untimed call.
            let winograd = savedWinograd && Conv3dWinograd.applies(conv.geometry, xShape: x.shape)
            let variants = [(savedDirect, savedWinograd), (false, false)] + (winograd ? [(savedDirect, false)] : [])
            func use(_ v: (Bool, Bool)) { Conv3dTuning.direct = v.0; Conv3dTuning.winograd = v.1 }
            let dy = conv.forward(x).clone()
            for v in variants { use(v); _ = conv.forward(x); _ = conv.backward(dy) }    // first touch of the buffers
            var times = [(Double, Double)](repeating: (.infinity, .infinity), count: variants.count)
            var peerTime: (Double, Double)? = peer == nil ? nil : (.infinity, .infinity)
            for _ in 0..<rounds {
                if let p = peer, peerTime != nil {
                    let f = p.ask(name)?.split(separator: " ") ?? []
                    if f.count == 3, let pf = Double(f[1]), let pb = Double(f[2]) {
                        peerTime = (min(peerTime!.0, pf), min(peerTime!.1, pb))
                    } else {    // a peer that stopped answering is not asked again
                        peerTime = nil; peer?.finish(); peer = nil; print("conv3d peer: no answer for \(name)")
                    }
                }
                for (i, v) in variants.enumerated() {
                    use(v)
                    _ = conv.forward(x); _ = conv.backward(dy)    // untimed, as the peer does after our turn
                    let fwd = time(1) { _ = conv.forward(x) }
                    let bwd = time(1) { _ = conv.backward(dy) }
                    times[i] = (min(times[i].0, fwd), min(times[i].1, bwd))
                }
            }
            Conv3dTuning.direct = savedDirect
            Conv3dTuning.winograd = savedWinograd
            let (fwd, bwd) = times[0]
            var cmp = "peer skipped"
            if let (pf, pb) = peerTime { cmp = String(format: "%.2fx / %.2fx", pf / fwd, pb / bwd) }
            let vsIm2col = String(format: "%.2fx / %.2fx", times[1].0 / fwd, times[1].1 / bwd)
            let vsPlain = winograd ? String(format: "%.2fx / %.2fx", times[2].0 / fwd, times[2].1 / bwd) : "-"
            print(String(format: "%@ %9.1f  %6.0f%%  %11.1f  %6.0f%%   %@                          %@                          %@", name.padding(toLength: 26, withPad: " ", startingAt: 0), flops / fwd / 1e9, 100 * flops / fwd / 1e9 / max(sgemm, 1),
                         2 * flops / bwd / 1e9, 100 * 2 * flops / bwd / 1e9 / max(sgemm, 1), cmp, vsIm2col, vsPlain))
            if Conv3dAMX.available && Conv3dAMX.appliesForward(conv.geometry, bf16: true) {
                Conv3dTuning.bf16 = true
                defer { Conv3dTuning.bf16 = false }
                _ = conv.forward(x)
                let fwdB = time { _ = conv.forward(x) }
                let dy = conv.forward(x).clone()
                _ = conv.backward(dy)
                let bwdB = time { _ = conv.backward(dy) }
                amx.append((name, flops / fwdB / 1e9, 2 * flops / bwdB / 1e9, fwd / fwdB, bwd / bwdB, fwdB, bwdB))
            }
        }
        // The same layers on AMX tiles in bfloat16 (what hv-train --bf16 trains with), against PyTorch on bfloat16 tensors.
        guard !amx.isEmpty else { print("conv3d bfloat16 (AMX): this CPU has no AMX tiles"); return }
        // Shapes the AMX row kernels do not take (fewer than 16 input channels) stay float32 in training: left out.
        var peerB: [String: (Double, Double)] = [:]
        if let lines = peerLines("peer_conv.py", ["\(BLAS.threads)", "bf16"] + shapeArgs) {
            for l in lines { let p = l.split(separator: " "); if p.count == 3 { peerB[String(p[0])] = (Double(p[1])!, Double(p[2])!) } }
        }
        print("conv3d k3, bfloat16 on AMX  fwd GFLOP/s  bwd GFLOP/s   vs our float32 fwd/bwd   torch bfloat16 fwd/bwd ratio (>1: we are faster)")
        for (name, gf, gb, rf, rb, tf, tb) in amx {
            var cmp = "peer skipped"
            if let (pf, pb) = peerB[name] { cmp = String(format: "%.2fx / %.2fx", pf / tf, pb / tb) }
            print(String(format: "%@ %10.1f  %11.1f   %6.2fx / %.2fx          %@", name.padding(toLength: 26, withPad: " ", startingAt: 0),
                         gf, gb, rf, rb, cmp))
        }
    }

    func loadModel() throws -> HierarchicalTokenizer {
        let path = TokenizerCheckpoint.resolve(model.path)
        if FileManager.default.fileExists(atPath: path + "/config.json") { return try TokenizerCheckpoint.load(from: path) }
        print("(no shipped checkpoint found: timing an untrained `small` model of the same shape)")
        return try HierarchicalTokenizer(config: .small)
    }

    func benchTokenizer() throws {
        let m = try loadModel()
        let c = m.config
        let x = Tensor(shape: [c.framesPerClip, c.frameSize, c.frameSize, 3])
        var rng = SeededRandom(seed: 3)
        for i in 0..<x.count { x[i] = rng.uniform() * 2 - 1 }
        var idx: [[UInt32]] = []
        let enc = time(2) { idx = m.encode(x) }
        let dec = time(2) { _ = m.decode(indices: idx.map { Optional($0) }, frames: c.framesPerClip, height: c.frameSize, width: c.frameSize) }
        let video = Double(c.framesPerClip) / Double(c.fps)
        print(String(format: "tokenizer %@: one %d-frame %d² clip (%.0f s of video): encode %.2f s (%.1fx real time), render %.2f s (%.1fx real time)",
                     c.name, c.framesPerClip, c.frameSize, video, enc, video / enc, dec, video / dec))
        // One refinement round (hv-encode --refine): a decoder forward, an input-gradient backward, a second forward.
        guard m.canRefine(height: c.frameSize, width: c.frameSize) else { return }
        let rounds = 2
        // Best of two: the first run also pays for touching the backward's buffers for the first time.
        let ref = time(2) { _ = m.refine(x, indices: idx, count: c.framesPerClip, options: CodeRefinement(rounds: rounds)) }
        print(String(format: "tokenizer %@: refinement %.2f s a round; encode with --refine 8 about %.1f s (%.2fx real time)",
                     c.name, ref / Double(rounds), enc + 8 * ref / Double(rounds), video / (enc + 8 * ref / Double(rounds))))
    }

    /// The small2 training step at 1 and 2 threads against PyTorch (`hv-bench train` has the knobs), on the crop
    /// shapes the recipes train on: 64² for the first three stages, then 64 frames of 128² (stage 4 onwards, 16 of
    /// them a step since v8). The second is timed two crops a step: two cores train them side by side
    /// (`--replicas`), so a step of 16 is eight such pairs and one update. Where the CPU has AMX, also with the convs
    /// in bfloat16 (what hv-train --bf16 trains with) against PyTorch's bfloat16 autocast.
    func benchTrain() throws {
        let bf16 = Conv3dAMX.available ? ["--bf16-ab"] : []
        try TrainBenchCommand.parse(["--peers", peers] + bf16).run()
        try TrainBenchCommand.parse(["--peers", peers, "--crop", "128", "--frames", "64", "--steps", "3", "--batch", "2"] + bf16).run()
    }

    func benchMetrics() throws {
        try runMetricsBench(frames: 16, peers: peers)
    }
}

final class BenchClip: ClipSource {
    let clip: Tensor
    init(_ c: Tensor) { clip = c }
    func sample(into x: Tensor, frames: Int, crop: Int, rng: inout SeededRandom) { x.copy(from: clip) }
}

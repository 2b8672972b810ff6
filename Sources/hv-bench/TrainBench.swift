// Tokenizer training-step bench: the real `TokenizerTrainer.trainStep` (forward, backward, gradient clipping,
// AdamW, EMA) of the `small2` model on a synthetic 64-frame 64×64 clip with the v2 recipe's losses
// (make/train.mk, TOKENIZER_V2_RECIPE), at 1 and 2 threads, against bench/peer_train_tokenizer.py (the same
// architecture in PyTorch, forward + backward + AdamW) at the same thread count.
// Each thread count runs in a child process pinned to that many cores, with OPENBLAS_NUM_THREADS set before
// OpenBLAS loads, so that both the thread pools and the peak resident memory (VmHWM) are the child's own.
import ArgumentParser
import CKernels
import Foundation
import HVCLI
import HVEngine
import HVTokenizer

struct TrainBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train",
        abstract: "Time training steps of the small2 tokenizer (64-frame 64² crop by default) at 1 and 2 threads against PyTorch.")

    @Option(help: "Thread counts to time, comma-separated; each runs pinned to that many cores.")
    var threads: String = "1,2"
    @Option(help: "Timed steps per thread count (the median is reported), after two untimed warm-up steps.")
    var steps = 5
    @Option(help: "Square crop size of the synthetic clip (the training recipe's --crop: 64 for stages 1–3, 128 after).")
    var crop = 64
    @Option(help: "Frames of the synthetic clip (default: as many as --crop, the shape the bench has always timed; the training recipes use 64).")
    var frames: Int?
    @Option(help: "Crops per step: each runs forward and backward in turn, their gradients averaged, then one update (hv-train --batch; the recipes since v8 use 16).")
    var batch = 1
    @Option(help: "Copies of the model that train a step's crops side by side (hv-train --replicas; 0: one per core, at most --batch).")
    var replicas = 0
    @Flag(help: "Also time steps with each crop in turn on all the cores (--replicas 1), alternating step by step with --replicas, and print both.")
    var replicasAb = false
    @Option(help: "Folder of the peer scripts.")
    var peers: String = "bench"
    @Flag(help: "Do not run the PyTorch peer.")
    var noPeer = false
    @Option(help: "Time in this process only, pinned to this many cores (what each child of the default run does).")
    var inProcess: Int?
    @Option(help: "Floats of one im2col column buffer (Conv3dTuning.columnFloats).")
    var columnFloats = Conv3dTuning.columnFloats
    @Option(help: "Rows an im2col chunk has at least (Conv3dTuning.minimumRows).")
    var minimumRows = Conv3dTuning.minimumRows
    @Option(help: "Also time steps with BLAS.singleThreadBelowMACs at this value, alternating step by step with 0, and print both.")
    var gemmThresholdAb: Int?
    @Flag(help: "Also time steps with every conv on the im2col path (Conv3dTuning.direct off), alternating step by step with the direct kernels, and print both.")
    var directConvAb = false
    @Flag(help: "Also time steps with Winograd off (Conv3dTuning.winograd), alternating step by step with it on, and print both.")
    var winogradAb = false
    @Flag(help: "Also time steps with the 32- and 48-channel convs off Winograd's fused path (Conv3dWinograd.minimumChannelsFused), alternating step by step with it, and print both.")
    var fusedWinogradAb = false
    @Flag(help: "Also time steps with AdamW and SiLU in Swift's SIMD16 lanes (ElementwiseKernels off), alternating step by step with the C lanes, and print both.")
    var elementwiseAb = false
    @Flag(help: "Also time steps with the stride-1 convs on AMX tiles in bfloat16 (TokenizerTrainer.bf16Convs, what hv-train --bf16 on trains with), alternating step by step with float32, and print both.")
    var bf16Ab = false
    @Flag(help: "Also time steps on one core of the same process (every loop and BLAS call on the calling thread), alternating step by step with all of its cores, and print the gain: a second core's worth measured in the same minutes.")
    var oneCoreAb = false

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1.") }
        guard replicas >= 0 else { throw ValidationError("--replicas must be 0 (one per core) or more.") }
        guard steps > 0, crop > 0 else { throw ValidationError("--steps and --crop must be positive.") }
        // Every layer of small2 must pool the clip: a whole number of its coarsest cells (64 frames × 64²).
        let cell = TokenizerConfig.small2.inputGranularity
        guard crop % cell.h == 0 else { throw ValidationError("--crop must be a multiple of \(cell.h) (one cell of small2's coarsest grid).") }
        if let f = frames, f <= 0 || f % cell.t != 0 { throw ValidationError("--frames must be a positive multiple of \(cell.t) (one cell of small2's coarsest grid).") }
        guard columnFloats > 0, minimumRows > 0 else { throw ValidationError("--column-floats and --minimum-rows must be positive.") }
        guard !threadCounts.isEmpty, threadCounts.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--threads needs positive thread counts, e.g. 1,2.")
        }
        if let n = inProcess, n <= 0 { throw ValidationError("--in-process needs a positive core count.") }
        if [gemmThresholdAb != nil, directConvAb, winogradAb, fusedWinogradAb, elementwiseAb, bf16Ab, replicasAb, oneCoreAb].filter({ $0 }).count > 1 {
            throw ValidationError("--gemm-threshold-ab, --direct-conv-ab, --winograd-ab, --fused-winograd-ab, --elementwise-ab, --bf16-ab, --replicas-ab and --one-core-ab each alternate with the default; use one at a time.")
        }
    }

    var threadCounts: [Int] { threads.split(separator: ",").compactMap { Int($0) } }
    var clipFrames: Int { frames ?? crop }

    func run() throws {
        if let n = inProcess {
            let r = try measure(cores: n)
            print(String(format: "RESULT threads=%ld ms=%.1f min_ms=%.1f maxrss_mb=%.0f workers=%ld blas_threads=%ld ms_b=%.1f",
                         n, r.median, r.min, r.maxRSS, Parallel.workers, BLAS.threads, r.medianB))
            return
        }
        let parameters = (try? HierarchicalTokenizer(config: .small2).parameterCount) ?? 0
        print("== hv-bench train: small2 tokenizer (\(parameters) parameters), \(clipFrames)-frame \(crop)² synthetic clip, batch \(batch), v2 recipe; OpenBLAS core \(BLAS.coreName)")
        for n in threadCounts {
            guard let line = runChild(cores: n) else { print("threads \(n): the child run failed"); continue }
            let f = fields(line)
            let ms = f["ms"] ?? .nan
            var peer = "peer skipped"
            if !noPeer {
                switch PeerScript.json("\(peers)/peer_train_tokenizer.py", ["\(n)", "\(crop)", "\(steps)", "f32", "\(clipFrames)", "\(batch)"]) {
                case .success(let obj):
                    if let pms = obj["ms_per_step"] as? Double {
                        let rss = obj["maxrss_mb"] as? Double ?? 0
                        peer = String(format: "PyTorch %.0f ms/step, %.0f MB; ours/peer time %.2f", pms, rss, ms / pms)
                    } else {
                        peer = "peer SKIPPED — \(obj["skip"] as? String ?? "no ms_per_step in its output")"
                    }
                case .failure(let s): peer = "peer SKIPPED — \(s.reason)"
                }
            }
            print(String(format: "threads %ld: %.0f ms/step (median of %ld, min %.0f), peak resident %.0f MB, %ld workers; %@",
                         n, ms, steps, f["min_ms"] ?? .nan, f["maxrss_mb"] ?? .nan, Int(f["workers"] ?? 0), peer))
            if !noPeer && batch > 1 && n > 1 {
                // PyTorch's own way to put a batch on several threads: crops stacked on the batch axis, one tensor
                // of n crops a pass (the same memory per core as our copies side by side).
                let stacked = min(n, batch)
                switch PeerScript.json("\(peers)/peer_train_tokenizer.py", ["\(n)", "\(crop)", "\(steps)", "f32", "\(clipFrames)", "\(batch)", "\(stacked)"]) {
                case .success(let obj):
                    if let pms = obj["ms_per_step"] as? Double {
                        print(String(format: "threads %ld: PyTorch with %ld crops stacked a pass: %.0f ms/step, %.0f MB; ours/peer time %.2f",
                                     n, stacked, pms, obj["maxrss_mb"] as? Double ?? 0, ms / pms))
                    } else {
                        print("threads \(n): PyTorch with \(stacked) crops stacked: SKIPPED — \(obj["skip"] as? String ?? "no ms_per_step in its output")")
                    }
                case .failure(let e): print("threads \(n): PyTorch with \(stacked) crops stacked: SKIPPED — \(e.reason)")
                }
            }
            if directConvAb, let b = f["ms_b"] {
                print(String(format: "threads %ld: every conv through im2col: %.0f ms/step, %.3f of the steps without",
                             n, b, b / ms))
            }
            if winogradAb, let b = f["ms_b"] {
                print(String(format: "threads %ld: without Winograd: %.0f ms/step, %.3f of the steps with it",
                             n, b, b / ms))
            }
            if fusedWinogradAb, let b = f["ms_b"] {
                print(String(format: "threads %ld: thin convs without Winograd's fused path: %.0f ms/step, %.3f of the steps with it",
                             n, b, b / ms))
            }
            if elementwiseAb, let b = f["ms_b"] {
                print(String(format: "threads %ld: AdamW and SiLU in Swift lanes: %.0f ms/step, %.3f of the steps in C lanes",
                             n, b, b / ms))
            }
            if bf16Ab, let b = f["ms_b"] {
                var peerB = "peer skipped"
                if !noPeer {
                    switch PeerScript.json("\(peers)/peer_train_tokenizer.py", ["\(n)", "\(crop)", "\(steps)", "bf16", "\(clipFrames)", "\(batch)"]) {
                    case .success(let obj):
                        if let pms = obj["ms_per_step"] as? Double {
                            peerB = String(format: "PyTorch under bfloat16 autocast %.0f ms/step; ours/peer time %.2f", pms, b / pms)
                        } else {
                            peerB = "peer SKIPPED — \(obj["skip"] as? String ?? "no ms_per_step in its output")"
                        }
                    case .failure(let s): peerB = "peer SKIPPED — \(s.reason)"
                    }
                }
                print(String(format: "threads %ld: convs on AMX tiles in bfloat16: %.0f ms/step, %.3f of the float32 steps%@; %@",
                             n, b, b / ms, Conv3dAMX.available ? "" : " (no AMX on this CPU: the same path)", peerB))
            }
            if replicasAb, let b = f["ms_b"] {
                print(String(format: "threads %ld: each crop in turn on all cores (--replicas 1): %.0f ms/step, %.3f of the steps side by side",
                             n, b, b / ms))
            }
            if oneCoreAb, let b = f["ms_b"] {
                print(String(format: "threads %ld: the same process on one core: %.0f ms/step; %ld cores gain %.2f× over one in the same minutes",
                             n, b, n, b / ms))
            }
            if let t = gemmThresholdAb, let b = f["ms_b"] {
                print(String(format: "threads %ld: single-threaded GEMMs below %ld MACs: %.0f ms/step, %.3f of the steps without",
                             n, t, b, b / ms))
            }
        }
    }

    /// Runs `/proc/self/exe train --in-process n` with OPENBLAS_NUM_THREADS=n; returns its RESULT line.
    func runChild(cores n: Int) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        p.arguments = ["train", "--in-process", "\(n)", "--steps", "\(steps)", "--crop", "\(crop)", "--frames", "\(clipFrames)", "--batch", "\(batch)", "--replicas", "\(replicas)"]
            + ["--column-floats", "\(columnFloats)", "--minimum-rows", "\(minimumRows)"]
            + (gemmThresholdAb.map { ["--gemm-threshold-ab", "\($0)"] } ?? [])
            + (directConvAb ? ["--direct-conv-ab"] : []) + (winogradAb ? ["--winograd-ab"] : []) + (fusedWinogradAb ? ["--fused-winograd-ab"] : []) + (elementwiseAb ? ["--elementwise-ab"] : []) + (bf16Ab ? ["--bf16-ab"] : [])
            + (replicasAb ? ["--replicas-ab"] : [])
            + (oneCoreAb ? ["--one-core-ab"] : [])
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = "\(n)"
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init).last { $0.hasPrefix("RESULT") }
    }

    func fields(_ line: String) -> [String: Double] {
        var d: [String: Double] = [:]
        for part in line.split(separator: " ") {
            let kv = part.split(separator: "=")
            if kv.count == 2, let v = Double(kv[1]) { d[String(kv[0])] = v }
        }
        return d
    }

    /// Median and best milliseconds per training step and the peak resident set (MB), pinned to `cores` cores;
    /// with `--gemm-threshold-ab`, also the median of the interleaved steps run with that GEMM threshold.
    func measure(cores: Int) throws -> (median: Double, min: Double, maxRSS: Double, medianB: Double) {
        pinToFirstCores(cores)
        (Conv3dTuning.columnFloats, Conv3dTuning.minimumRows) = (columnFloats, minimumRows)
        let model = try HierarchicalTokenizer(config: .small2)
        var options = Self.recipe(crop: crop, batch: batch)
        options.replicas = replicas
        let trainer = TokenizerTrainer(model: model, options: options)
        options.replicas = 1
        // The one-core arm trains the crops in turn: side-by-side copies would still take a core each.
        let inTurn = replicasAb || oneCoreAb ? TokenizerTrainer(model: model, options: options) : nil
        let clip = Tensor(shape: [clipFrames, crop, crop, 3])
        var rng = SeededRandom(seed: 4)
        for i in 0..<clip.count { clip[i] = rng.uniform() * 2 - 1 }
        let source = BenchClip(clip)
        for _ in 0..<2 { _ = trainer.trainStep(source: source) }
        func timed() -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = trainer.trainStep(source: source)
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
        }
        var times: [Double] = [], timesB: [Double] = []
        for _ in 0..<steps {
            BLAS.singleThreadBelowMACs = 0
            times.append(timed())
            if let t = gemmThresholdAb {
                BLAS.singleThreadBelowMACs = t
                timesB.append(timed())
                BLAS.singleThreadBelowMACs = 0
            } else if directConvAb {
                let saved = Conv3dTuning.direct
                Conv3dTuning.direct = false
                timesB.append(timed())
                Conv3dTuning.direct = saved
            } else if winogradAb {
                let saved = Conv3dTuning.winograd
                Conv3dTuning.winograd = false
                timesB.append(timed())
                Conv3dTuning.winograd = saved
            } else if fusedWinogradAb {
                let saved = Conv3dWinograd.minimumChannelsFused
                Conv3dWinograd.minimumChannelsFused = .max
                timesB.append(timed())
                Conv3dWinograd.minimumChannelsFused = saved
            } else if elementwiseAb {
                ElementwiseKernels.enabled = false
                timesB.append(timed())
                ElementwiseKernels.enabled = true
            } else if oneCoreAb, let inTurn {
                let saved = hv_thread_worker_cap()
                hv_set_thread_worker_cap(1)
                let t0 = DispatchTime.now().uptimeNanoseconds
                BLAS.singleThreaded { _ = inTurn.trainStep(source: source) }
                timesB.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                hv_set_thread_worker_cap(saved)
            } else if let inTurn {
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = inTurn.trainStep(source: source)
                timesB.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            } else if bf16Ab {
                trainer.bf16Convs = true
                timesB.append(timed())
                trainer.bf16Convs = false
            }
        }
        times.sort(); timesB.sort()
        #if os(Linux)
        let maxRSS = rssMiB().peak                              // this image's own peak (see rssMiB)
        #else
        var usage = rusage()
        getrusage(RUSAGE_SELF, &usage)
        let maxRSS = Double(usage.ru_maxrss) / (1024 * 1024)   // bytes on Darwin
        #endif
        return (times[times.count / 2], times[0], maxRSS, timesB.isEmpty ? .nan : timesB[timesB.count / 2])
    }

    /// The v2 recipe's options (make/train.mk), except that every step trains all four layers (no truncated
    /// steps), so that each timed step does the same work: the most expensive step of a real run.
    static func recipe(crop: Int, batch: Int = 1) -> TokenizerTrainingOptions {
        var o = TokenizerTrainingOptions()
        o.crop = crop; o.batch = batch; o.steps = 16000; o.learningRate = 3e-4
        o.l2Weight = 1; o.entropyWeight = 0.005; o.commitWeight = 0.05; o.perceptualWeight = 0.2
        o.progressiveSchedule = [0, 0, 0]; o.quantizationWarmup = 0.3; o.adversarialWeight = 0
        o.truncationProbability = 0; o.residualWeight = 0.001; o.emaDecay = 0.999
        return o
    }
}

/// Restricts this process to CPUs 0..<n (as `taskset -c 0-(n−1)` would). Glibc declares sched_setaffinity only
/// under _GNU_SOURCE, which the Swift Glibc module does not define, so it is looked up at run time.
func pinToFirstCores(_ n: Int) {
    typealias SetAffinity = @convention(c) (Int32, Int, UnsafeRawPointer) -> Int32
    guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_setaffinity") else { return }
    var mask = [UInt64](repeating: 0, count: 16)   // 1024 CPUs, glibc's cpu_set_t
    for c in 0..<min(n, 1024) { mask[c / 64] |= 1 << UInt64(c % 64) }
    _ = mask.withUnsafeBytes { unsafeBitCast(sym, to: SetAffinity.self)(0, $0.count, $0.baseAddress!) }
}

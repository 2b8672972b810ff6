// hv-bench metrics: frames per second of PSNR + SSIM + MS-SSIM on 256² RGB pairs (FrameScorer, every
// core) against scikit-image on the same frames (bench/peer_metrics.py: skimage PSNR + SSIM + an MS-SSIM on
// scipy's Gaussian filter, the filter skimage uses), measured in the same run and printed as a ratio.
// Self-contained: the lead folds it into the one hv-bench command.
import Dispatch
import Foundation
import HVMedia
import HVMetrics

/// Runs the metrics bench on `frames` pairs; `peers` is the folder holding peer_metrics.py.
func runMetricsBench(frames: Int, peers: String = "bench") throws {
    let n = max(1, frames), side = 256
    let (ref, dist) = metricsBenchFrames(count: n, side: side)
    let cores = ProcessInfo.processInfo.activeProcessorCount
    func fps(workers: Int) throws -> Double {
        let scorer = try FrameScorer(width: side, height: side, luma: false, workers: workers)
        _ = try scorer.score(Array(ref.prefix(workers)), Array(dist.prefix(workers)))  // warm-up
        var best = Double.infinity
        for _ in 0..<3 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let s = try scorer.score(ref, dist)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            precondition(s.count == n && s.allSatisfy { $0.msssim != nil })  // bench-internal frames, never user input
        }
        return Double(n) / best
    }
    let ours = try fps(workers: cores), single = try fps(workers: 1)
    print(String(format: "metrics PSNR+SSIM+MS-SSIM, %d pairs of %dx%d RGB: %.1f frames/s on %d cores (%.1f on 1 core, %.2fx scaling)",
                 n, side, side, ours, cores, single, ours / single))
    guard let peer = try metricsPeerFPS(ref: ref, dist: dist, script: "\(peers)/peer_metrics.py") else {
        print("metrics peer: SKIPPED — scikit-image is not installed (pip install scikit-image to compare)")
        return
    }
    print(String(format: "metrics vs scikit-image on the same frames: %.1f vs %.2f frames/s = %.1fx faster (goal >= 10x)",
                 ours, peer, ours / peer))
}

/// Deterministic test-card-like frames (gradients, a moving disc, texture) and noisy, shifted distortions.
func metricsBenchFrames(count: Int, side: Int) -> ([RGBFrame], [RGBFrame]) {
    var state: UInt64 = 0x9E3779B97F4A7C15
    func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
    var ref: [RGBFrame] = [], dist: [RGBFrame] = []
    for k in 0..<count {
        var a = [UInt8](repeating: 0, count: side * side * 3), b = a
        for y in 0..<side {
            for x in 0..<side {
                let dx = x - (side / 4 + 4 * k % side), dy = y - side / 2
                let disc = dx * dx + dy * dy < (side / 6) * (side / 6)
                let texture = Int(next() % 32)
                for c in 0..<3 {
                    let base = disc ? 200 - 40 * c : (x * (c + 1) + y * (3 - c)) / 3 % 256
                    let v = min(255, max(0, base + texture - 16))
                    let noise = Int(next() % 25) - 12
                    a[(y * side + x) * 3 + c] = UInt8(v)
                    b[(y * side + x) * 3 + c] = UInt8(min(255, max(0, v + noise)))
                }
            }
        }
        ref.append(RGBFrame(width: side, height: side, pixels: a))
        dist.append(RGBFrame(width: side, height: side, pixels: b))
    }
    return (ref, dist)
}

/// Writes the frames to a temporary raw file and times the scikit-image peer on them; nil when it cannot run.
func metricsPeerFPS(ref: [RGBFrame], dist: [RGBFrame], script: String) throws -> Double? {
    guard FileManager.default.fileExists(atPath: script) else { return nil }
    let path = NSTemporaryDirectory() + "hv-bench-metrics-\(getpid()).rgb"
    defer { try? FileManager.default.removeItem(atPath: path) }
    var data = Data()
    for f in ref + dist { data.append(contentsOf: f.pixels) }
    try data.write(to: URL(fileURLWithPath: path))
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", script, "\(ref.count)", "\(ref[0].width)", "\(ref[0].height)", path]
    let out = Pipe()
    p.standardOutput = out; p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return nil }
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    guard p.terminationStatus == 0, !text.hasPrefix("SKIP") else { return nil }
    return Double(text.split(separator: "\n").last.map(String.init) ?? "")
}

// Training and evaluation data for the tokenizer: y4m files (frames already at the model's rate and
// size, as `hv-decode --fps 8 --size 256` writes them) or any other video (decoded the same way on load),
// held in memory as 8-bit RGB (192 KiB per 256² frame), sampled as random 64-frame windows with random
// square crops and horizontal flips.
import Foundation
import HVEngine
import HVMedia

/// Where training clips come from.
public protocol ClipSource: AnyObject {
    /// Fills `x` with a [frames, crop, crop, 3] clip in [-1, 1].
    func sample(into x: Tensor, frames: Int, crop: Int, rng: inout SeededRandom)
}

public final class ClipDataset: ClipSource {
    public struct Video {
        public let name: String
        public let width: Int
        public let height: Int
        public let frames: [[UInt8]]   // RGB24 per frame
        public init(name: String, width: Int, height: Int, frames: [[UInt8]]) {
            self.name = name; self.width = width; self.height = height; self.frames = frames
        }
    }

    public let videos: [Video]
    public var totalFrames: Int { videos.reduce(0) { $0 + $1.frames.count } }
    /// Sampling by source: `sources[i]` is video i's source; a window's source is drawn with probability
    /// `sourceWeights[s]`, then a video of that source by its length. Empty: every frame equally likely.
    public private(set) var sources: [String] = []
    public private(set) var sourceWeights: [String: Double] = [:]
    private var bySource: [(String, Double, [Int])] = []

    public init(videos: [Video]) { self.videos = videos }

    /// Samples sources with the given weights (normalised here); every video needs a source with a weight > 0.
    public func setSources(_ names: [String], weights: [String: Double]) {
        precondition(names.count == videos.count, "one source per video")
        sources = names
        let total = weights.values.reduce(0, +)
        sourceWeights = weights.mapValues { $0 / total }
        bySource = sourceWeights.keys.sorted().map { s in (s, sourceWeights[s]!, names.indices.filter { names[$0] == s }) }
            .filter { !$0.2.isEmpty }
    }

    /// Source weights under the caps of the training recipe: every source equal, then the sources of each capped
    /// kind (e.g. cartoon) together at most their cap and no source above `maxShare`, the excess spread over the
    /// rest. With too few sources for `maxShare` (fewer than 1/maxShare), the kind caps still hold and the other
    /// sources share the remainder equally.
    public static func cappedWeights(sources: [String], kinds: [String: String], maxShare: Double = 0.25,
                                     kindCaps: [String: Double] = ["cartoon": 0.10]) -> [String: Double] {
        let names = Array(Set(sources)).sorted()
        var w = Dictionary(uniqueKeysWithValues: names.map { ($0, 1.0 / Double(names.count)) })
        var kindFixed = Set<String>()
        for _ in 0..<20 {
            var fixed = kindFixed
            for (kind, cap) in kindCaps {
                let members = names.filter { kinds[$0] == kind }
                let share = members.reduce(0) { $0 + w[$1]! }
                if share > cap { for m in members { w[m]! *= cap / share; fixed.insert(m); kindFixed.insert(m) } }
            }
            for n in names where w[n]! > maxShare { w[n] = maxShare; fixed.insert(n) }
            let free = names.filter { !fixed.contains($0) }
            let excess = 1 - names.reduce(0) { $0 + w[$1]! }
            if abs(excess) < 1e-12 { break }
            if free.isEmpty {
                let open = names.filter { !kindFixed.contains($0) }
                for n in open { w[n]! += excess / Double(open.count) }
                break
            }
            let freeTotal = free.reduce(0) { $0 + w[$1]! }
            for n in free { w[n]! += excess * w[n]! / freeTotal }
        }
        return w
    }

    /// Loads every frame of each y4m file. Throws if a file cannot be read or is not y4m.
    public convenience init(paths: [String]) throws {
        try self.init(videos: paths.map { try ClipDataset.readY4M($0) })
    }

    /// Every frame of a y4m file, as it is (no resampling: y4m is expected at the model's rate and size).
    public static func readY4M(_ p: String) throws -> Video {
        let fd = open(p, O_RDONLY)
        guard fd >= 0 else { throw TokenizerError.checkpointUnreadable(path: p, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let reader = try Y4MReader(fileDescriptor: fd, name: p)
        var frames: [[UInt8]] = []
        while let f = try reader.nextFrame() { frames.append(f.pixels) }
        return Video(name: (p as NSString).lastPathComponent, width: reader.header.width,
                     height: reader.header.height, frames: frames)
    }

    /// A window of any video libavformat reads, decoded as `hv-decode --fps FPS --size SIZE` would
    /// (time-based resampling, short side scaled to `size`, centre crop).
    public static func decode(_ p: String, fps: Int, size: Int, start: Double = 0, duration: Double? = nil,
                              name: String? = nil) throws -> Video {
        var o = DecodeOptions()
        o.fps = FrameRate(fps); o.size = size; o.start = start; o.duration = duration
        let d = try VideoDecoder(path: p, options: o)
        var frames: [[UInt8]] = []
        while let f = try d.nextFrame() { frames.append(f.pixels) }
        guard !frames.isEmpty else { throw MediaError.decodeFailed(name: p, reason: "no frames in the requested range") }
        return Video(name: name ?? (p as NSString).lastPathComponent, width: size, height: size, frames: frames)
    }

    /// Fills `x` [frames, crop, crop, 3] with a random window from a random video (weighted by length),
    /// values mapped to [-1, 1]. Short videos are padded by repeating their last frame.
    public func sample(into x: Tensor, frames: Int, crop: Int, rng: inout SeededRandom) {
        var candidates = Array(videos.indices)
        if !bySource.isEmpty {
            var u = Double(rng.uniform())
            candidates = bySource.last!.2
            for (_, w, members) in bySource {
                if u < w { candidates = members; break }
                u -= w
            }
        }
        let total = candidates.reduce(0) { $0 + videos[$1].frames.count }
        var pick = Int(rng.next() % UInt64(max(total, 1)))
        var v = videos[candidates[0]]
        for i in candidates {
            if pick < videos[i].frames.count { v = videos[i]; break }
            pick -= videos[i].frames.count
        }
        let start = v.frames.count > frames ? Int(rng.next() % UInt64(v.frames.count - frames + 1)) : 0
        let cy = v.height > crop ? Int(rng.next() % UInt64(v.height - crop + 1)) : 0
        let cx = v.width > crop ? Int(rng.next() % UInt64(v.width - crop + 1)) : 0
        let flip = rng.next() & 1 == 1
        fill(x, video: v, start: start, frames: frames, y0: cy, x0: cx, size: crop, flip: flip)
    }

    /// Fills `x` with frames [start, start+frames) of `video` cropped at (y0, x0), size × size.
    public func fill(_ x: Tensor, video v: Video, start: Int, frames: Int, y0: Int, x0: Int, size: Int, flip: Bool = false) {
        x.resize([frames, size, size, 3])
        let scale: Float = 1.0 / 127.5
        Parallel.forEach(frames) { t in
            let src = v.frames[min(start + t, v.frames.count - 1)]
            src.withUnsafeBufferPointer { s in
                let dst = x.data + t * size * size * 3
                for y in 0..<size {
                    for xx in 0..<size {
                        let sx = flip ? x0 + size - 1 - xx : x0 + xx
                        let si = ((y0 + y) * v.width + sx) * 3
                        let di = (y * size + xx) * 3
                        dst[di] = Float(s[si]) * scale - 1
                        dst[di + 1] = Float(s[si + 1]) * scale - 1
                        dst[di + 2] = Float(s[si + 2]) * scale - 1
                    }
                }
            }
        }
    }
}

/// Conversions between RGB frames and model tensors.
public enum VideoTensor {
    /// frames (all width×height) → [T, H, W, 3] in [-1, 1]; pads to `frames` by repeating the last frame.
    public static func fromFrames(_ list: [RGBFrame], frames: Int, into x: Tensor) {
        let w = list[0].width, h = list[0].height
        x.resize([frames, h, w, 3])
        Parallel.forEach(frames) { t in
            let f = list[min(t, list.count - 1)]
            f.pixels.withUnsafeBufferPointer { s in
                let dst = x.data + t * h * w * 3
                for i in 0..<(h * w * 3) { dst[i] = Float(s[i]) / 127.5 - 1 }
            }
        }
    }

    /// [T, H, W, 3] → frames, clamped and rounded to 8 bits; only the first `count` frames.
    public static func toFrames(_ x: Tensor, count: Int) -> [RGBFrame] {
        let h = x.shape[1], w = x.shape[2]
        var out = [RGBFrame](repeating: RGBFrame(width: w, height: h), count: count)
        out.withUnsafeMutableBufferPointer { frames in
            Parallel.forEach(count) { t in
                let src = x.data + t * h * w * 3
                var px = [UInt8](repeating: 0, count: h * w * 3)
                for i in 0..<px.count {
                    let v = (src[i] + 1) * 127.5
                    px[i] = UInt8(max(0, min(255, v.rounded())))
                }
                frames[t] = RGBFrame(width: w, height: h, pixels: px)
            }
        }
        return out
    }

    /// PSNR (dB) between two tensors in [-1, 1], after 8-bit quantisation of the first.
    public static func psnr(_ a: Tensor, _ b: Tensor, frames: Int? = nil) -> Double {
        let n = frames.map { $0 * a.shape[1] * a.shape[2] * a.shape[3] } ?? a.count
        var se: Double = 0
        for i in 0..<n {
            let va = Double(max(0, min(255, ((a[i] + 1) * 127.5).rounded())))
            let vb = Double(((b[i] + 1) * 127.5).rounded())
            se += (va - vb) * (va - vb)
        }
        let mse = se / Double(n)
        return mse == 0 ? 100 : 10 * log10(255 * 255 / mse)
    }
}

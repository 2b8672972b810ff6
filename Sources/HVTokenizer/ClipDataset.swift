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

    public init(videos: [Video]) { self.videos = videos }

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
        let total = totalFrames
        var pick = Int(rng.next() % UInt64(max(total, 1)))
        var v = videos[0]
        for candidate in videos {
            if pick < candidate.frames.count { v = candidate; break }
            pick -= candidate.frames.count
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

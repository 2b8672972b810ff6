// How a source video is cut into clips: consecutive windows of `clipSeconds` (default 8 s = 64 frames
// at 8 fps, the generator's training clip) from the start; a final shorter window is kept only when it
// lasts at least `minSeconds` (default 1 s), so that no clip is too short to tokenise.
import Foundation

public struct ClipPlan: Equatable {
    public var clipSeconds: Double
    public var sampleFps: Double
    public var minSeconds: Double

    public init(clipSeconds: Double = 8, sampleFps: Double = 8, minSeconds: Double = 1) {
        self.clipSeconds = clipSeconds; self.sampleFps = sampleFps; self.minSeconds = minSeconds
    }

    public struct Window: Equatable {
        public var index: Int
        public var startSeconds: Double
        public var durationSeconds: Double
        public var startFrame: Int     // in frames at sampleFps
        public var frameCount: Int     // at sampleFps
    }

    /// The clips of a video lasting `duration` seconds.
    public func windows(duration: Double) -> [Window] {
        guard duration > 0, clipSeconds > 0, sampleFps > 0 else { return [] }
        let eps = 1e-6  // container durations like 15.999999 are 16 s
        let framesPerClip = Int((clipSeconds * sampleFps + eps).rounded(.down))
        let full = Int(((duration + eps) / clipSeconds).rounded(.down))
        var out = (0..<full).map { i in
            Window(index: i, startSeconds: Double(i) * clipSeconds, durationSeconds: clipSeconds,
                   startFrame: i * framesPerClip, frameCount: framesPerClip)
        }
        let rest = duration - Double(full) * clipSeconds
        let restFrames = Int((rest * sampleFps + eps).rounded(.down))
        if rest > eps && rest + eps >= minSeconds && restFrames > 0 {
            out.append(Window(index: full, startSeconds: Double(full) * clipSeconds, durationSeconds: rest,
                              startFrame: full * framesPerClip, frameCount: restFrames))
        }
        return out
    }
}

/// Selects a slice of the manifest's work: clips whose `shard_key % count` lies in `first...last`.
/// `shard_key` is a stable hash of the video key and clip index, so every machine computes the same
/// slices without talking to the others.
public struct ShardSelector: Equatable {
    public var first: Int
    public var last: Int
    public var count: Int

    public init(first: Int, last: Int, count: Int) { self.first = first; self.last = last; self.count = count }

    /// Parses `K/N` (one shard of N) or `A-B/N` (shards A..B of N); without `/N`, N is `defaultCount`.
    public init(parsing spec: String, defaultCount: Int = 100) throws {
        let parts = spec.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let rangePart = parts.first else { throw ManifestError.badShardSpec(spec: spec) }
        var n = defaultCount
        if parts.count == 2 { guard let v = Int(parts[1]), v > 0 else { throw ManifestError.badShardSpec(spec: spec) }; n = v }
        let bounds = rangePart.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 1 || bounds.count == 2, let a = Int(bounds[0]), let b = Int(bounds.last!),
              a >= 0, a <= b, b < n else { throw ManifestError.badShardSpec(spec: spec) }
        self.init(first: a, last: b, count: n)
    }

    /// The shard (0..<count) of a clip.
    public func shard(ofKey key: Int64) -> Int { Int(key % Int64(count)) }
    public func contains(key: Int64) -> Bool { (first...last).contains(shard(ofKey: key)) }

    /// The SQL condition on `clip.shard_key`.
    var sql: String { "(clip.shard_key % \(count)) BETWEEN \(first) AND \(last)" }
}

public enum StableKeys {
    /// The work-shard key of clip `index` of video `videoKey` (non-negative, 63 bits).
    public static func shardKey(videoKey: String, clipIndex: Int) -> Int64 {
        Int64(bitPattern: stableHash("\(videoKey)#\(clipIndex)") >> 1)
    }

    /// Whether video `videoKey` goes to the validation split: a uniform number in [0, 1) from a hash of
    /// the seed and the key, compared with `valFraction`. Whole videos stay in one split.
    public static func isValidation(videoKey: String, valFraction: Double, seed: UInt64) -> Bool {
        let u = Double(stableHash("split:\(seed):\(videoKey)") >> 11) / Double(1 << 53)
        return u < valFraction
    }
}

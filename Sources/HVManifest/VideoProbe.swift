// Source-video metadata (duration, frame rate, size) from `ffprobe -show_streams -show_format` as JSON,
// run as a subprocess so that the manifest does not depend on the FFmpeg libraries or on HVMedia.
import Foundation

public struct VideoInfo: Equatable {
    public var duration: Double
    public var fps: Double
    public var width: Int
    public var height: Int
    public var frameCount: Int?
    public init(duration: Double, fps: Double, width: Int, height: Int, frameCount: Int? = nil) {
        self.duration = duration; self.fps = fps; self.width = width; self.height = height; self.frameCount = frameCount
    }
}

public enum VideoProbe {
    /// Probes `path` with `ffprobe` (found on PATH). Throws `.probeFailed` for non-video files.
    public static func probe(_ path: String, ffprobe: String = "ffprobe") throws -> VideoInfo {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [ffprobe, "-v", "error", "-print_format", "json", "-show_streams", "-show_format", path]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw ManifestError.ffprobeUnavailable(reason: "\(error)") }
        // Drain stdout before waiting (a full pipe would block ffprobe); with -v error, stderr stays far
        // below a pipe's 64 KiB and is read afterwards.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if process.terminationStatus == 127 {
            throw ManifestError.ffprobeUnavailable(reason: "'\(ffprobe)' not found on PATH")
        }
        if process.terminationStatus != 0 {
            let message = String(decoding: errData, as: UTF8.self)
                .split(separator: "\n").last.map(String.init) ?? "exit status \(process.terminationStatus)"
            throw ManifestError.probeFailed(path: path, reason: message)
        }
        return try parse(outData, path: path)
    }

    /// Parses ffprobe's JSON: the first video stream gives size and rate; duration comes from the stream,
    /// else from the container.
    public static func parse(_ json: Data, path: String) throws -> VideoInfo {
        guard let root = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            throw ManifestError.probeFailed(path: path, reason: "ffprobe printed no JSON")
        }
        let streams = root["streams"] as? [[String: Any]] ?? []
        guard let video = streams.first(where: { ($0["codec_type"] as? String) == "video"
                                                 && (($0["disposition"] as? [String: Any])?["attached_pic"] as? Int ?? 0) == 0 }) else {
            throw ManifestError.probeFailed(path: path, reason: "no video stream")
        }
        guard let width = video["width"] as? Int, let height = video["height"] as? Int, width > 0, height > 0 else {
            throw ManifestError.probeFailed(path: path, reason: "video stream has no size")
        }
        // avg_frame_rate can be 0/0 (Theora); r_frame_rate is the fallback.
        let fps = [video["avg_frame_rate"], video["r_frame_rate"]].compactMap { rational($0 as? String) }.first { $0 > 0 && $0 < 1000 }
        guard let fps else { throw ManifestError.probeFailed(path: path, reason: "video stream has no frame rate") }
        let format = root["format"] as? [String: Any] ?? [:]
        let duration = [video["duration"], format["duration"]].compactMap { ($0 as? String).flatMap(Double.init) }.first { $0 > 0 }
        guard let duration else { throw ManifestError.probeFailed(path: path, reason: "no duration") }
        let frames = (video["nb_frames"] as? String).flatMap(Int.init)
        return VideoInfo(duration: duration, fps: fps, width: width, height: height, frameCount: frames)
    }

    static func rational(_ s: String?) -> Double? {
        guard let s else { return nil }
        let parts = s.split(separator: "/")
        if parts.count == 2, let n = Double(parts[0]), let d = Double(parts[1]), d != 0 { return n / d }
        if parts.count == 1 { return Double(parts[0]) }
        return nil
    }
}

// The paper's Table 3 baseline, automated: encode the reference frames with libx265 (ffmpeg CLI) at the
// bit rate that matches a token file's bits per pixel, decode, and return the frames and the real bpp.
import Foundation
import HVMedia

public enum HEVCReference {
    public struct Result { public var frames: [RGBFrame]; public var bitsPerPixel: Double }

    public static func encode(_ frames: [RGBFrame], bitsPerPixel: Double, fps: Int) throws -> Result {
        let w = frames[0].width, h = frames[0].height
        let dir = NSTemporaryDirectory() + "hv-hevc-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let raw = dir + "/in.rgb", mkv = dir + "/out.mkv", back = dir + "/out.rgb"
        var data = Data(capacity: frames.count * w * h * 3)
        for f in frames { data.append(contentsOf: f.pixels) }
        try data.write(to: URL(fileURLWithPath: raw))
        let kbps = max(1, Int((bitsPerPixel * Double(w * h * fps) / 1000).rounded()))
        try run(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "\(w)x\(h)", "-r", "\(fps)", "-i", raw,
                 "-c:v", "libx265", "-b:v", "\(kbps)k", "-x265-params", "log-level=error:pass=1", "-pix_fmt", "yuv420p", mkv])
        try run(["-v", "error", "-y", "-i", mkv, "-f", "rawvideo", "-pix_fmt", "rgb24", back])
        let decoded = try Data(contentsOf: URL(fileURLWithPath: back))
        let n = min(frames.count, decoded.count / (w * h * 3))
        let out = (0..<n).map { i in RGBFrame(width: w, height: h, pixels: [UInt8](decoded[(i * w * h * 3)..<((i + 1) * w * h * 3)])) }
        let size = (try FileManager.default.attributesOfItem(atPath: mkv)[.size] as? Int) ?? 0
        return Result(frames: out, bitsPerPixel: Double(size * 8) / Double(frames.count * w * h))
    }

    static func run(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ffmpeg"] + args
        p.standardOutput = FileHandle.nullDevice
        try p.run(); p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw MediaError.encodeFailed(name: "hevc", reason: "ffmpeg/libx265 failed (is ffmpeg installed?)") }
    }
}

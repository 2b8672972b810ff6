// hv-decode: any video libavformat reads → y4m frames at a fixed rate and square size (8 fps, 256×256
// by default: what the tokenizer expects).
import ArgumentParser
import Foundation
import HVCLI
import HVMedia

struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv-decode",
        abstract: "Decode a video file to y4m frames at a fixed rate and size.",
        discussion: """
        Frames are resampled by time (each output frame shows the input frame nearest to its time), the short
        side is scaled to --size and the centre cropped square (or, with --crop none, the long side is scaled
        and the frame letterboxed). Rotation metadata is applied. y4m goes to stdout unless -o is given.
        Example: hv-decode clip.mp4 | hv-encode > clip.hvt
        """)

    @Argument(help: "Input video (any container libavformat reads).")
    var input: String

    @Option(name: [.short, .customLong("output")], help: "Write y4m to this file instead of stdout.")
    var output: String?

    @Option(help: "Output frame rate: an integer or a fraction like 24000/1001.")
    var fps: String = "8"

    @Option(help: "Output frame size in pixels (square).")
    var size: Int = 256

    /// How a frame that is not square becomes one.
    enum Crop: String, ExpressibleByArgument, CaseIterable {
        case center, none
    }

    /// The y4m chroma layout written.
    enum Chroma: String, ExpressibleByArgument, CaseIterable {
        case c420 = "420", c444 = "444"
        var colorSpace: Y4MColorSpace { self == .c444 ? .c444 : .c420jpeg }
    }

    @Option(help: "center: scale the short side and crop; none: scale the long side and letterbox.")
    var crop: Crop = .center

    @Option(help: "Start time in seconds.")
    var start: Double = 0

    @Option(help: "Duration in seconds (default: to the end).")
    var duration: Double?

    @Option(help: "Stop after this many output frames.")
    var frames: Int?

    @Option(help: "y4m chroma layout: 420 (420jpeg) or 444.")
    var pix: Chroma = .c420

    func parsedRate() throws -> FrameRate {
        let parts = fps.split(separator: "/")
        if parts.count == 1, let n = Int(parts[0]), n > 0, n <= 1000 { return FrameRate(n) }
        if parts.count == 2, let n = Int(parts[0]), let d = Int(parts[1]), n > 0, d > 0, Double(n) / Double(d) <= 1000 { return FrameRate(n, d) }
        throw ValidationError("--fps must be a positive integer or fraction (got '\(fps)').")
    }

    func validate() throws {
        _ = try parsedRate()
        guard (2...8192).contains(size), size % 2 == 0 else { throw ValidationError("--size must be an even number from 2 to 8192.") }
        guard start >= 0 else { throw ValidationError("--start must not be negative.") }
        if let d = duration, d <= 0 { throw ValidationError("--duration must be positive.") }
        if let f = frames, f <= 0 { throw ValidationError("--frames must be positive.") }
    }

    func run() throws {
        var o = DecodeOptions()
        o.fps = try parsedRate(); o.size = size; o.crop = crop == .center; o.start = start
        o.duration = duration; o.maxFrames = frames
        let decoder = try VideoDecoder(path: input, options: o)
        let out = try OutputFile(output, what: "y4m video")
        let writer = Y4MWriter(width: size, height: size, frameRate: o.fps, colorSpace: pix.colorSpace) {
            try out.write($0)
        }
        let progress = Progress("hv-decode")
        var n = 0
        while let f = try decoder.nextYCbCrFrame(subsampled: pix == .c420) {
            try writer.write(f)
            n += 1
            progress.update("\(n) frames")
        }
        guard n > 0 else { throw MediaError.decodeFailed(name: input, reason: "no frames in the requested range") }
        try out.commit()
        progress.finish("\(n) frames")
    }
}

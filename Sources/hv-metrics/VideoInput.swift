// One side of an hv-metrics comparison as a stream of RGB frames: a y4m file or pipe (read as is, never
// rescaled — metrics on a rescaled picture would measure the scaler), or any other file libavformat reads,
// decoded like hv-decode to a square size and fixed rate chosen to match the other side when it is y4m.
import Foundation
import HVCLI
import HVMedia

final class VideoInput {
    let name: String
    let width: Int
    let height: Int
    let frameRate: FrameRate?
    private let y4m: Y4MReader?
    private let decoder: VideoDecoder?
    private let file: InputFile?
    private(set) var framesRead = 0

    /// Whether `path` holds a y4m stream (stdin, `-`, is taken to be y4m: a pipe cannot be probed and reread).
    static func isY4M(_ path: String) throws -> Bool {
        if path == "-" { return true }
        let f = try InputFile(path)
        var magic = [UInt8](repeating: 0, count: 9)
        let n = try magic.withUnsafeMutableBytes { try f.read(into: $0.baseAddress!, count: 9) }
        return n == 9 && magic == Array("YUV4MPEG2".utf8)
    }

    /// Opens a y4m file or pipe.
    init(y4m path: String) throws {
        let f = try InputFile(path)
        let r = try Y4MReader(fileDescriptor: f.descriptor, name: f.displayName)
        file = f; y4m = r; decoder = nil
        name = f.displayName; width = r.header.width; height = r.header.height; frameRate = r.header.frameRate
    }

    /// Opens any video libavformat reads, decoded to `size`² at `fps`.
    init(decoding path: String, size: Int, fps: FrameRate) throws {
        var o = DecodeOptions()
        o.size = size; o.fps = fps
        let d = try VideoDecoder(path: path, options: o)
        file = nil; y4m = nil; decoder = d
        name = path; width = d.outputWidth; height = d.outputHeight; frameRate = fps
    }

    func next() throws -> RGBFrame? {
        let f = try y4m?.nextFrame() ?? decoder?.nextFrame()
        if f != nil { framesRead += 1 }
        return f
    }

    /// Reads to the end without keeping frames; returns the total count (to report a length mismatch).
    func countRemaining() throws -> Int {
        while try next() != nil {}
        return framesRead
    }
}

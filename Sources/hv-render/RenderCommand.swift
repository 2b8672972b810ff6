// hv-render: .hvt tokens → frames, from all layers or only the coarse ones; y4m to stdout or a file,
// or H.264 mp4; optionally a contact sheet PNG (reconstruction, or reference above reconstruction).
import ArgumentParser
import Foundation
import HVCLI
import HVEngine
import HVFormat
import HVMedia
import HVTokenizer

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv-render",
        abstract: "Decode .hvt tokens back to video with the hierarchical tokenizer.",
        discussion: """
        Layers are numbered from the densest (0) to the most compressed (3). --layers 3 renders the storyboard
        from the coarsest layer alone; each added layer refines it. Masked tokens are filled in with the
        strategy recorded in the file.
        Examples: hv-render a.hvt -o a.mp4    hv-render a.hvt --layers 3,2 | ffplay -
        """)

    @Argument(help: "Input .hvt file, or '-' for stdin.")
    var input: String = "-"

    @Option(name: [.short, .customLong("output")], help: "Output: a .mp4 or .y4m file, or '-' for y4m on stdout.")
    var output: String?

    @OptionGroup var model: TokenizerModelOption

    @Option(help: "Comma-separated layers to decode from (default: every layer in the file).")
    var layers: LayerList?

    @Option(help: "Also write a contact sheet PNG of sampled frames.")
    var contactSheet: String?

    @Option(help: "Reference video (y4m or any file) shown above the reconstruction on the contact sheet.")
    var reference: String?

    @Option(help: "Frames per row on the contact sheet.")
    var sheetFrames: Int = 8

    func parsedLayers(count: Int) throws -> Set<Int>? {
        guard let layers else { return nil }
        guard layers.layers.allSatisfy({ (0..<count).contains($0) }) else {
            throw ValidationError("--layers takes layer numbers 0...\(count - 1) separated by commas (got '\(layers)').")
        }
        return Set(layers.layers)
    }

    func validate() throws {
        if let o = output, o != "-", !(o.hasSuffix(".mp4") || o.hasSuffix(".y4m")) {
            throw ValidationError("-o must name a .mp4 or .y4m file, or be '-'.")
        }
        if let c = contactSheet, !c.hasSuffix(".png") { throw ValidationError("--contact-sheet must name a .png file.") }
        guard sheetFrames > 0 && sheetFrames <= 64 else { throw ValidationError("--sheet-frames must be 1...64.") }
        if reference != nil && contactSheet == nil { throw ValidationError("--reference needs --contact-sheet.") }
    }

    func run() throws {
        if let reference, reference != "-" { _ = try InputFile(reference) }  // fail before any work
        let tokenizer = try TokenizerCheckpoint.load(from: TokenizerCheckpoint.resolve(model.path))
        tokenizer.setInference(encoder: true, decoder: true)
        let inFile = try InputFile(input)
        let reader = try HVTReader(fileDescriptor: inFile.descriptor, name: inFile.displayName)
        let header = reader.header!
        try tokenizer.requireCompatible(header)
        let present = Set(header.presentLayers)
        let use = try parsedLayers(count: header.layers.count) ?? present
        guard use.isSubset(of: present) else {
            throw ValidationError("--layers asks for layer(s) \(use.subtracting(present).sorted()) that the file does not carry.")
        }
        let cfg = tokenizer.config
        let rate = FrameRate(header.fpsNumerator, header.fpsDenominator)
        // Sinks: y4m (stdout or file) or mp4.
        var y4mOut: OutputFile?
        var y4m: Y4MWriter?
        var mp4Path: AtomicPath?
        var mp4: MP4Writer?
        if let o = output, o.hasSuffix(".mp4") {
            mp4Path = AtomicPath(o)
            mp4 = try MP4Writer(path: mp4Path!.temporary, name: mp4Path!.path, width: cfg.frameSize, height: cfg.frameSize, frameRate: rate)
        } else if output != nil || contactSheet == nil {
            let out = try OutputFile(output, what: "y4m video")
            y4mOut = out
            y4m = Y4MWriter(width: cfg.frameSize, height: cfg.frameSize, frameRate: rate) { try out.write($0) }
        }
        let progress = Progress("hv-render")
        var all: [RGBFrame] = []   // kept only for the contact sheet
        var total = 0
        while let clip = try reader.nextClip() {
            let frames = tokenizer.decodeClip(clip, use: use, strategy: header.maskStrategy)
            for f in frames {
                try y4m?.write(f)
                try mp4?.write(f)
            }
            if contactSheet != nil { all += frames }
            total += frames.count
            progress.update("\(reader.clipsRead) clips, \(total) frames")
        }
        try mp4?.finish()
        if let sheet = contactSheet {
            let picks = ContactSheet.sampleIndices(total: all.count, count: sheetFrames)
            var rows: [[RGBFrame]] = []
            if let reference {
                let ref = try openVideoFrames(reference, size: cfg.frameSize, fps: rate, limit: all.count)
                rows.append(picks.map { ref[min($0, ref.count - 1)] })
            }
            rows.append(picks.map { all[$0] })
            let png = AtomicPath(sheet)
            try writeFile(Data(try PNGWriter.encode(ContactSheet.compose(rows: rows))), to: png.temporary, named: sheet)
            try png.commit()
        }
        try mp4Path?.commit()
        try y4mOut?.commit()
        progress.finish("\(total) frames")
    }
}

/// Frames of a reference video: y4m read directly, anything else through hv-decode's decoder.
func openVideoFrames(_ path: String, size: Int, fps: FrameRate, limit: Int) throws -> [RGBFrame] {
    var frames: [RGBFrame] = []
    if path.hasSuffix(".y4m") || path == "-" {
        let f = try InputFile(path)
        let r = try Y4MReader(fileDescriptor: f.descriptor, name: f.displayName)
        while frames.count < limit, let fr = try r.nextFrame() { frames.append(fr) }
    } else {
        var o = DecodeOptions()
        o.fps = fps; o.size = size; o.maxFrames = limit
        let d = try VideoDecoder(path: path, options: o)
        while let fr = try d.nextFrame() { frames.append(fr) }
    }
    guard !frames.isEmpty else { throw MediaError.decodeFailed(name: path, reason: "no frames") }
    return frames
}

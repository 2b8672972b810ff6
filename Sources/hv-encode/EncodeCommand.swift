// hv-encode: y4m frames → .hvt tokens, clip by clip (64 frames; the last partial clip is padded by
// repeating its last frame and its true length recorded). Deterministic: same input, same bytes.
import ArgumentParser
import Foundation
import HVCLI
import HVEngine
import HVFormat
import HVMedia
import HVTokenizer

struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv-encode",
        abstract: "Tokenize y4m video into an .hvt file with the hierarchical tokenizer.",
        discussion: """
        Input must match the model's frame size and rate (256x256 at 8 fps for the shipped model):
        hv-decode clip.mp4 | hv-encode > clip.hvt
        hv-encode --model DIR --print-identity    # name@sha256 that DIR's .hvt headers carry
        With --mask-ratio the dense layer is masked as `hv-mask --ratio R --strategy S --seed N` masks it (that hv-mask
        passes the file through), and --refine then tunes the kept tokens for the masked render:
        hv-decode clip.mp4 | hv-encode --refine 8 --mask-ratio 0.85 > clip.hvt
        """)

    @Argument(help: "Input y4m file, or '-' for stdin.")
    var input: String = "-"

    @Option(name: [.short, .customLong("output")], help: "Write the .hvt here instead of stdout.")
    var output: String?

    @OptionGroup var model: TokenizerModelOption

    @OptionGroup var refinement: RefinementOption

    @Option(help: "Mask layer 0 as hv-mask --ratio R does (R: the largest share of its tokens that may be masked, 0...1); with --refine the kept tokens are refined for the masked render. Off by default.")
    var maskRatio: Double?

    @Option(help: "How hv-render fills masked tokens (with --mask-ratio; repeat when not given).")
    var maskStrategy: MaskStrategy?

    @Option(help: "Seed of the random choice among mask candidates beyond the cap (with --mask-ratio; hv-mask's --seed; 0 when not given).")
    var maskSeed: UInt64?

    @Flag(help: "Print the token identity the model writes into .hvt headers (name@sha256: its tokens_of after a frozen-token fine-tune, else SHA-256 of config.json followed by model.safetensors) and exit without reading video.")
    var printIdentity = false

    func validate() throws {
        if let r = maskRatio, !(0...1).contains(r) { throw ValidationError("--mask-ratio must be between 0 and 1.") }
        if maskRatio == nil && (maskStrategy != nil || maskSeed != nil) {
            throw ValidationError("--mask-strategy and --mask-seed need --mask-ratio.")
        }
    }

    func run() throws {
        let tokenizer = try TokenizerCheckpoint.load(from: TokenizerCheckpoint.resolve(model.path))
        if printIdentity {
            print(tokenizer.tokenIdentity.full)
            return
        }
        let cfg = tokenizer.config
        if refinement.rounds > 0 && !tokenizer.canRefine(height: cfg.frameSize, width: cfg.frameSize) {
            throw ValidationError("--refine needs a model that encodes frames at their own size; this one resizes them to \(cfg.encoderSize!)².")
        }
        let search = refinement.rounds > 0 ? CodeRefinement(rounds: refinement.rounds, colourWeight: refinement.colourWeight) : nil
        // Only forwards, but for the refinement's backwards through the decoder.
        tokenizer.setInference(encoder: true, decoder: search == nil)
        let inFile = try InputFile(input)
        let reader = try Y4MReader(fileDescriptor: inFile.descriptor, name: inFile.displayName)
        let h = reader.header
        guard h.width == cfg.frameSize, h.height == cfg.frameSize else {
            throw TokenizerError.inputMismatch("\(inFile.displayName) is \(h.width)x\(h.height); the model needs \(cfg.frameSize)x\(cfg.frameSize) (hint: hv-decode --size \(cfg.frameSize) --fps \(cfg.fps))")
        }
        guard h.frameRate.numerator == cfg.fps * h.frameRate.denominator else {
            throw TokenizerError.inputMismatch("\(inFile.displayName) runs at \(h.frameRate) fps; the model needs \(cfg.fps) (hint: hv-decode --size \(cfg.frameSize) --fps \(cfg.fps))")
        }
        let out = try OutputFile(output, what: ".hvt tokens")
        let masking = maskRatio.map { EncodeMasking(ratio: $0, strategy: maskStrategy ?? .repeatPrevious, seed: maskSeed ?? 0) }
        var header = tokenizer.hvtHeader(source: inFile.displayName)
        masking?.record(in: &header)
        let writer = try HVTWriter(header: header) { try out.write($0) }
        try writer.writeHeader()
        let progress = Progress("hv-encode")
        let scratch = Tensor(shape: [0])
        var frames: [RGBFrame] = []
        var total = 0
        func flush() throws {
            guard !frames.isEmpty else { return }
            try writer.write(tokenizer.encodeClip(frames, scratch: scratch, refinement: search, masking: masking))
            total += frames.count
            frames.removeAll(keepingCapacity: true)
            progress.update("\(writer.clipCount) clips, \(total) frames, \(String(format: "%.1f", Double(total) / max(progress.elapsed, 1e-3))) frames/s")
        }
        while let f = try reader.nextFrame() {
            frames.append(f)
            if frames.count == cfg.framesPerClip { try flush() }
        }
        try flush()
        guard total > 0 else { throw TokenizerError.inputMismatch("\(inFile.displayName) has no frames") }
        try writer.finish()
        try out.commit()
        progress.finish("\(writer.clipCount) clips, \(total) frames")
    }
}

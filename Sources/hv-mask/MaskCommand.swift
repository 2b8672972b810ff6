// hv-mask: masks redundant dense tokens of an .hvt stream (paper "Dynamic video encoding").
// Idempotent: an input already masked with the same strategy, ratio, layers and seed (the header records them)
// passes through unchanged; an input masked differently is refused (unmask by re-encoding).
import ArgumentParser
import Foundation
import HVCLI
import HVFormat

struct MaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv-mask",
        abstract: "Mask redundant tokens of the dense layer so fewer are stored and generated.",
        discussion: """
        A token is a candidate when the Hamming distance between its code and the code at the same place in the
        previous latent frame is below the clip's mean (or zero). The first latent frame is never masked and at
        most --ratio of a layer's tokens are masked (a seeded random subset when there are more candidates).
        Under repeat, a candidate also stays unmasked when the code the render would repeat there (the last kept
        one, older than the previous frame's after a run of masked tokens) is as far from it as the mean.
        hv-render fills masked tokens in with the recorded --strategy. The header records strategy, ratio,
        layers and seed: the same request again passes the file through unchanged, another is refused (exit 65)
        before anything is written. Clips are streamed one at a time (at most 2^24 tokens a clip, formats/hvt.md).
        Example: hv-decode a.mp4 | hv-encode | hv-mask --ratio 0.85 > a.hvt
        """)

    @Argument(help: "Input .hvt, or '-' for stdin.")
    var input: String = "-"

    @Option(name: [.short, .customLong("output")], help: "Write the masked .hvt here instead of stdout.")
    var output: String?

    @Option(help: "Largest fraction of a layer's tokens that may be masked (0...1).")
    var ratio: Double = 0.85

    @Option(help: "How the decoder fills masked tokens.")
    var strategy: MaskStrategy = .repeatPrevious

    @Option(help: "Comma-separated layers to mask (0 is the densest).")
    var layers = LayerList([0])

    @Option(help: "Seed of the random choice among candidates beyond the cap.")
    var seed: UInt64 = 0


    func parsedLayers() throws -> [Int] { layers.layers }

    func validate() throws {
        guard (0...1).contains(ratio) else { throw ValidationError("--ratio must be between 0 and 1.") }
        _ = try parsedLayers()
    }

    func run() throws {
        let inFile = try InputFile(input)
        let reader = try HVTReader(fileDescriptor: inFile.descriptor, name: inFile.displayName)
        var header = reader.header!
        let targets = try parsedLayers()
        for m in targets where m >= header.layers.count || !header.layers[m].present {
            throw ValidationError("layer \(m) is not in the file (it has \(header.layers.count) layers; present: \(header.presentLayers)).")
        }
        let strat = strategy
        let request = MaskRecord(layers: targets, seed: seed)
        // Everything is decided before the first byte is written: a refusal leaves no partial stream on stdout.
        var first = try reader.nextClip()
        let passThrough = header.maskStrategy != .none
        if passThrough {
            guard header.maskStrategy == strat, abs(Double(header.maskRatio) - ratio) < 1e-6 else {
                throw HVTError.alreadyMasked(detail: "the input is already masked (strategy \(header.maskStrategy), ratio \(header.maskRatio)); masking again with \(strategy)/\(ratio) would lose tokens — re-encode instead")
            }
            if let done = header.maskRecord {
                guard done.layers == request.layers else {
                    throw HVTError.alreadyMasked(detail: "the input is masked on layer(s) \(list(done.layers)), not \(list(request.layers)); masking again would lose tokens — re-encode instead")
                }
                guard done.seed == request.seed else {
                    throw HVTError.alreadyMasked(detail: "the input is masked with --seed \(done.seed), not \(seed); masking again would lose tokens — re-encode instead")
                }
            } else if let clip = first {
                try requireMasked(clip, on: request.layers)
            }
        } else {
            header.maskStrategy = strat
            header.maskRatio = Float(ratio)
            header.maskRecord = request
        }
        let out = try OutputFile(output, what: ".hvt tokens")
        let writer = try HVTWriter(header: header) { try out.write($0) }
        try writer.writeHeader()
        var rng = MaskRandom(seed: seed)
        while var clip = try first ?? reader.nextClip() {
            first = nil
            if passThrough {
                // A file masked by a 1.0 writer records neither layers nor seed: its clips' mask sections show the
                // layers (the seed cannot be checked: the masked tokens are gone, so the choice cannot be redone).
                if header.maskRecord == nil { try requireMasked(clip, on: request.layers) }
            } else {
                for m in targets {
                    let info = header.layers[m]
                    clip.setMask(TokenMasking.mask(clip.layers[m]!, gridT: info.gridT, plane: info.gridH * info.gridW,
                                                   ratio: ratio, strategy: strat, rng: &rng), layer: m)
                }
            }
            try writer.write(clip)
        }
        try writer.finish()
        try out.commit()
    }

    /// Throws unless `clip` is masked on exactly `layers`.
    func requireMasked(_ clip: HVTClip, on layers: [Int]) throws {
        let masked = clip.masks.indices.filter { clip.masks[$0] != nil }
        guard masked == layers else {
            throw HVTError.alreadyMasked(detail: "the input is masked on layer(s) \(list(masked)), not \(list(layers)); masking again would lose tokens — re-encode instead")
        }
    }

    func list(_ layers: [Int]) -> String { layers.map(String.init).joined(separator: ",") }
}

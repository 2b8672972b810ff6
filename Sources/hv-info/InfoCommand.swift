// hv-info: prints an .hvt file's header and per-clip, per-layer statistics (tokens, masked fraction,
// distinct codes, raw and stored bits, compressed bytes, bits per pixel), as a table or JSON.
import ArgumentParser
import Foundation
import HVCLI
import HVFormat

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv-info",
        abstract: "Describe an .hvt token file.",
        discussion: """
        Reads FILE (or stdin for '-'), checks every checksum, and prints the header and a table of clips and layers.
        Clips are read one at a time: memory stays bounded by the format's limits (at most 2^24 tokens a clip,
        formats/hvt.md), however long the file.
        """)

    @Argument(help: "The .hvt file, or '-' for stdin.")
    var file: String = "-"

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let input = try InputFile(file)
        let reader = try HVTReader(fileDescriptor: input.descriptor, name: input.displayName)
        let h = reader.header!
        var clips: [HVTClipStatistics] = []
        while let clip = try reader.nextClip() {
            clips.append(HVTStatistics.of(clip, index: clips.count, header: h, sectionBytes: reader.lastSectionBytes,
                                          recordBytes: reader.lastRecordBytes))
        }
        let version = "\(HVTLayout.versionMajor).\(reader.versionMinor)"
        if json { try printJSON(h, clips, bytes: reader.offset, version: version) } else { printTable(h, clips, bytes: reader.offset, version: version) }
    }

    func printTable(_ h: HVTHeader, _ clips: [HVTClipStatistics], bytes: Int, version: String) {
        print("file:          \(file == "-" ? "stdin" : file) (\(bytes) bytes, .hvt \(version))")
        print("tokenizer:     \(h.tokenizer.name) \(h.tokenizer.hash)")
        print("video:         \(h.width)x\(h.height) @ \(h.fpsNumerator)/\(h.fpsDenominator) fps, \(h.framesPerClip) frames per clip")
        let record = h.maskRecord.map { ", layers \($0.layers.map(String.init).joined(separator: ",")), seed \($0.seed)" }
            ?? ", layers and seed not recorded"
        print("masking:       \(h.maskStrategy)\(h.maskStrategy == .none ? "" : String(format: " (ratio cap %.2f", h.maskRatio) + record + ")")")
        if !h.source.isEmpty { print("source:        \(h.source)") }
        print("layers:")
        for l in h.layers {
            print("  \(l.name.padding(toLength: 4, withPad: " ", startingAt: 0)) \(l.gridT)x\(l.gridH)x\(l.gridW) = \(l.tokenCount) tokens, \(l.bits) bits\(l.present ? "" : " (not present)")")
        }
        let cols = ["clip", "frames", "layer", "tokens", "masked", "distinct", "raw bits", "stored bits", "zstd bytes", "bpp"]
        var rows: [[String]] = []
        var totalFrames = 0, totalStored = 0
        for c in clips {
            totalFrames += c.frames
            for l in c.layers {
                totalStored += l.storedBits
                rows.append(["\(c.clip)", "\(c.frames)", l.layer, "\(l.tokens)", String(format: "%.1f%%", 100 * l.maskedFraction),
                             "\(l.distinctCodes)", "\(l.rawBits)", "\(l.storedBits)", "\(l.compressedBytes)",
                             String(format: "%.5f", l.storedBitsPerPixel)])
            }
        }
        print("")
        printAligned(cols, rows)
        let pixels = Double(totalFrames * h.width * h.height)
        if pixels > 0 {
            print(String(format: "\n%d clips, %d frames: stored %.5f bpp, file %.5f bpp", clips.count, totalFrames,
                         Double(totalStored) / pixels, Double(bytes * 8) / pixels))
        } else {
            print("\n0 clips")
        }
    }

    func printJSON(_ h: HVTHeader, _ clips: [HVTClipStatistics], bytes: Int, version: String) throws {
        struct Layer: Codable { var name: String; var grid: [Int]; var bits: Int; var present: Bool }
        struct Report: Codable {
            var bytes: Int; var tokenizerName: String; var tokenizerHash: String; var width: Int; var height: Int
            var version: String
            var fps: [Int]; var framesPerClip: Int; var maskStrategy: String; var maskRatio: Float; var source: String
            /// nil (absent) when unmasked or not recorded (a file masked by a 1.0 writer).
            var maskedLayers: [Int]?; var maskSeed: UInt64?
            var layers: [Layer]; var clips: [HVTClipStatistics]
        }
        let r = Report(bytes: bytes, tokenizerName: h.tokenizer.name, tokenizerHash: h.tokenizer.hash, width: h.width, height: h.height,
                       version: version,
                       fps: [h.fpsNumerator, h.fpsDenominator], framesPerClip: h.framesPerClip, maskStrategy: "\(h.maskStrategy)",
                       maskRatio: h.maskRatio, source: h.source, maskedLayers: h.maskRecord?.layers, maskSeed: h.maskRecord?.seed,
                       layers: h.layers.map { Layer(name: $0.name, grid: [$0.gridT, $0.gridH, $0.gridW], bits: $0.bits, present: $0.present) },
                       clips: clips)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try enc.encode(r), as: UTF8.self))
    }
}

/// Prints a table with right-aligned columns.
func printAligned(_ header: [String], _ rows: [[String]]) {
    var widths = header.map { $0.count }
    for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { String(repeating: " ", count: widths[$0.offset] - $0.element.count) + $0.element }.joined(separator: "  ")
    }
    print(line(header))
    for r in rows { print(line(r)) }
}

// hv-manifest export: the training list, one JSON object per clip (clip id, video key, split, times,
// token file, caption, and a reference to the caption's stored embedding).
import ArgumentParser
import Foundation
import HVCLI
import HVManifest

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write a training list as JSON Lines: one clip per line with its token file and caption.")

    @OptionGroup var db: DatabaseArgument

    @Option(help: "Export clips of this split: train, val or all.")
    var split: SplitSelection = .train

    @Flag(help: "Include clips that have no token file yet.")
    var allClips = false

    @Option(help: "Refer to embeddings of this encoder id (default: any stored).")
    var encoder: String?

    @Option(help: "Use token files of this tokenizer hash (default: the newest).")
    var tokenizerHash: String?

    @Option(name: .shortAndLong, help: "Write to this file instead of stdout.")
    var output: String?

    func run() throws {
        let items = try db.openReadOnly().trainingList(split: split.split, onlyDone: !allClips,
                                               encoder: encoder, tokenizerHash: tokenizerHash)
        let out = try OutputFile(output, allowTerminal: true)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var text = Data()
        for item in items { text.append(try enc.encode(item)); text.append(0x0A) }
        try out.write(text)
        try out.commit()
    }
}

// hv-manifest status: an aligned summary table (or JSON) of videos, clips by split and state, captions,
// embeddings, token files, shards and, when videos have sources, videos and clips per source.
import ArgumentParser
import Foundation
import HVManifest

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Print a summary of the manifest.")

    @OptionGroup var db: DatabaseArgument

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let s = try db.openReadOnly().summary()
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            enc.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try enc.encode(s), as: UTF8.self))
            return
        }
        print(StatusCommand.table(s, name: db.database), terminator: "")
    }

    static func table(_ s: ManifestSummary, name: String) -> String {
        func pad(_ x: String, _ w: Int, right: Bool = false) -> String {
            let n = max(0, w - x.count)
            return right ? String(repeating: " ", count: n) + x : x + String(repeating: " ", count: n)
        }
        var out = ""
        func line(_ label: String, _ value: String) { out += pad(label, 14) + value + "\n" }
        line("manifest", "\(name) (schema \(s.schemaVersion))")
        line("videos", "\(s.videos) (\(String(format: "%.1f", s.videoSeconds)) s)")
        line("clips", "\(s.clips)")
        let states = ManifestSummary.states
        out += pad("", 14) + pad("split", 12) + states.map { pad($0, 9, right: true) }.joined() + pad("total", 9, right: true) + "\n"
        for split in ManifestSummary.splits {
            let row = s.clipsBySplit[split] ?? [:]
            let total = row.values.reduce(0, +)
            if total == 0 && split == "unassigned" { continue }
            out += pad("", 14) + pad(split, 12) + states.map { pad("\(row[$0] ?? 0)", 9, right: true) }.joined()
                + pad("\(total)", 9, right: true) + "\n"
        }
        line("captions", "\(s.captions)")
        if s.embeddings.isEmpty { line("embeddings", "0") }
        for (encoder, n) in s.embeddings.sorted(by: { $0.key < $1.key }) { line("embeddings", "\(n) (\(encoder))") }
        line("token files", "\(s.tokenFiles) (\(s.tokenBytes) bytes)")
        line("shards", "\(s.shards)")
        if !s.sources.isEmpty {
            let width = max(12, (s.sources.map(\.name.count).max() ?? 0) + 2)
            out += pad("sources", 14) + pad("name", width) + pad("kind", 9) + pad("videos", 8, right: true) + pad("clips", 9, right: true)
                + "  licence\n"
            for src in s.sources {
                out += pad("", 14) + pad(src.name, width) + pad(src.kind ?? "-", 9) + pad("\(src.videos)", 8, right: true)
                    + pad("\(src.clips)", 9, right: true) + "  " + (src.licence ?? "-") + "\n"
            }
        }
        return out
    }
}

// hv-manifest list: one tab-separated line per clip (id, video path, start s, duration s) for pipelines,
// e.g. `hv-manifest list data.db --pending --shards 0-9/100 | while IFS=$'\t' read id path start dur; do ...`.
// With --sources, one line per source instead: name, kind, package, licence, videos, clips.
import ArgumentParser
import Foundation
import HVCLI
import HVManifest

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Print one line per clip: id, path, start seconds, duration seconds (tab separated).")

    @OptionGroup var db: DatabaseArgument
    @OptionGroup var shardOptions: ShardOptions

    @Flag(help: "List pending clips (the default when no state is given).")
    var pending = false
    @Flag(help: "List running clips.")
    var running = false
    @Flag(help: "List done clips.")
    var done = false
    @Flag(help: "List failed clips.")
    var failed = false

    @Option(help: "List only clips of this split (train or val).")
    var split: ClipSplit?

    @Option(help: "List only clips of the videos of this source.")
    var source: String?

    @Flag(help: "Print one line per source instead (name, kind, package, licence, videos, clips; tab separated).")
    var sources = false


    func run() throws {
        let manifest = try db.openReadOnly()
        let stdout = try OutputFile(nil, allowTerminal: true)
        if sources {
            var out = ""
            for s in try manifest.summary().sources {
                out += [s.name, s.kind ?? "", s.package ?? "", s.licence ?? "", "\(s.videos)", "\(s.clips)"].joined(separator: "\t") + "\n"
            }
            try stdout.write(Data(out.utf8))
            return
        }
        if let source, try manifest.sourceID(name: source) == nil { throw ManifestError.unknownSource(name: source) }
        var states: [String] = []
        if pending { states.append("pending") }
        if running { states.append("running") }
        if done { states.append("done") }
        if failed { states.append("failed") }
        if states.isEmpty { states = ["pending"] }
        let clips = try manifest.clips(states: states, shards: try shardOptions.selector(), split: split?.rawValue, source: source)
        var out = ""
        for c in clips { out += c.line + "\n" }
        try stdout.write(Data(out.utf8))
    }
}

// hv-manifest: the dataset manifest (an SQLite file) for pretokenization and training — add videos and
// captions, split, embed captions, and let pipeline workers list, claim and record clips. Schema and
// example sqlite3 queries: formats/manifest.md.
import ArgumentParser
import Foundation
import HVCLI
import HVManifest

struct ManifestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv-manifest",
        abstract: "Manage a dataset manifest: videos, clips, captions, embeddings and pretokenization status.",
        discussion: """
            A manifest is one SQLite file that many workers may update at once. Typical use:
              hv-manifest init data.db
              hv-manifest add data.db --metadata videos.csv
              hv-manifest split data.db --val-fraction 0.1 --seed 0
              hv-manifest embed data.db --model models/text-encoder
              hv-manifest list data.db --pending --shards 0-9/100
              hv-manifest pack data.db --out tokens/shards
              hv-manifest search data.db "a dog on a beach" -k 5
              hv-manifest status data.db
            """,
        subcommands: [InitCommand.self, AddCommand.self, SplitCommand.self, EmbedCommand.self, StatusCommand.self,
                      ListCommand.self, ClaimCommand.self, DoneCommand.self, FailCommand.self, ResetCommand.self, MergeCommand.self, PackCommand.self,
                      SearchCommand.self, ExportCommand.self])
}

/// The manifest path every subcommand takes first.
struct DatabaseArgument: ParsableArguments {
    @Argument(help: "The manifest database file.")
    var database: String

    func open() throws -> Manifest { try Manifest(path: database) }
    /// For subcommands that only read: the file is left byte for byte as it was.
    func openReadOnly() throws -> Manifest { try Manifest(path: database, readOnly: true) }
}

/// Work-shard selection shared by list and claim.
struct ShardOptions: ParsableArguments {
    @Option(name: .customLong("shard"), help: "Take only work shard K of N (K/N, e.g. 3/8).")
    var shard: String?

    @Option(name: .customLong("shards"), help: "Take only work shards A to B of N (A-B/N; N defaults to 100).")
    var shards: String?

    func selector() throws -> ShardSelector? {
        if shard != nil && shards != nil { throw ValidationError("Give --shard or --shards, not both.") }
        if let shard {
            guard shard.contains("/") else { throw ManifestError.badShardSpec(spec: shard) }
            return try ShardSelector(parsing: shard)
        }
        if let shards { return try ShardSelector(parsing: shards) }
        return nil
    }

    func validate() throws {
        // Errors thrown while parsing must be ValidationErrors to get the usage exit code (64).
        do { _ = try selector() } catch let e as ManifestError { throw ValidationError(e.description) }
    }
}

/// The worker name recorded with claims and results: given, or host:parent-pid (the calling shell).
func defaultWorker(_ given: String?) -> String {
    if let given { return given }
    var name = [CChar](repeating: 0, count: 256)
    gethostname(&name, 255)
    return "\(String(cString: name)):\(getppid())"
}


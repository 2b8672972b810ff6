// hv-manifest shard: record a packed shard (a .hvts file of done clips' token files) and link its clips' token
// files to it, in one transaction — what `make pack-shards` calls after renaming a shard into place.
import ArgumentParser
import Foundation
import HVManifest

struct ShardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shard",
        abstract: "Record a packed shard file and the clips it holds.",
        discussion: "Recording the same path again replaces the row (a re-pack). Every listed clip must have a token file of the given tokenizer.")

    @OptionGroup var db: DatabaseArgument

    @Argument(help: "The shard file (.hvts), as it will be read (an absolute path is best).")
    var path: String

    @Option(name: .customLong("tokenizer-hash"), help: "SHA-256 of the tokenizer whose token files the shard holds.")
    var tokenizerHash: String

    @Option(help: "The split the shard's clips belong to (train or val; omit for clips without one).")
    var split: String?

    @Option(help: "Size of the shard file in bytes.")
    var bytes: Int64

    @Option(help: "The clip ids in the shard, comma-separated, in shard order.")
    var clips: String

    func validate() throws {
        _ = try parseSplit(split)
        guard bytes >= 0 else { throw ValidationError("--bytes must not be negative.") }
        guard tokenizerHash.count == 64, tokenizerHash.allSatisfy({ $0.isHexDigit }) else {
            throw ValidationError("--tokenizer-hash must be 64 hex digits.")
        }
        guard clipIDs != nil else { throw ValidationError("--clips takes clip ids separated by commas (got '\(clips)').") }
    }

    var clipIDs: [Int64]? {
        let ids = clips.split(separator: ",").map { Int64($0.trimmingCharacters(in: .whitespaces)) }
        return ids.isEmpty || ids.contains(nil) ? nil : ids.compactMap { $0 }
    }

    func run() throws {
        try db.open().recordShard(path: path, tokenizerHash: tokenizerHash, split: split, bytes: bytes, clipIDs: clipIDs!)
    }
}

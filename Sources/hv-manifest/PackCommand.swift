// hv-manifest pack: pack done clips into WebDataset token shards (formats/shards.md) and record them in the
// manifest — what `make pretokenize` runs after tokenizing. The packing itself is HVManifest's packShards.
import ArgumentParser
import Foundation
import HVCLI
import HVManifest
import HVText

struct PackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Pack done clips that are in no shard yet into WebDataset tar shards.",
        discussion: """
            Writes DIR/SPLIT/shard-NNNNNN.tar (SPLIT: train, val, or none for clips without a split), each under a
            temporary name renamed when complete, records each in the manifest, and rewrites DIR/SPLIT/index.json
            (shards and clip counts). A clip is packed once: running it again packs only clips done since. Prints the
            shards written, one path a line. Layout: formats/shards.md.
            """)

    @OptionGroup var db: DatabaseArgument

    @Option(name: .customLong("out"), help: "The shard folder (one per tokenizer).")
    var directory: String

    @Option(name: .customLong("tokenizer-hash"), help: "Pack token files of this tokenizer (64 hex digits; default: the only one with unpacked files).")
    var tokenizerHash: String?

    @OptionGroup var selection: ShardOptions

    @Option(help: "Clips per shard at most.")
    var clipsPerShard: Int = 1000

    @Option(help: "Encoder id of the caption embeddings to include as KEY.txtemb.npy.")
    var encoderID: String = MiniLMEncoder.encoderID

    func validate() throws {
        guard clipsPerShard > 0 else { throw ValidationError("--clips-per-shard must be positive.") }
        if let tokenizerHash {
            guard tokenizerHash.count == 64, tokenizerHash.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                throw ValidationError("--tokenizer-hash must be 64 lowercase hex digits.")
            }
        }
    }

    func run() throws {
        let manifest = try db.open()
        let options = PackOptions(directory: directory, tokenizerHash: tokenizerHash, shards: try selection.selector(),
                                  clipsPerShard: clipsPerShard, encoder: encoderID)
        let r = try manifest.packShards(options) { shard in
            print(shard.path)
            Console.note("pack: \(shard.path): \(shard.clips) clips, \(shard.bytes) bytes")
        }
        for p in r.dropped { Console.note("pack: dropped \(p): some of its clips were tokenized again since; the others are packed again") }
        if r.written.isEmpty { Console.note("pack: nothing to pack") }
    }
}

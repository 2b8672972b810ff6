// hv-manifest merge: the one writer of the main manifest on a cluster. Each machine or Slurm task records its
// clips in its own copy (never in the shared file); this folds every copy's done and failed clips into the main
// manifest and prints, with --shards N, the work shards that still hold unfinished clips as an --array list.
import ArgumentParser
import Foundation
import HVCLI
import HVManifest

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge the done and failed clips of other copies of the manifest into this one.",
        discussion: """
            Clips are matched by video key and clip index. A clip done in a copy becomes done here with the copy's
            token file; a failure is taken only by a clip not already done or failed here. Idempotent: merging a
            copy again changes nothing. With --shards N, prints the shards of N that still hold pending, running
            or failed clips, as a Slurm --array list (empty line when all are done).
            """)

    @OptionGroup var db: DatabaseArgument

    @Argument(help: "Manifest copies to merge (opened read-only).")
    var copies: [String]

    @Option(help: "Print the work shards of N that still hold unfinished clips (the --array list to resubmit).")
    var shards: Int?

    func validate() throws {
        guard !copies.isEmpty else { throw ValidationError("Give at least one manifest copy to merge.") }
        if let shards { guard shards > 0 else { throw ValidationError("--shards must be positive.") } }
    }

    func run() throws {
        let main = try db.open()
        for copy in copies {
            guard FileManager.default.fileExists(atPath: copy) else { throw ManifestError.databaseMissing(path: copy) }
            let r = try main.merge(from: copy)
            Console.note("hv-manifest: merged \(copy): \(r.done) done, \(r.failed) failed, \(r.unchanged) already there")
        }
        if let shards { print(arrayList(try main.shardsHolding(count: shards))) }
    }
}

// hv-manifest split: assign clips to train/val by a hash of their video's key, so whole videos stay in
// one split and re-running with the same seed and fraction gives the same split.
import ArgumentParser
import Foundation
import HVManifest

struct SplitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split", abstract: "Assign every clip to train or val, deterministically, whole videos at a time.")

    @OptionGroup var db: DatabaseArgument

    @Option(help: "Fraction of videos that go to the validation split (0 to 1).")
    var valFraction: Double = 0.1

    @Option(help: "Seed of the split hash; the same seed gives the same split.")
    var seed: UInt64 = 0

    func validate() throws {
        guard valFraction >= 0 && valFraction <= 1 else { throw ValidationError("--val-fraction must lie between 0 and 1.") }
    }

    func run() throws {
        let r = try db.open().assignSplits(valFraction: valFraction, seed: seed)
        FileHandle.standardError.write(Data("split: \(r.trainVideos) videos train, \(r.valVideos) videos val\n".utf8))
    }
}

// `hv-train export`: copies a training run's tokenizer weights into a release checkpoint folder
// (config.json + model.safetensors, optionally BF16), without optimizer state; with --average-last K, the
// weights are the mean of the run's last K snapshots.
import ArgumentParser
import Foundation
import HVCLI
import HVEngine
import HVTokenizer

struct ExportTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a training run's tokenizer as a release checkpoint (config.json + model.safetensors).")

    @Option(help: "Training output folder (hv-train tokenizer --out).")
    var from: String

    @Option(help: "Release checkpoint folder to write.")
    var to: String

    @Option(help: "Export the mean of the run's last K snapshots (hv-train tokenizer --snapshot-every) instead of its latest weights.")
    var averageLast: Int?

    @Option(help: "How weights are stored.")
    var storage: WeightStorage = .bf16

    func validate() throws {
        if let k = averageLast, k < 1 { throw ValidationError("--average-last must be at least 1.") }
    }

    func run() throws {
        var meta = ["exported_from": from]
        let model: HierarchicalTokenizer
        if let k = averageLast {
            let (averaged, used) = try TokenizerCheckpoint.averagingSnapshots(run: from, last: k)
            model = averaged
            meta["averaged_snapshots"] = used.map { ($0 as NSString).lastPathComponent }.joined(separator: ",")
            Console.note("hv-train export: mean of \(k) snapshots, \(meta["averaged_snapshots"]!)")
        } else {
            model = try TokenizerCheckpoint.load(from: from)
            // The step travels with the weights, so that `hv-train tokenizer --resume` can continue a committed export.
            if let step = try SafeTensors.load(path: "\(from)/\(TokenizerCheckpoint.weightsFile)").metadata["step"] { meta["step"] = step }
        }
        let id = try TokenizerCheckpoint.save(model, to: to, storage: storage.dtype, metadata: meta)
        print("\(to): \(id.name) \(id.hash)")
    }
}

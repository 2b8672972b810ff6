// `hv-train export`: copies a training run's tokenizer weights into a release checkpoint folder
// (config.json + model.safetensors, optionally BF16), without optimizer state.
import ArgumentParser
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

    @Option(help: "Weight storage: f32 or bf16.")
    var storage: String = "bf16"

    func validate() throws {
        guard storage == "f32" || storage == "bf16" else { throw ValidationError("--storage must be f32 or bf16.") }
    }

    func run() throws {
        let model = try TokenizerCheckpoint.load(from: from)
        let id = try TokenizerCheckpoint.save(model, to: to, storage: storage == "bf16" ? .bf16 : .f32,
                                              metadata: ["exported_from": from])
        print("\(to): \(id.name) \(id.hash)")
    }
}

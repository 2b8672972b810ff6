// hv-train: trains the models of the toolkit. `hv-train tokenizer` trains the hierarchical video
// tokenizer; `hv-train lm` trains the autoregressive text-to-video model on pretokenized shards.
import ArgumentParser

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv-train",
        abstract: "Train the tokenizer or the text-to-video model.",
        subcommands: [TrainTokenizer.self, ExportTokenizer.self, DiagnoseTokenizer.self, TrainLM.self, LMRank.self, LMBits.self])
}
